"""Workflows, their steps, versions and export documents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictBool, StringConstraints, field_validator
from sqlmodel import Field, SQLModel

from app.engine.exceptions import InvalidInput
from app.engine.model import WorkflowDefinition
from app.models.base import Input, Label, Name, Public, name_problem
from app.models.samples import MAX_SAMPLES, SampleInput

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "AgentDocument",
    "CallbackSecret",
    "EdgeChangePublic",
    "EdgePublic",
    "SettingChangePublic",
    "StepBase",
    "StepChangePublic",
    "StepCreate",
    "StepPublic",
    "VersionComparison",
    "VersionPublic",
    "WorkflowAccess",
    "WorkflowBase",
    "WorkflowCreate",
    "WorkflowDetail",
    "WorkflowDocument",
    "WorkflowPublic",
    "WorkflowSort",
    "WorkflowSummary",
    "WorkflowUpdate",
    "check_tags",
]

EXPORT_FORMAT = "flowyard.workflow"
EXPORT_VERSION = 1

WorkflowSort = Literal["name", "updated", "last_run"]
MAX_TAGS = 20
TAG_MAX = 40


def _tag(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TAG_MAX), AfterValidator(_tag)]
"""A word a workflow is filed under (“sales”, “nightly”): up to 40 characters, under the rules of a name."""


def check_tags(field: str, tags: list[str]) -> list[str]:
    """`tags` trimmed, without repeats (in any case), in the order given; InvalidInput naming `field` if one is
    blank, too long or has control characters, or there are more than `MAX_TAGS`."""
    kept: dict[str, str] = {}
    for tag in tags:
        text = tag.strip()
        problem = name_problem(text) or (f"at most {TAG_MAX} characters" if len(text) > TAG_MAX else None)
        if problem:
            raise InvalidInput(field, f"tag “{text[:TAG_MAX]}”: {problem}")
        kept.setdefault(text.casefold(), text)
    if len(kept) > MAX_TAGS:
        raise InvalidInput(field, f"at most {MAX_TAGS} tags")
    return list(kept.values())


class WorkflowBase(SQLModel):
    name: str = Field(max_length=200, index=True, description="A human-readable name for the workflow.")
    description: str = Field(default="", max_length=5000)


class WorkflowCreate(WorkflowBase, Input):
    name: Name = Field(min_length=1, max_length=200, description="A human-readable name for the workflow.")
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS, description="Words to file it under.")


class WorkflowUpdate(Input):
    name: Name | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS, description="Replaces its tags; omit to keep them.")
    offer_as_tool: StrictBool | None = Field(
        None, description="Offer it to MCP clients as a tool at /mcp (true or false); omit to keep it as it is."
    )


class WorkflowPublic(WorkflowBase, Public):
    id: str
    version: int
    created_at: datetime
    updated_at: datetime
    tags: list[str] = Field(default_factory=list, description="Words it is filed under.")
    offer_as_tool: bool = Field(False, description="Whether MCP clients find it as a tool at /mcp.")
    for_agent: str | None = Field(
        None,
        description="The saved agent it runs when that agent is called directly (POST /api/v2/agents/{agentId}/run):"
        " it follows the agent, is listed nowhere and is not edited. None for the workflows people make.",
    )

    @field_validator("tags", mode="before")
    @classmethod
    def _no_tags(cls, value: Any) -> Any:
        return [] if value is None else value


class WorkflowSummary(WorkflowPublic):
    """A workflow as the workflows page lists it: with its step count and its last run."""

    steps: int
    last_run_status: str | None
    last_run_at: datetime | None


class VersionPublic(Public):
    """One kept version of a workflow: each save, and each version a run was started on."""

    version: int
    created_at: datetime
    name: str
    nodes: int


class SettingChangePublic(Public):
    """One setting of a step that differs between two versions."""

    path: str = Field(description='Where, from the step: "$.config.url", "$.action", "$.input_mapping.email".')
    kind: Literal["added", "removed", "changed"]
    before: Any = Field(None, description="The older version's value (absent when `kind` is added).")
    after: Any = Field(None, description="The newer version's value (absent when `kind` is removed).")


class StepChangePublic(Public):
    key: str
    title: str = Field(description="The step's name in the newer version (the older one's when removed), or its key.")
    change: Literal["added", "removed", "changed", "moved"] = Field(
        description="`moved`: only its place on the canvas differs, which changes nothing about a run."
    )
    fields: list[SettingChangePublic] = Field(default_factory=list, description="For a changed step: what differs.")


class EdgeChangePublic(Public):
    source: str
    target: str
    outcome: str | None = Field(None, description="The source's outcome (a branch's handle) the edge leaves from.")
    change: Literal["added", "removed", "changed"]
    condition_before: str | None = None
    condition_after: str | None = None


class VersionComparison(Public):
    """What changed from one kept version of a workflow to another."""

    before: int
    after: int
    same: bool = Field(description="Whether a run of either version does the same (steps only moved, if anything).")
    steps: list[StepChangePublic] = Field(description="In the newer version's order, then the removed steps.")
    edges: list[EdgeChangePublic]


class StepBase(SQLModel):
    """A step: one node of a workflow's graph, as the ordered-steps API edits it."""

    agent_id: str = Field(min_length=1, max_length=100, description="The ID of the agent to invoke for this step.")
    action: str = Field(default="", max_length=100_000, description="The prompt, template or instruction.")
    step_order: int | None = Field(default=None, ge=1, le=100_000, description="Position in the sequence, from 1.")
    name: str = Field(default="", max_length=200)
    config: dict[str, Any] = Field(
        default_factory=dict, sa_type=sa.JSON, description="Overrides of the agent's config for this step."
    )
    input_mapping: Any = Field(
        default=None, sa_type=sa.JSON, nullable=True, description="Template(s) that build this step's input."
    )
    needs_approval: bool = Field(default=False, description="Pause the run for a human to approve this output.")
    retries: int = Field(default=0, ge=0, le=20)
    retry_backoff_seconds: float = Field(default=1.0, ge=0, le=3600)
    timeout_seconds: float | None = Field(default=None, gt=0, le=86_400)
    disabled: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa.false()},
        description="Turned off: runs skip it and pass its input on as its output.",
    )


