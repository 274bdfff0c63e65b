"""Flowyard's tables. Every change here comes with an Alembic revision in `storage/migrations`.

Each table row derives from its entity's `…Base` in `app.models` (the fields users and the API see,
declared once) and adds what only storage keeps: keys, leases, secrets, timestamps.

Times are stored in UTC and come back timezone-aware on every database. JSON columns hold what
users and agents produce (inputs, outputs, configs) as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app.models.agents import AgentBase, CredentialBase
from app.models.batches import BatchBase, BatchItemBase
from app.models.instance import InstanceSettingsBase
from app.models.people import AuditEventBase, UserBase
from app.models.runs import ApprovalBase, NodeRunBase, RunBase
from app.models.schedules import ScheduleBase
from app.models.sessions import SessionMessageBase
from app.models.webhooks import WebhookBase
from app.models.workflows import StepBase, WorkflowBase

__all__ = [
    "AgentRow",
    "AgentStepRow",
    "ApiTokenRow",
    "ApprovalRow",
    "AuditEventRow",
    "BatchItemRow",
    "BatchRow",
    "CallbackDeliveryRow",
    "CredentialRow",
    "EdgeRow",
    "InstanceSettingsRow",
    "LoginRow",
    "McpServerRow",
    "NodeRow",
    "NodeRunRow",
    "RunRow",
    "ScheduleFireRow",
    "ScheduleJobRow",
    "ScheduleRow",
    "SessionMessageRow",
    "SessionRow",
    "UTCDateTime",
    "UserRow",
    "WebhookRow",
    "WorkflowRow",
    "WorkflowVersionRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is written as UTC and always read back timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _time(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json(*, default: Any = None) -> Any:
    if callable(default):
        return Field(default_factory=default, sa_type=sa.JSON)
    return Field(default=default, sa_type=sa.JSON, nullable=True)


class WorkflowRow(WorkflowBase, table=True):
    __tablename__ = "workflows"

    id: str = Field(primary_key=True, max_length=40)
    version: int = Field(default=1)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False, index=True)
    # Who may decide its steps (user ids; none listed: whoever may approve), and whether the person who
    # started a run may approve its steps.
    approvers: list[str] | None = _json()
    allow_self_approval: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    # Signs the callbacks of its runs, encrypted with the vault; none: the shared FLOWYARD_CALLBACK_SECRET.
    callback_secret: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    # Words it is filed under, as given (the workflows page filters on them).
    tags: list[str] | None = _json()
    # The sticky notes on its canvas (`app.engine.model.Note`), part of its current definition.
    notes: list[dict[str, Any]] | None = _json()
    # Named sample inputs (`app.models.samples.SampleInput`) the Run dialog offers and Try uses.
    samples: list[dict[str, Any]] | None = _json()
    # Offered to MCP clients as a tool at /mcp (its entry step's input schema is the tool's parameters).
    offer_as_tool: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # The one-step workflow that runs a saved agent called directly (POST /api/v2/agents/{id}/run): its agent's
    # id; such workflows are kept out of the workflows page. None for every workflow a person made.
    for_agent: str | None = Field(default=None, max_length=100, index=True)


class NodeRow(StepBase, table=True):
    """A step of a workflow's current definition: a node of its graph."""

    __tablename__ = "nodes"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "key", name="uq_nodes_workflow_key"),)

    id: str = Field(primary_key=True, max_length=40)
    workflow_id: str = Field(foreign_key="workflows.id", ondelete="CASCADE", index=True, max_length=40)
    key: str = Field(max_length=64)
    position_x: float = 0.0
    position_y: float = 0.0
    approval_deadline_seconds: float | None = None
    on_deadline: str = Field(default="wait", max_length=16, sa_column_kwargs={"server_default": "wait"})


class EdgeRow(SQLModel, table=True):
    __tablename__ = "edges"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(foreign_key="workflows.id", ondelete="CASCADE", index=True, max_length=40)
    source: str = Field(max_length=64)
    target: str = Field(max_length=64)
    source_handle: str | None = Field(default=None, max_length=64)
    condition: str | None = None


