"""The agent kinds Flowyard knows. Adding a kind is one module and one line here."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.agents.approval import Approval
from app.agents.base import AgentKind
from app.agents.branch import Branch
from app.agents.delay import Delay
from app.agents.http import Http
from app.agents.transform import Transform

__all__ = ["KINDS", "build", "config_errors", "get_kind"]

KINDS: dict[str, type[AgentKind]] = {
    kind.kind: kind
    for kind in (
        Transform,
        Http,
        Branch,
        Approval,
        Delay,
    )
}


def get_kind(name: str) -> type[AgentKind] | None:
    return KINDS.get(name)


def build(kind: str, config: dict[str, Any]) -> AgentKind:
    """An agent of `kind` configured with `config`; raises KeyError or pydantic's ValidationError."""
    return KINDS[kind].model_validate(config)


def config_errors(kind: str, config: dict[str, Any]) -> list[str]:
    """What is wrong with `config` for `kind`, one line per field; empty when it is valid."""
    cls = KINDS.get(kind)
    if cls is None:
        return [f"unknown agent kind '{kind}'"]
    try:
        cls.model_validate(config)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()]
    return []
