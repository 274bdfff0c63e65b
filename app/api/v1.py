"""The ordered-steps API (`/api/v1`): workflows, steps, runs, approvals and saved agents.

Compatible with the public ordered-steps workflow API (field names, 202 for run and resume,
`content`/`totalElements`/`totalPages` pages), and extended where clients need more: a run's
detail with each node's input and output, cancel, reject and re-run from the failed step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from app.agents import registry
from app.api.schemas import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
    ApprovalOut,
    CredentialCreate,
    CredentialOut,
    CredentialUpdate,
    EdgeOut,
    KindOut,
    NodeRunOut,
    PageOut,
    RejectRequest,
    ResumeAccepted,
    ResumeRequest,
    RunAccepted,
    RunDetailOut,
    RunOut,
    RunRequest,
    SessionDetailOut,
    SessionMessageOut,
    SessionOut,
    SessionPageOut,
    StepIn,
    StepOut,
    WorkflowCreate,
    WorkflowDetailOut,
    WorkflowOut,
    WorkflowUpdate,
)
from app.clock import now
from app.credentials import CredentialInfo
from app.engine.model import Approval, Trigger
from app.services import Flowyard, Page, SessionSummary, StepCreate
from storage.models import AgentRow, NodeRow, NodeRunRow, RunRow, WorkflowRow

__all__ = ["router"]


def get_flowyard(request: Request) -> Flowyard:
    flowyard: Flowyard = request.app.state.flowyard
    return flowyard


FlowyardDep = Annotated[Flowyard, Depends(get_flowyard)]
PageNumber = Annotated[int, Query(ge=0, le=10_000_000, description="Zero-based page number.")]
PageSize = Annotated[int, Query(ge=1, le=200, description="Items per page.")]

router = APIRouter(prefix="/api/v1")


def _page(page: Page[Any], items: list[Any]) -> dict[str, Any]:
    return {
        "content": items,
        "totalElements": page.total,
        "totalPages": page.pages,
        "page": page.page,
        "size": page.size,
    }


def _workflow_out(row: WorkflowRow) -> WorkflowOut:
    return WorkflowOut.model_validate(row, from_attributes=True)


def _step_out(row: NodeRow) -> StepOut:
    return StepOut.model_validate(row, from_attributes=True)


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds() * 1000))


def _run_out(row: RunRow) -> dict[str, Any]:
    end = row.finished_at or (row.updated_at if row.status in ("COMPLETED", "FAILED", "CANCELLED", "PAUSED") else now())
    return {
        "id": row.id,
        "run_id": row.id,
        "workflow_id": row.workflow_id,
        "workflow_version": row.workflow_version,
        "session_id": row.session_id,
        "status": row.status,
        "trigger": row.trigger,
        "current_step_order": row.current_step_order,
        "duration_ms": _ms(row.created_at, end) or 0,
        "total_tokens": row.total_tokens,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _approval_out(approval: Approval) -> ApprovalOut:
    return ApprovalOut.model_validate(approval, from_attributes=True)


def _agent_out(row: AgentRow) -> AgentOut:
    return AgentOut.model_validate(row, from_attributes=True)


# --- workflows ----------------------------------------------------------------------------------------


@router.get("/workflows", response_model=PageOut[WorkflowOut], tags=["workflows"])
async def list_workflows(
    flowyard: FlowyardDep,
    page: PageNumber = 0,
    size: PageSize = 20,
    search: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """List all workflows, newest first (paginated)."""
    result = await flowyard.list_workflows(page=page, size=size, search=search)
    return _page(result, [_workflow_out(w) for w in result.items])


@router.post("/workflows", response_model=WorkflowOut, status_code=status.HTTP_201_CREATED, tags=["workflows"])
async def create_workflow(body: WorkflowCreate, flowyard: FlowyardDep) -> WorkflowOut:
    """Create a new workflow."""
    return _workflow_out(await flowyard.create_workflow(name=body.name, description=body.description))


@router.get("/workflows/{workflow_id}", response_model=WorkflowDetailOut, tags=["workflows"])
async def get_workflow(workflow_id: str, flowyard: FlowyardDep) -> WorkflowDetailOut:
    """Get a workflow by id, with its steps and the edges between them."""
    workflow = await flowyard.get_workflow(workflow_id)
    steps = await flowyard.steps(workflow_id)
    definition = await flowyard.definition(workflow_id)
    return WorkflowDetailOut(
        **_workflow_out(workflow).model_dump(),
        steps=[_step_out(s) for s in steps],
        edges=[EdgeOut.model_validate(e, from_attributes=True) for e in definition.edges],
    )


@router.patch("/workflows/{workflow_id}", response_model=WorkflowOut, tags=["workflows"])
async def update_workflow(workflow_id: str, body: WorkflowUpdate, flowyard: FlowyardDep) -> WorkflowOut:
    """Update a workflow's name or description."""
    workflow = await flowyard.update_workflow(workflow_id, name=body.name, description=body.description)
    return _workflow_out(workflow)


