"""Runs, their steps' runs and approvals, and the read models of the run history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, FieldSerializationInfo, field_serializer, model_validator
from pydantic.alias_generators import to_camel
from sqlmodel import Field, SQLModel

from app import clock
from app.engine.model import RunStatus, Trigger
from app.models.base import CallbackUrl, Input, Public

__all__ = [
    "ActiveCounts",
    "Activity",
    "AgentStepPublic",
    "ApprovalBase",
    "ApprovalPublic",
    "NodeRunBase",
    "NodeRunPublic",
    "PruneResult",
    "RejectRequest",
    "ResumeAccepted",
    "ResumeRequest",
    "RunAccepted",
    "RunBase",
    "RunDetail",
    "RunPage",
    "RunPublic",
    "RunQuery",
    "RunRequest",
    "RunSummary",
    "TokenUsage",
    "duration_ms",
]


def duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() * 1000))


class RunBase(SQLModel):
    workflow_id: str = Field(max_length=40)
    workflow_version: int
    session_id: str | None = Field(default=None, max_length=200)
    trigger: str = Field(default="api", max_length=16)
    started_by: str | None = Field(
        default=None, max_length=254, description="Who started the run: a user's email, 'admin token', or none."
    )
    status: str = Field(max_length=16)
    current_step_order: int | None = None
    total_tokens: int = Field(
        default=0, sa_column_kwargs={"server_default": "0"}, description="Tokens the run's llm steps used, summed."
    )


class RunPublic(RunBase, Public):
    id: str
    run_id: str
    duration_ms: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any, **extra: Any) -> Self:
        """The public shape of a stored run (`storage.models.RunRow`); a run still going lasts until now."""
        ended = row.status in ("COMPLETED", "FAILED", "CANCELLED", "PAUSED")
        end = row.finished_at or (row.updated_at if ended else clock.now())
        return cls.model_validate(
            {
                **{name: getattr(row, name) for name in RunBase.model_fields},
                "id": row.id,
                "run_id": row.id,
                "duration_ms": duration_ms(row.created_at, end) or 0,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                **extra,
            }
        )


class NodeRunBase(SQLModel):
    status: str = Field(max_length=20)
    attempt: int = 0
    step_order: int | None = None
    input: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    output: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    error: str | None = None
    usage: Any = Field(
        default=None,
        sa_type=sa.JSON,
        nullable=True,
        description="Token usage of an llm step: prompt_tokens, completion_tokens, total_tokens, estimated.",
    )


class AgentStepPublic(Public):
    """One entry of an agent step's loop: a model turn (its text and tokens) or a tool call (its arguments,
    result or error, and the approval that decided it)."""

    seq: int
    kind: str = Field(description="turn: the model answered; tool: a tool call.")
    status: str
    turn: int = Field(description="The loop's iteration the entry belongs to.")
    call_id: str | None = None
    tool: str | None = None
    arguments: Any = None
    result: Any = None
    text: str | None = None
    error: str | None = None
    usage: dict[str, Any] | None = None
    approval_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None


class NodeRunPublic(NodeRunBase, Public):
    """One step of a run: what it got, what it gave, how long it took."""

    key: str
    agent_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    loop: list[AgentStepPublic] | None = Field(
        None, description="An agent step's loop: every model turn and tool call, in order (other steps: null)."
    )


class ApprovalBase(SQLModel):
    node_key: str = Field(max_length=64)
    status: str = Field(default="PENDING", max_length=16)
    proposal: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    output: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    decided_by: str | None = Field(default=None, max_length=200)
    reason: str | None = None


class ApprovalPublic(ApprovalBase, Public):
    @classmethod
    def of(cls, approval: Any) -> ApprovalPublic:
        """The API's shape of an engine `Approval` (its `extra` shown as `details`, without the engine's flags)."""
        details = {k: v for k, v in (approval.extra or {}).items() if k != "resume"}
        return cls.model_validate(approval).model_copy(update={"details": details or None})

    @field_serializer("*", when_used="json")
    def _times(self, value: Any, info: FieldSerializationInfo) -> Any:  # type: ignore[override]
        """ISO times, as every shape; `details` with camelCase names on the wire (the chat messages as they are)."""
        if info.field_name == "details" and isinstance(value, dict):
            return {
                to_camel(k): {to_camel(n): v for n, v in item.items()} if isinstance(item, dict) else item
                for k, item in value.items()
            }
        return clock.iso(value) if isinstance(value, datetime) else value

    id: str
    created_at: datetime | None
    decided_at: datetime | None
    details: dict[str, Any] | None = Field(
        None,
        description="What an agent step's approval is about: toolCall (the tool, its schema, the conversation so "
        "far; the proposal is its arguments) or budget (tokens used and allowed); null for a step's approval.",
    )


class RunDetail(RunPublic):
    input: Any
    output: Any
    error: str | None
    parent_run_id: str | None = Field(None, description="A sub-workflow's run: the run whose workflow step started it.")
    until: str | None = Field(None, description="Run up to this step: only it and the steps it depends on ran.")
    callback_url: str | None = Field(default=None, exclude=True)
    """Where the run's result is sent (not shown by the API: the URL may carry a secret of its receiver)."""
    started_at: datetime | None
    finished_at: datetime | None
    nodes: list[NodeRunPublic]
    approvals: list[ApprovalPublic]


