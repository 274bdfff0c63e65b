"""The run-with-callback API (`/api/v2`): run a workflow graph asynchronously, be called back, poll.

Compatible with the public graph-of-agents workflow API: `POST /api/v2/workflows/run` takes
`workflowOId`, `callbackUrl` and the first step's input fields side by side in one body, answers
with a `workflowRunOId` at once, and POSTs the run's result, signed, to `callbackUrl` when it ends;
`GET /api/v2/workflows/run/status?workflowRunOId=…` reports progress meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.access import PrincipalDep
from app.api.deps import RunsDep
from app.api.openapi import CANNOT_RUN, not_found
from app.engine.exceptions import WorkflowInvalid
from app.engine.model import NodeStatus, Trigger, WorkflowDefinition
from app.engine.plan import Plan
from app.models.base import CallbackUrl, Public
from app.services.runs import RunService

__all__ = ["CallbackOut", "WorkflowRunNode", "WorkflowRunStatus", "router", "status_of"]

router = APIRouter(prefix="/api/v2")

_CURRENT = (NodeStatus.RUNNING.value, NodeStatus.WAITING_APPROVAL.value)


class WorkflowRunRequest(BaseModel):
    """`workflowOId` and `callbackUrl`; every other field is the run's input, as the first step expects it."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "workflowOId": "wf-1f3a9c0b52de4a17",
                    "callbackUrl": "https://example.com/hooks/flowyard",
                    "email": "ada@example.com",
                }
            ]
        },
    )

    workflow_o_id: str = Field(alias="workflowOId", min_length=1, max_length=40, description="The workflow to run.")
    callback_url: CallbackUrl = Field(alias="callbackUrl")

    @property
    def input(self) -> dict[str, Any]:
        """The fields beyond `workflowOId` and `callbackUrl`: the first step's input."""
        return dict(self.model_extra or {})


class WorkflowRunAccepted(Public):
    workflow_run_o_id: str
    workflow_o_id: str
    status: str


class WorkflowRunNode(Public):
    key: str
    name: str
    agent_id: str | None
    status: str
    attempt: int
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class CallbackAttemptOut(Public):
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: float | None
    at: datetime


class CallbackOut(Public):
    url: str
    state: str | None = Field(description="PENDING until the run ends and it is sent, then DELIVERED or FAILED.")
    attempts: int
    next_attempt_at: datetime | None
    deliveries: list[CallbackAttemptOut]


class WorkflowRunStatus(Public):
    workflow_run_o_id: str
    workflow_o_id: str
    status: str
    current_nodes: list[str] = Field(description="Keys of the steps running or waiting for approval now.")
    nodes: list[WorkflowRunNode] = Field(
        description="Every step (node) of the run's workflow version, in order, with its status."
    )
    output: Any
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    callback: CallbackOut | None


@router.post(
    "/workflows/run",
    response_model=WorkflowRunAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["v2 runs"],
    responses=not_found("workflow") | CANNOT_RUN,
)
async def run_workflow(body: WorkflowRunRequest, runs: RunsDep, principal: PrincipalDep) -> WorkflowRunAccepted:
    """Start a run of `workflowOId` with the other fields as its input; its result is POSTed to `callbackUrl`.

    The input is checked against the workflow's input schema (its first step's): each bad field is named.
    """
    run = await runs.start(
        body.workflow_o_id,
        input=body.input,
        trigger=Trigger.API,
        callback_url=body.callback_url,
        input_field="",
        started_by=principal.label,
    )
    return WorkflowRunAccepted(workflow_run_o_id=run.id, workflow_o_id=run.workflow_id, status=run.status.value)


@router.get("/workflows/run/status", response_model=WorkflowRunStatus, tags=["v2 runs"], responses=not_found("run"))
async def run_status(
    runs: RunsDep,
    workflow_run_o_id: Annotated[str, Query(alias="workflowRunOId", min_length=1, max_length=40)],
) -> WorkflowRunStatus:
    """A run's status, the steps running now, every step's status, its output or error, and its callback."""
    return await status_of(runs, workflow_run_o_id)


async def status_of(runs: RunService, run_id: str) -> WorkflowRunStatus:
    """Run `run_id` as the status endpoints answer it (`/workflows/run/status`, `/agents/run/status`)."""
    detail, definition = await runs.detail(run_id)
    run = await runs.get(run_id)
    by_key = {n.key: n for n in detail.nodes}
    spec_of = {n.key: n for n in definition.nodes} if definition else {}
    order = _node_order(definition) if definition else []
    keys = order + [k for k in by_key if k not in spec_of]

    def node_out(key: str) -> WorkflowRunNode:
        spec, record = spec_of.get(key), by_key.get(key)
        return WorkflowRunNode(
            key=key,
            name=spec.name if spec else "",
            agent_id=spec.agent_id if spec else None,
            status=record.status if record else NodeStatus.PENDING.value,
            attempt=record.attempt if record else 0,
            error=record.error if record else None,
            started_at=record.started_at if record else None,
            finished_at=record.finished_at if record else None,
        )

    nodes = [node_out(k) for k in keys]
    callback = None
    if run.callback_url:
        deliveries = await runs.callback_deliveries(run.id)
        callback = CallbackOut(
            url=run.callback_url,
            state=run.callback_state,
            attempts=run.callback_attempts,
            next_attempt_at=run.callback_due_at,
            deliveries=[
                CallbackAttemptOut(
                    attempt=d.attempt,
                    status_code=d.status_code,
                    error=d.error,
                    duration_ms=d.duration_ms,
                    at=d.created_at,
                )
                for d in deliveries
            ],
        )
    return WorkflowRunStatus(
        workflow_run_o_id=run.id,
        workflow_o_id=run.workflow_id,
        status=run.status,
        current_nodes=[n.key for n in nodes if n.status in _CURRENT],
        nodes=nodes,
        output=detail.output,
        error=detail.error,
        created_at=detail.created_at,
        started_at=detail.started_at,
        finished_at=detail.finished_at,
        callback=callback,
    )


def _node_order(definition: WorkflowDefinition) -> list[str]:
    """The steps in execution order (the run's version was valid when it started; this order is only cosmetic)."""
    try:
        return Plan.of(definition).order
    except WorkflowInvalid:
        return [n.key for n in definition.nodes]
