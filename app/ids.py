"""Identifier factories: every id Flowyard makes comes from here. Tests may replace them for predictable ids."""

from __future__ import annotations

import secrets

__all__ = ["new_approval_id", "new_id", "new_run_id", "new_session_id", "new_workflow_id"]


def new_id(prefix: str) -> str:
    """A random id with a readable prefix, e.g. ``wf-1f3a9c0b52de4a17``."""
    return f"{prefix}-{secrets.token_hex(8)}"


def new_workflow_id() -> str:
    return new_id("wf")


def new_run_id() -> str:
    return new_id("wr")


def new_approval_id() -> str:
    return new_id("ap")


def new_session_id() -> str:
    """A run's session when its caller gives none: ``session-`` and twelve hex digits."""
    return f"session-{secrets.token_hex(6)}"