class WorkflowVersionRow(SQLModel, table=True):
    """A frozen definition. A run records the version it ran, so history stays explainable."""

    __tablename__ = "workflow_versions"

    workflow_id: str = Field(primary_key=True, foreign_key="workflows.id", ondelete="CASCADE", max_length=40)
    version: int = Field(primary_key=True)
    name: str = Field(default="", max_length=200)
    definition: dict[str, Any] = _json(default=dict)
    created_at: datetime = _time(nullable=False)


class AgentRow(AgentBase, table=True):
    __tablename__ = "agents"

    id: str = Field(primary_key=True, max_length=100)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class CredentialRow(CredentialBase, table=True):
    """A named secret. `secret` is the Fernet token of its values; the plaintext is never stored."""

    __tablename__ = "credentials"

    id: int | None = Field(default=None, primary_key=True)
    secret: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class RunRow(RunBase, table=True):
    __tablename__ = "runs"
    __table_args__ = (
        sa.Index("ix_runs_workflow_created", "workflow_id", "created_at"),
        sa.Index("ix_runs_status_created", "status", "created_at"),
        sa.Index("ix_runs_created", "created_at"),
        # The runs page: one exact, newest-first seek per (status, trigger) pair a filter names, with or
        # without a workflow (see storage/history.py); id last so ties on created_at page without a sort.
        sa.Index("ix_runs_status_trigger_created", "status", "trigger", "created_at", "id"),
        sa.Index("ix_runs_workflow_status_trigger_created", "workflow_id", "status", "trigger", "created_at", "id"),
        # A sub-workflow step finds the run it started (after a crash, a retry) by its parent run and step.
        sa.Index("ix_runs_parent", "parent_run_id", "parent_node_key"),
    )

    id: str = Field(primary_key=True, max_length=40)
    input: Any = _json()
    output: Any = _json()
    error: str | None = None
    callback_url: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = _time()
    cancel_requested: bool = False
    # The callback: PENDING from the moment the run ends until DELIVERED or FAILED (null: no callback).
    callback_state: str | None = Field(default=None, max_length=16)
    callback_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    callback_due_at: datetime | None = _time(index=True)
    callback_claimed_by: str | None = Field(default=None, max_length=200)
    callback_claim_expires_at: datetime | None = _time()
    # Token usage summed over the run's node runs (kept by the run store), so a workflow's total is one SUM.
    prompt_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    completion_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # A sub-workflow's run: the run and `workflow` step that started it, and the workflow ids it is nested in.
    parent_run_id: str | None = Field(default=None, max_length=40)
    parent_node_key: str | None = Field(default=None, max_length=64)
    chain: Any = _json()
    # “Run up to here”: the step the run stops after (None: the whole workflow).
    until_node: str | None = Field(default=None, max_length=64)


class NodeRunRow(NodeRunBase, table=True):
    __tablename__ = "node_runs"

    run_id: str = Field(primary_key=True, foreign_key="runs.id", ondelete="CASCADE", max_length=40)
    node_key: str = Field(primary_key=True, max_length=64)
    handles: Any = _json()
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()


class ApprovalRow(ApprovalBase, table=True):
    __tablename__ = "approvals"
    __table_args__ = (
        sa.Index("ix_approvals_status_created", "status", "created_at"),
        # The deadline sweep: pending approvals whose deadline has passed.
        sa.Index("ix_approvals_status_deadline", "status", "deadline_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE", index=True, max_length=40)
    created_at: datetime = _time(nullable=False)
    decided_at: datetime | None = _time()
    deadline_at: datetime | None = _time()
    on_deadline: str = Field(default="wait", max_length=16)
    # What the approval is about beyond a step's proposal: {"tool_call": {...}} for a tool call an agent
    # step wants to make, {"budget": {...}} for an agent step that reached its token budget.
    extra: dict[str, Any] | None = _json()


class SessionRow(SQLModel, table=True):
    """Conversation memory shared by the llm agents of runs with the same session id."""

    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=200)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class SessionMessageRow(SessionMessageBase, table=True):
    __tablename__ = "session_messages"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id", ondelete="CASCADE", index=True, max_length=200)
    created_at: datetime = _time(nullable=False)


