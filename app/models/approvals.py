"""The approval inbox's read models: approvals waiting for a person, and one with its context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.engine.model import RunStatus

__all__ = ["ApprovalContext", "ApprovalItem", "ApprovalPage", "Decision"]

Decision = Literal["approve", "approve_edited", "reject"]


@dataclass(frozen=True)
class ApprovalItem:
    """One approval waiting for a person, as the inbox lists it."""

    id: str
    run_id: str
    workflow_id: str
    workflow_name: str
    workflow_version: int
    node_key: str
    node_title: str
    """The step's name in the version the run executes, or its key when it has none."""
    waiting_since: datetime
    proposal: Any
    deadline_at: datetime | None
    on_deadline: str
    """What happens when the deadline passes: "wait", "approve" or "reject"."""
    details: dict[str, Any] | None = None
    """What an agent step's approval is about: {"tool_call": {...}} or {"budget": {...}}; None for a proposal."""


@dataclass(frozen=True)
class ApprovalPage:
    items: list[ApprovalItem]
    next_cursor: str | None


@dataclass(frozen=True)
class ApprovalContext:
    """Everything an approver needs to decide one approval, and how it was decided (once it was)."""

    id: str
    status: str
    """PENDING, APPROVED, REJECTED or CANCELLED."""
    run_id: str
    run_status: RunStatus
    workflow_id: str
    workflow_name: str
    workflow_version: int
    node_key: str
    node_title: str
    instructions: str
    """What the approver should check (the approval step's `instructions`), "" when none were given."""
    proposal: Any
    output: Any
    """The approved output (the proposal, or the edited value); None until approved."""
    run_input: Any
    upstream: dict[str, Any]
    """Outputs of the steps the approval step depends on (directly or not), by key, in step order."""
    waiting_since: datetime
    deadline_at: datetime | None
    on_deadline: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    details: dict[str, Any] | None = None
    """What an agent step's approval is about: {"tool_call": {"tool", "description", "parameters" (its JSON
    schema), "conversation", …}} (the proposal is the call's arguments) or {"budget": {"used", "budget", "more"}};
    None for a step's proposal."""
