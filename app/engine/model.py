"""The plain data the engine works on: workflow definitions, statuses, run and node records.

Nothing here knows about tables or pages; storage maps these to rows, the API to JSON.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AgentStep",
    "AgentStepStatus",
    "Approval",
    "CallbackDelivery",
    "CallbackState",
    "EdgeSpec",
    "NodeRunRecord",
    "NodeSpec",
    "NodeStatus",
    "OnDeadline",
    "Position",
    "RunRecord",
    "RunStatus",
    "Trigger",
    "WorkflowDefinition",
]

NODE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_NODES = 2_000
MAX_NOTES = 200
MAX_EDGES = 10_000
MAX_APPROVAL_DEADLINE_SECONDS = 366 * 86_400

OnDeadline = Literal["wait", "approve", "reject"]


class RunStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_RUN

    @property
    def is_active(self) -> bool:
        """Queued, running or paused: the run still has work ahead of it."""
        return not self.is_terminal


_TERMINAL_RUN = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


class NodeStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    WAITING_APPROVAL = "WAITING_APPROVAL"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_NODE


_TERMINAL_NODE = frozenset({NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED})


class CallbackState(enum.StrEnum):
    """Where a run's callback stands: due from the moment the run ends until delivered or given up."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class ApprovalStatus(enum.StrEnum):
    """Where an approval stands: waiting for a person, decided either way, or moot (its run was cancelled)."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class Trigger(enum.StrEnum):
    UI = "ui"
    API = "api"
    WEBHOOK = "webhook"
    SCHEDULE = "schedule"
    BATCH = "batch"
    WORKFLOW = "workflow"
    """Started by a `workflow` step of another run (a sub-workflow)."""
    MCP = "mcp"
    """Started by an MCP client calling the workflow as a tool at `/mcp`."""


class Position(BaseModel):
    x: float = 0.0
    y: float = 0.0


class NodeSpec(BaseModel):
    """One node of a workflow graph: which agent runs, with what action, config and input."""

    model_config = ConfigDict(extra="forbid")

    key: str
    agent_id: str = Field(min_length=1, max_length=100)
    name: str = Field("", max_length=200)
    action: str = Field("", max_length=100_000)
    config: dict[str, Any] = Field(default_factory=dict)
    input_mapping: str | dict[str, Any] | None = None
    position: Position = Field(default_factory=Position)
    step_order: int | None = None
    needs_approval: bool = False
    retries: int = Field(0, ge=0, le=20)
    retry_backoff_seconds: float = Field(1.0, ge=0, le=3600)
    timeout_seconds: float | None = Field(None, gt=0, le=86_400)
    approval_deadline_seconds: float | None = Field(None, gt=0, le=MAX_APPROVAL_DEADLINE_SECONDS)
    """How long an approval of this node waits for a person before `on_deadline` applies (None: no deadline)."""
    on_deadline: OnDeadline = "wait"
    """What a passed deadline does: approve the proposal as it is, reject it, or keep waiting (overdue)."""
    disabled: bool = False
    """Turned off: runs skip its work (and any approval) and pass its input on as its output."""

    @field_validator("key")
    @classmethod
    def _key_is_identifier(cls, value: str) -> str:
        if not NODE_KEY.match(value):
            raise ValueError("a node key is a letter or _ followed by up to 63 letters, digits or _")
        return value


class EdgeSpec(BaseModel):
    """A connection from one node's output (optionally a named outcome handle) to another node."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(max_length=64)
    target: str = Field(max_length=64)
    source_handle: str | None = Field(None, max_length=64)
    condition: str | None = Field(None, max_length=10_000)

    @property
    def id(self) -> str:
        handle = f":{self.source_handle}" if self.source_handle else ""
        return f"{self.source}{handle}->{self.target}"


class Note(BaseModel):
    """A sticky note on the canvas: markdown for the people who read the workflow; runs ignore it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    text: str = Field("", max_length=10_000)
    position: Position = Field(default_factory=Position)
    width: float = Field(240, ge=80, le=2000)
    height: float = Field(140, ge=60, le=2000)


class WorkflowDefinition(BaseModel):
    """The graph a run executes: nodes and the edges between them (and the notes beside them, for people)."""

    model_config = ConfigDict(extra="forbid")

    nodes: list[NodeSpec] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[EdgeSpec] = Field(default_factory=list, max_length=MAX_EDGES)
    notes: list[Note] = Field(default_factory=list, max_length=MAX_NOTES)

    def node(self, key: str) -> NodeSpec:
        for node in self.nodes:
            if node.key == key:
                return node
        raise KeyError(key)


@dataclass
class RunRecord:
    """A run as the store keeps it."""

    id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    input: Any
    session_id: str | None = None
    trigger: Trigger = Trigger.API
    started_by: str | None = None
    """Who started the run (a user's email, 'admin token'); None for what Flowyard started itself."""
    output: Any = None
    error: str | None = None
    current_step_order: int | None = None
    callback_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested: bool = False
    callback_state: CallbackState | None = None
    """None while the run has no callback to send (no URL, or not ended yet)."""
    callback_attempts: int = 0
    callback_due_at: datetime | None = None
    """When the next attempt is due, while the callback is PENDING."""
    parent_run_id: str | None = None
    """For a sub-workflow's run: the run whose `workflow` step started it, and that step's key."""
    parent_node_key: str | None = None
    chain: tuple[str, ...] = ()
    """Workflow ids of the runs this run is nested in, outermost first (empty for a top-level run)."""
    until: str | None = None
    """“Run up to here”: only this step and the steps it depends on run (the others are skipped), and the
    run's output is this step's output. None: the whole workflow."""


@dataclass
class CallbackDelivery:
    """One attempt to POST a run's result to its callback URL, as recorded."""

    run_id: str
    url: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: float
    created_at: datetime


@dataclass
class NodeRunRecord:
    """One node's progress within a run."""

    run_id: str
    node_key: str
    status: NodeStatus
    attempt: int = 0
    input: Any = None
    output: Any = None
    error: str | None = None
    handles: list[str] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    usage: dict[str, Any] | None = None
    step_order: int | None = None


@dataclass
class Approval:
    """A proposal waiting for (or decided by) a human."""

    id: str
    run_id: str
    node_key: str
    proposal: Any
    status: str = ApprovalStatus.PENDING
    output: Any = None
    decided_by: str | None = None
    reason: str | None = None
    created_at: datetime | None = None
    decided_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """What the approval is about beyond a step's proposal. With ``{"resume": true}`` (a tool call an agent step
    wants to make, ``"tool_call"``; a token budget it reached, ``"budget"``) a decision does not end the step:
    it queues the step to run again, and the step reads the decision."""
    deadline_at: datetime | None = None
    on_deadline: OnDeadline = "wait"

    @property
    def resumes(self) -> bool:
        """True when deciding this approval sends its step back to work instead of ending it."""
        return bool(self.extra.get("resume"))


class AgentStepStatus(enum.StrEnum):
    """Where one entry of an agent loop stands."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    WAITING_APPROVAL = "WAITING_APPROVAL"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


@dataclass
class AgentStep:
    """One entry of an agent step's loop, stored before the next one starts: a model turn or a tool call.

    A turn's `result` is the assistant message the model answered ({"content", "tool_calls"}), `text` its text
    and `usage` its tokens; a tool call's `result` is what the tool answered (or `error` why it did not).
    Entries are ordered by `seq` within (run, step); `turn` is the loop's iteration they belong to.
    """

    run_id: str
    node_key: str
    seq: int
    kind: Literal["turn", "tool"]
    status: AgentStepStatus
    turn: int = 0
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
