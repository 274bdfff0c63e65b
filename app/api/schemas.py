"""Request and response bodies of the ordered-steps API (`/api/v1`), in its camelCase field names."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer, field_validator
from pydantic.alias_generators import to_camel

from app import clock
from app.engine.callbacks import MAX_CALLBACK_URL_LENGTH, callback_url_problem

__all__ = [
    "AgentCreate",
    "AgentOut",
    "AgentUpdate",
    "ApprovalOut",
    "CallbackUrl",
    "CredentialCreate",
    "CredentialOut",
    "CredentialUpdate",
    "NodeRunOut",
    "PageOut",
    "RejectRequest",
    "ResumeRequest",
    "RunAccepted",
    "RunDetailOut",
    "RunOut",
    "RunRequest",
    "SessionDetailOut",
    "SessionMessageOut",
    "SessionOut",
    "SessionPageOut",
    "StepIn",
    "StepOut",
    "WorkflowCreate",
    "WorkflowDetailOut",
    "WorkflowOut",
    "WorkflowUpdate",
]

T = TypeVar("T")

RESERVED_AGENT_IDS = frozenset({"kinds", ".", ".."})
"""Ids /api/v1/agents/<id> cannot address: a route of its own, or a path segment clients resolve away."""


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown request fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @field_serializer("*", when_used="json")
    def _times(self, value: Any) -> Any:
        return clock.iso(value) if isinstance(value, datetime) else value


def _callback_url(value: str) -> str:
    problem = callback_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


CallbackUrl = Annotated[
    str,
    Field(
        max_length=MAX_CALLBACK_URL_LENGTH,
        description="Where the run's result is POSTed, signed, when it ends (http or https).",
        examples=["https://example.com/hooks/flowyard"],
    ),
    AfterValidator(_callback_url),
]


class PageOut(ApiModel, Generic[T]):
    content: list[T]
    total_elements: int
    total_pages: int
    page: int
    size: int


class WorkflowCreate(ApiModel):
    name: str = Field(min_length=1, max_length=200, description="A human-readable name for the workflow.")
    description: str = Field("", max_length=5000)


class WorkflowUpdate(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)


class WorkflowOut(ApiModel):
    id: str
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


class StepIn(ApiModel):
    agent_id: str = Field(min_length=1, max_length=100, description="The ID of the agent to invoke for this step.")
    action: str = Field(max_length=100_000, description="The prompt, template or instruction for this step.")
    step_order: int | None = Field(None, ge=1, le=100_000, description="Position in the sequence, from 1.")
    key: str | None = Field(None, description="Name used in templates (nodes.<key>.output); generated when omitted.")
    name: str = Field("", max_length=200)
    config: dict[str, Any] = Field(default_factory=dict, description="Overrides of the agent's config for this step.")
    input_mapping: str | dict[str, Any] | None = Field(None, description="Template(s) that build this step's input.")
    needs_approval: bool = Field(False, description="Pause the run for a human to approve this step's output.")
    retries: int = Field(0, ge=0, le=20)
    retry_backoff_seconds: float = Field(1.0, ge=0, le=3600)
    timeout_seconds: float | None = Field(None, gt=0, le=86_400)
    after: list[str] | None = Field(None, description="Keys of the steps this one follows; default: the previous step.")


class StepOut(ApiModel):
    id: str
    workflow_id: str
    key: str
    agent_id: str
    action: str
    step_order: int | None
    name: str
    config: dict[str, Any]
    input_mapping: Any
    needs_approval: bool
    retries: int
    retry_backoff_seconds: float
    timeout_seconds: float | None


class EdgeOut(ApiModel):
    source: str
    target: str
    source_handle: str | None = None
    condition: str | None = None


class WorkflowDetailOut(WorkflowOut):
    steps: list[StepOut]
    edges: list[EdgeOut]


class RunRequest(ApiModel):
    input: Any = Field(description="The initial input passed to the first step (any JSON value).")
    session_id: str | None = Field(None, max_length=200, description="Session for context continuity; new if omitted.")
    callback_url: CallbackUrl | None = None


class RunAccepted(ApiModel):
    job_id: str
    run_id: str
    workflow_id: str
    session_id: str | None
    status: str


class RunOut(ApiModel):
    id: str
    run_id: str
    workflow_id: str
    workflow_version: int
    session_id: str | None
    status: str
    trigger: str
    current_step_order: int | None
    duration_ms: int
    created_at: datetime
    updated_at: datetime
    total_tokens: int = Field(0, description="Tokens the run's llm steps used, summed.")


class NodeRunOut(ApiModel):
    key: str
    step_order: int | None
    agent_id: str | None
    status: str
    attempt: int
    input: Any
    output: Any
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    usage: dict[str, Any] | None = Field(
        None, description="Token usage of an llm step: prompt_tokens, completion_tokens, total_tokens, estimated."
    )


class ApprovalOut(ApiModel):
    id: str
    node_key: str
    status: str
    proposal: Any
    output: Any
    decided_by: str | None
    reason: str | None
    created_at: datetime | None
    decided_at: datetime | None


class RunDetailOut(RunOut):
    input: Any
    output: Any
    error: str | None
    parent_run_id: str | None = Field(None, description="A sub-workflow's run: the run whose workflow step started it.")
    started_at: datetime | None
    finished_at: datetime | None
    nodes: list[NodeRunOut]
    approvals: list[ApprovalOut]


class ResumeRequest(ApiModel):
    output: Any = Field(description="The approved content, injected as the output of the paused step.")
    node_key: str | None = Field(None, description="Which waiting step to resume; default: the earliest.")
    decided_by: str | None = Field(None, max_length=200)


class RejectRequest(ApiModel):
    reason: str = Field(min_length=1, max_length=5000)
    node_key: str | None = None
    decided_by: str | None = Field(None, max_length=200)


class ResumeAccepted(ApiModel):
    job_id: str
    run_id: str
    approval_id: str
    status: str


class AgentCreate(ApiModel):
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="Stable id; generated when omitted.")
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=5000)
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _not_a_route(cls, value: str | None) -> str | None:
        if value in RESERVED_AGENT_IDS:
            raise ValueError(f"'{value}' cannot be an agent id: /api/v1/agents/{value} would not address the agent")
        return value


class AgentUpdate(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    config: dict[str, Any] | None = None


class AgentOut(ApiModel):
    id: str
    name: str
    kind: str
    description: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CredentialCreate(ApiModel):
    name: str = Field(min_length=1, max_length=100, description="How agent configs refer to it ('credential').")
    type: str = Field(description="One of api_key, bearer, basic, header.")
    values: dict[str, str] = Field(
        description="api_key, bearer: {token}; basic: {username, password}; header: {name, value}. Write-only."
    )


class CredentialUpdate(ApiModel):
    values: dict[str, str] = Field(description="The new values, replacing the old ones. Write-only.")


class CredentialOut(ApiModel):
    """A credential as anyone may see it: never its values."""

    name: str
    type: str
    created_at: datetime
    updated_at: datetime


class KindOut(ApiModel):
    kind: str
    title: str
    group: str
    description: str
    config_schema: dict[str, Any]
    input_schema: dict[str, Any]


class SessionOut(ApiModel):
    id: str
    message_count: int
    created_at: datetime
    updated_at: datetime


class SessionPageOut(ApiModel):
    content: list[SessionOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last one.")


class SessionMessageOut(ApiModel):
    role: str
    content: str
    run_id: str | None
    node_key: str | None
    created_at: datetime


class SessionDetailOut(SessionOut):
    messages: list[SessionMessageOut]