@router.delete("/workflows/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["workflows"])
async def delete_workflow(workflow_id: str, flowyard: FlowyardDep) -> Response:
    """Delete a workflow, its steps and its run history (refused while runs are active)."""
    await flowyard.delete_workflow(workflow_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/workflows/{workflow_id}/clone",
    response_model=WorkflowOut,
    status_code=status.HTTP_201_CREATED,
    tags=["workflows"],
)
async def clone_workflow(workflow_id: str, flowyard: FlowyardDep) -> WorkflowOut:
    """Clone a workflow with all its steps; the copy's name ends in " (Copy)"."""
    return _workflow_out(await flowyard.clone_workflow(workflow_id))


# --- steps ----------------------------------------------------------------------------------------------


@router.get("/workflows/{workflow_id}/steps", response_model=list[StepOut], tags=["steps"])
async def list_steps(workflow_id: str, flowyard: FlowyardDep) -> list[StepOut]:
    """List a workflow's steps in step order."""
    return [_step_out(s) for s in await flowyard.steps(workflow_id)]


@router.post(
    "/workflows/{workflow_id}/steps", response_model=StepOut, status_code=status.HTTP_201_CREATED, tags=["steps"]
)
async def add_step(workflow_id: str, body: StepIn, flowyard: FlowyardDep) -> StepOut:
    """Add a step. It runs after the previous step in `stepOrder` (default: appended at the end)."""
    step = StepCreate.model_validate(body.model_dump())
    return _step_out(await flowyard.add_step(workflow_id, step))


@router.delete("/workflows/{workflow_id}/steps/{step_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["steps"])
async def delete_step(workflow_id: str, step_id: str, flowyard: FlowyardDep) -> Response:
    """Remove a step; its neighbours are joined so the sequence stays connected."""
    await flowyard.delete_step(workflow_id, step_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- runs ------------------------------------------------------------------------------------------------


@router.post(
    "/workflows/{workflow_id}/run", response_model=RunAccepted, status_code=status.HTTP_202_ACCEPTED, tags=["runs"]
)
async def run_workflow(workflow_id: str, body: RunRequest, flowyard: FlowyardDep) -> RunAccepted:
    """Start a run; it executes in the background. Poll the run, or give a `callbackUrl` to be sent its result."""
    run = await flowyard.start_run(
        workflow_id, input=body.input, session_id=body.session_id, trigger=Trigger.API, callback_url=body.callback_url
    )
    return RunAccepted(
        job_id=run.id, run_id=run.id, workflow_id=run.workflow_id, session_id=run.session_id, status=run.status.value
    )


@router.get("/workflows/{workflow_id}/runs", response_model=PageOut[RunOut], tags=["runs"])
async def list_runs(
    workflow_id: str, flowyard: FlowyardDep, page: PageNumber = 0, size: PageSize = 20
) -> dict[str, Any]:
    """A workflow's run history, newest first (paginated)."""
    result = await flowyard.list_runs(workflow_id, page=page, size=size)
    return _page(result, [_run_out(r) for r in result.items])


@router.get("/workflows/runs/{run_id}", response_model=RunDetailOut, tags=["runs"])
async def get_run(run_id: str, flowyard: FlowyardDep) -> dict[str, Any]:
    """One run with every node's input, output, error and timing, its approvals and its final output."""
    run, nodes, approvals, definition = await flowyard.run_detail(run_id)
    agent_of = {n.key: n.agent_id for n in definition.nodes} if definition else {}
    order = {n.key: i for i, n in enumerate(definition.nodes)} if definition else {}

    def node_out(n: NodeRunRow) -> NodeRunOut:
        return NodeRunOut(
            key=n.node_key,
            step_order=n.step_order,
            agent_id=agent_of.get(n.node_key),
            status=n.status,
            attempt=n.attempt,
            input=n.input,
            output=n.output,
            error=n.error,
            started_at=n.started_at,
            finished_at=n.finished_at,
            duration_ms=_ms(n.started_at, n.finished_at),
            usage=n.usage,
        )

    ordered = sorted(nodes, key=lambda n: (n.step_order or 0, order.get(n.node_key, 0)))
    return {
        **_run_out(run),
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "parent_run_id": run.parent_run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "nodes": [node_out(n) for n in ordered],
        "approvals": [_approval_out(a) for a in approvals],
    }


@router.post(
    "/workflows/runs/{run_id}/resume",
    response_model=ResumeAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["runs"],
)
async def resume_run(run_id: str, body: ResumeRequest, flowyard: FlowyardDep) -> ResumeAccepted:
    """Resume a PAUSED run: `output` becomes the paused step's output and the run continues from there."""
    approval = await flowyard.resume(run_id, output=body.output, node_key=body.node_key, decided_by=body.decided_by)
    return ResumeAccepted(job_id=run_id, run_id=run_id, approval_id=approval.id, status="QUEUED")


@router.post(
    "/workflows/runs/{run_id}/reject",
    response_model=ResumeAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    tags=["runs"],
)
async def reject_run(run_id: str, body: RejectRequest, flowyard: FlowyardDep) -> ResumeAccepted:
    """Reject the paused step of a PAUSED run: the step and the run fail with the reason."""
    approval = await flowyard.reject(run_id, reason=body.reason, node_key=body.node_key, decided_by=body.decided_by)
    return ResumeAccepted(job_id=run_id, run_id=run_id, approval_id=approval.id, status="QUEUED")


@router.post(
    "/workflows/runs/{run_id}/cancel", response_model=RunOut, status_code=status.HTTP_202_ACCEPTED, tags=["runs"]
)
async def cancel_run(run_id: str, flowyard: FlowyardDep) -> dict[str, Any]:
    """Cancel a queued, running or paused run; its in-flight steps stop."""
    await flowyard.cancel(run_id)
    return _run_out(await flowyard.get_run(run_id))


@router.post(
    "/workflows/runs/{run_id}/rerun", response_model=RunOut, status_code=status.HTTP_202_ACCEPTED, tags=["runs"]
)
async def rerun_failed(run_id: str, flowyard: FlowyardDep) -> dict[str, Any]:
    """Re-run a FAILED or CANCELLED run from its unfinished steps, keeping completed steps' outputs."""
    await flowyard.rerun_failed(run_id)
    return _run_out(await flowyard.get_run(run_id))


# --- agents ------------------------------------------------------------------------------------------------


@router.get("/agents", response_model=PageOut[AgentOut], tags=["agents"])
async def list_agents(flowyard: FlowyardDep, page: PageNumber = 0, size: PageSize = 20) -> dict[str, Any]:
    """Saved agents (paginated)."""
    result = await flowyard.list_agents(page=page, size=size)
    return _page(result, [_agent_out(a) for a in result.items])


@router.get("/agents/kinds", response_model=list[KindOut], tags=["agents"])
async def list_kinds() -> list[KindOut]:
    """Agent kinds, with the JSON Schema of their config and input."""
    return [
        KindOut(
            kind=k.kind,
            title=k.title,
            group=k.group,
            description=k.description,
            config_schema=k.model_json_schema(),
            input_schema=k.input_schema,
        )
        for k in registry.KINDS.values()
    ]


@router.post("/agents", response_model=AgentOut, status_code=status.HTTP_201_CREATED, tags=["agents"])
async def create_agent(body: AgentCreate, flowyard: FlowyardDep) -> AgentOut:
    """Save a configured agent under a stable id."""
    agent = await flowyard.create_agent(
        id=body.id, name=body.name, kind=body.kind, description=body.description, config=body.config
    )
    return _agent_out(agent)


@router.get("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
async def get_agent(agent_id: str, flowyard: FlowyardDep) -> AgentOut:
    return _agent_out(await flowyard.get_agent(agent_id))


@router.patch("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
async def update_agent(agent_id: str, body: AgentUpdate, flowyard: FlowyardDep) -> AgentOut:
    """Change an agent's name, description or config (validated against its kind)."""
    agent = await flowyard.update_agent(agent_id, name=body.name, description=body.description, config=body.config)
    return _agent_out(agent)


@router.delete("/agents/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["agents"])
async def delete_agent(agent_id: str, flowyard: FlowyardDep) -> Response:
    """Delete a saved agent (refused while a workflow uses it)."""
    await flowyard.delete_agent(agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- credentials -------------------------------------------------------------------------------------------


def _credential_out(info: CredentialInfo) -> CredentialOut:
    return CredentialOut(name=info.name, type=info.type, created_at=info.created_at, updated_at=info.updated_at)


@router.get("/credentials", response_model=list[CredentialOut], tags=["credentials"])
async def list_credentials(flowyard: FlowyardDep) -> list[CredentialOut]:
    """Every credential's name, type and timestamps; values are never returned."""
    return [_credential_out(info) for info in await flowyard.list_credentials()]


@router.post("/credentials", response_model=CredentialOut, status_code=status.HTTP_201_CREATED, tags=["credentials"])
async def create_credential(body: CredentialCreate, flowyard: FlowyardDep) -> CredentialOut:
    """Store a named secret, encrypted; agents refer to it by name (config `credential`)."""
    return _credential_out(await flowyard.create_credential(body.name, body.type, body.values))


@router.put("/credentials/{name}", response_model=CredentialOut, tags=["credentials"])
async def update_credential(name: str, body: CredentialUpdate, flowyard: FlowyardDep) -> CredentialOut:
    """Replace a credential's values (write-only: they cannot be read back)."""
    return _credential_out(await flowyard.update_credential(name, body.values))


@router.delete("/credentials/{name}", status_code=status.HTTP_204_NO_CONTENT, tags=["credentials"])
async def delete_credential(name: str, flowyard: FlowyardDep) -> Response:
    """Delete a credential (refused while a saved agent or a workflow step refers to it)."""
    await flowyard.delete_credential(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- sessions --------------------------------------------------------------------------------------------


def _session_out(summary: SessionSummary) -> SessionOut:
    return SessionOut(
        id=summary.id, message_count=summary.messages, created_at=summary.created_at, updated_at=summary.updated_at
    )


@router.get("/sessions", response_model=SessionPageOut, tags=["sessions"])
async def list_sessions(
    flowyard: FlowyardDep,
    after: Annotated[str | None, Query(max_length=200, description="`nextCursor` of the previous page.")] = None,
    size: Annotated[int, Query(ge=1, le=500, description="Sessions per page.")] = 50,
) -> SessionPageOut:
    """Conversation sessions of llm steps, most recently used first."""
    page = await flowyard.list_sessions(after=after, size=size)
    return SessionPageOut(content=[_session_out(s) for s in page.items], next_cursor=page.next_cursor)


@router.get("/sessions/{session_id}", response_model=SessionDetailOut, tags=["sessions"])
async def get_session(session_id: str, flowyard: FlowyardDep) -> SessionDetailOut:
    """One session with every message its llm steps exchanged, oldest first."""
    summary = await flowyard.get_session(session_id)
    messages = await flowyard.session_messages(session_id)
    return SessionDetailOut(
        **_session_out(summary).model_dump(),
        messages=[
            SessionMessageOut(
                role=m.role, content=m.content, run_id=m.run_id, node_key=m.node_key, created_at=m.created_at
            )
            for m in messages
        ],
    )


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["sessions"])
async def clear_session(session_id: str, flowyard: FlowyardDep) -> Response:
    """Forget a session: later runs with its id start a fresh conversation."""
    await flowyard.clear_session(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