class RunRequest(Input):
    input: Any = Field(description="The initial input passed to the first step (any JSON value).")
    session_id: str | None = Field(None, max_length=200, description="Session for context continuity; new if omitted.")
    callback_url: CallbackUrl | None = None
    until: str | None = Field(
        None,
        max_length=64,
        description="Run up to this step (its key): only it and the steps it depends on run; its output is the run's.",
    )


class RunAccepted(Public):
    job_id: str
    run_id: str
    workflow_id: str
    session_id: str | None
    status: str


class ResumeRequest(Input):
    output: Any = Field(description="The approved content, injected as the output of the paused step.")
    node_key: str | None = Field(None, description="Which waiting step to resume; default: the earliest.")
    decided_by: str | None = Field(None, max_length=200)


class RejectRequest(Input):
    reason: str = Field(min_length=1, max_length=5000)
    node_key: str | None = None
    decided_by: str | None = Field(None, max_length=200)


class ResumeAccepted(Public):
    job_id: str
    run_id: str
    approval_id: str
    status: str


# --- the run history ------------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class RunQuery(BaseModel):
    """What the runs page filters on. Every field is optional; empty lists mean "any"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    statuses: list[RunStatus] = Field(default_factory=list, max_length=len(RunStatus))
    workflow_id: str | None = Field(None, max_length=40)
    triggers: list[Trigger] = Field(default_factory=list, max_length=len(Trigger))
    created_from: datetime | None = None
    """Runs created at or after this time."""
    created_to: datetime | None = None
    """Runs created before this time."""
    text: str | None = Field(None, max_length=200)
    """A run id or session id (exactly), or text found in the run's input or output (any case)."""

    @model_validator(mode="after")
    def _range_in_order(self) -> RunQuery:
        if self.created_from and self.created_to and _utc(self.created_from) > _utc(self.created_to):
            raise ValueError("created_from is after created_to")
        return self


@dataclass(frozen=True)
class RunSummary:
    """One run as the runs page lists it."""

    id: str
    workflow_id: str
    workflow_name: str
    workflow_version: int
    trigger: Trigger
    status: RunStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    """From start to finish; None until the run has both."""
    error: str | None
    """The first line of the run's error, shortened to 200 characters."""


@dataclass(frozen=True)
class RunPage:
    items: list[RunSummary]
    next_cursor: str | None
    """Pass as `after` for the next page; None on the last page."""


@dataclass(frozen=True)
class ActiveCounts:
    """What the header badge shows: runs with work ahead of them, and approvals waiting for a person."""

    queued: int
    running: int
    paused: int
    pending_approvals: int

    @property
    def active_runs(self) -> int:
        return self.queued + self.running + self.paused


@dataclass(frozen=True)
class Activity:
    """What the shell shows live: runs queued or running, and approvals waiting for a person."""

    active_runs: int
    pending_approvals: int


@dataclass(frozen=True)
class PruneResult:
    """How many rows a prune deleted, by table."""

    runs: int = 0
    node_runs: int = 0
    approvals: int = 0
    callback_deliveries: int = 0

    def __add__(self, other: PruneResult) -> PruneResult:
        return PruneResult(
            self.runs + other.runs,
            self.node_runs + other.node_runs,
            self.approvals + other.approvals,
            self.callback_deliveries + other.callback_deliveries,
        )


@dataclass(frozen=True)
class TokenUsage:
    """Tokens used by llm steps, summed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False

    @classmethod
    def of(cls, usages: list[Any]) -> TokenUsage:
        """The sum of node runs' usage records (None and non-counts ignored)."""
        totals = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        estimated = False
        for usage in usages:
            if not isinstance(usage, dict):
                continue
            for name in totals:
                value = usage.get(name)
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[name] += value
            estimated = estimated or bool(usage.get("estimated"))
        return cls(**totals, estimated=estimated)