class ScheduleRow(ScheduleBase, table=True):
    __tablename__ = "schedules"

    id: str = Field(primary_key=True, max_length=40)
    workflow_id: str = Field(foreign_key="workflows.id", ondelete="CASCADE", index=True, max_length=40)
    consecutive_failures: int = Field(default=0)
    paused_at: datetime | None = _time()
    paused_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class ScheduleFireRow(SQLModel, table=True):
    """One due time of a schedule, taken by exactly one process: (schedule_id, due_at) is unique."""

    __tablename__ = "schedule_fires"
    __table_args__ = (sa.UniqueConstraint("schedule_id", "due_at", name="uq_schedule_fires_due"),)

    id: int | None = Field(default=None, primary_key=True)
    schedule_id: str = Field(foreign_key="schedules.id", ondelete="CASCADE", max_length=40)
    due_at: datetime = _time(nullable=False)
    run_id: str | None = Field(default=None, foreign_key="runs.id", ondelete="SET NULL", index=True, max_length=40)
    outcome: str = Field(max_length=16)
    error: str | None = Field(default=None, max_length=2000)
    settled_at: datetime | None = _time()
    created_at: datetime = _time(nullable=False)


class ScheduleJobRow(SQLModel, table=True):
    """APScheduler's job store (`SQLAlchemyJobStore`), declared here so that migrations own its table."""

    __tablename__ = "apscheduler_jobs"

    id: str = Field(sa_column=sa.Column("id", sa.Unicode(191), primary_key=True))
    next_run_time: float | None = Field(default=None, sa_column=sa.Column("next_run_time", sa.Float(25), index=True))
    job_state: bytes = Field(sa_column=sa.Column("job_state", sa.LargeBinary, nullable=False))


class WebhookRow(WebhookBase, table=True):
    """A workflow's webhook trigger: a secret URL that starts a run with the request's JSON body as its input.

    Requests are found by `secret_hash` (the SHA-256 of the URL's secret); `secret` is the secret encrypted
    with the vault, so its owner can see the URL again. The plaintext is never stored.
    """

    __tablename__ = "webhooks"

    workflow_id: str = Field(primary_key=True, foreign_key="workflows.id", ondelete="CASCADE", max_length=40)
    secret_hash: str = Field(max_length=64, unique=True, index=True)
    secret: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)
    rotated_at: datetime | None = _time()
    last_called_at: datetime | None = _time()


class CallbackDeliveryRow(SQLModel, table=True):
    """One attempt to POST a run's result to its callback URL."""

    __tablename__ = "callback_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE", index=True, max_length=40)
    url: str = Field(max_length=2000)
    attempt: int
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None
    created_at: datetime = _time(nullable=False)


class BatchRow(BatchBase, table=True):
    """One uploaded file run once per row. Its progress is counted from its rows' runs, never kept here."""

    __tablename__ = "batches"
    __table_args__ = (
        sa.Index("ix_batches_workflow_created", "workflow_id", "created_at"),
        sa.Index("ix_batches_status", "status"),
    )

    id: str = Field(primary_key=True, max_length=40)
    invalid: int = 0
    created_at: datetime = _time(nullable=False)
    finished_at: datetime | None = _time()
    # The process that starts the batch's rows, while its lease lasts (one driver across processes).
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = _time()


class BatchItemRow(BatchItemBase, table=True):
    """A row of a batch's file: what it said, the input it maps to and the run (if any) that ran it."""

    __tablename__ = "batch_rows"
    __table_args__ = (
        # Pending rows in file order, for the driver; the run a row points to, for progress and retries.
        sa.Index("ix_batch_rows_status", "batch_id", "status", "row_index"),
        sa.Index("ix_batch_rows_run", "run_id"),
    )

    batch_id: str = Field(primary_key=True, foreign_key="batches.id", ondelete="CASCADE", max_length=40)
    row_index: int = Field(primary_key=True)


class UserRow(UserBase, table=True):
    """A person who logs in. The password is kept as an argon2 hash only."""

    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=500)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)
    last_login_at: datetime | None = _time()