class StepCreate(StepBase, Input):
    action: str = Field(max_length=100_000, description="The prompt, template or instruction for this step.")
    input_mapping: str | dict[str, Any] | None = Field(None, description="Template(s) that build this step's input.")
    name: Label = Field(default="", max_length=200, description="The step's label; its key when empty.")
    key: str | None = Field(None, description="Name used in templates (nodes.<key>.output); generated when omitted.")
    after: list[str] | None = Field(None, description="Keys of the steps this one follows; default: the previous step.")


class StepPublic(StepBase, Public):
    id: str
    workflow_id: str
    key: str
    step_order: int | None


class EdgePublic(Public):
    source: str
    target: str
    source_handle: str | None = None
    condition: str | None = None


class WorkflowDetail(WorkflowPublic):
    steps: list[StepPublic]
    edges: list[EdgePublic]


class AgentDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: Name
    kind: str
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)


class WorkflowDocument(BaseModel):
    """The versioned JSON document `flowyard export` writes and `flowyard import` reads."""

    model_config = ConfigDict(extra="forbid")

    format: str = EXPORT_FORMAT
    version: int = EXPORT_VERSION
    name: Name = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    offer_as_tool: bool = False
    definition: WorkflowDefinition
    agents: list[AgentDocument] = Field(default_factory=list)
    samples: list[SampleInput] = Field(default_factory=list, max_length=MAX_SAMPLES)


class WorkflowAccess(Input):
    """Who decides a workflow's steps."""

    approvers: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Emails of the users who may decide its steps (with admins); empty: whoever may approve.",
    )
    allow_self_approval: bool = Field(True, description="Whether the person who started a run may approve its steps.")


class CallbackSecret(Public):
    """The key that signs the callbacks of a workflow's runs."""

    secret: str = Field(description="The HMAC-SHA256 key that signs the callbacks of this workflow's runs.")
    shared: bool = Field(description="True: the shared default secret; false: this workflow's own.")