class LoginRow(SQLModel, table=True):
    """A browser's login: found by the SHA-256 of its cookie; ends when idle too long, at its expiry, or on logout."""

    __tablename__ = "logins"

    id: str = Field(primary_key=True, max_length=40)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    created_at: datetime = _time(nullable=False)
    last_seen_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False)
    ended_at: datetime | None = _time()
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class ApiTokenRow(SQLModel, table=True):
    """A personal API token: found by the SHA-256 of the token; its first characters kept to recognise it by."""

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=40)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=40)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    scopes: list[str] = _json(default=list)
    created_at: datetime = _time(nullable=False)
    expires_at: datetime | None = _time()
    last_used_at: datetime | None = _time()
    revoked_at: datetime | None = _time()


class AuditEventRow(AuditEventBase, table=True):
    """Who did what, when, from where: logins, people and tokens, credentials, workflow changes, approvals."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(nullable=False, index=True)
    action: str = Field(max_length=64, index=True)


class InstanceSettingsRow(InstanceSettingsBase, table=True):
    """The instance's settings: one row (id 1), written by admins; absent until first saved (defaults apply)."""

    __tablename__ = "instance_settings"

    id: int = Field(default=1, primary_key=True)
    updated_at: datetime | None = _time()
    updated_by: str | None = Field(default=None, max_length=254)
    # What the last prune deleted, by table, and when: {"at": iso, "runs": n, "nodeRuns": n, ...}.
    last_prune: dict[str, Any] | None = _json()


# --- the tables, for SQLAlchemy Core (the hot paths and the history's queries) --------------------------------


def _table(model: type[SQLModel]) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


workflows = _table(WorkflowRow)
versions = _table(WorkflowVersionRow)
agents = _table(AgentRow)
runs = _table(RunRow)
node_runs = _table(NodeRunRow)
approvals = _table(ApprovalRow)
deliveries = _table(CallbackDeliveryRow)
sessions = _table(SessionRow)
messages = _table(SessionMessageRow)
batches = _table(BatchRow)
batch_rows = _table(BatchItemRow)


class McpServerRow(SQLModel, table=True):
    """An MCP server Flowyard connects to: a command it starts (stdio) or a URL (Streamable HTTP).

    The command's environment and the URL's extra headers may hold secrets: they are kept encrypted with the
    vault (`env_secret`, `headers_secret`, Fernet tokens of JSON objects). `tools` is what the server listed
    the last time Flowyard connected, so pages and the editor show them without connecting.
    """

    __tablename__ = "mcp_servers"
    __table_args__ = (sa.UniqueConstraint("name", name="uq_mcp_servers_name"),)

    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    transport: str = Field(max_length=16)
    command: str | None = Field(default=None, max_length=2000)
    args: list[str] | None = _json()
    url: str | None = Field(default=None, max_length=2000)
    credential: str | None = Field(default=None, max_length=200)
    timeout_seconds: float = Field(default=30.0)
    id: str = Field(primary_key=True, max_length=40)
    env_secret: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    headers_secret: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    tools: list[dict[str, Any]] | None = _json()
    tools_listed_at: datetime | None = _time()
    created_by: str | None = Field(default=None, max_length=254)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class AgentStepRow(SQLModel, table=True):
    """One entry of an agent step's loop: a model turn or a tool call, stored before the next one starts.

    (run_id, node_key, seq) orders the loop; a process that takes the run over reads it back and goes on from
    the first unfinished entry (`app.engine.model.AgentStep`).
    """

    __tablename__ = "agent_steps"

    run_id: str = Field(primary_key=True, foreign_key="runs.id", ondelete="CASCADE", max_length=40)
    node_key: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    kind: str = Field(max_length=16)
    status: str = Field(max_length=24)
    turn: int = 0
    call_id: str | None = Field(default=None, max_length=200)
    tool: str | None = Field(default=None, max_length=200)
    arguments: Any = _json()
    result: Any = _json()
    text: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    usage: dict[str, Any] | None = _json()
    approval_id: str | None = Field(default=None, max_length=40)
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()


agent_steps = _table(AgentStepRow)
mcp_servers = _table(McpServerRow)
