"""The ordered-steps API's runs (`/api/v1/workflows/…/run`, `/api/v1/workflows/runs/…`).

Compatible with the public ordered-steps workflow API (202 for run and resume, the run history's fields),
and extended where clients need more: a run's detail with each step's input and output, cancel, reject and
re-run from the failed step.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from app.api.access import PrincipalDep
from app.api.deps import ApprovalsDep, RunsDep
from app.api.openapi import CANNOT_RUN, conflict, not_found
from app.api.schemas import PageNumber, PageOut, PageSize, page_out
from app.engine.model import Trigger
from app.models.runs import (
    RejectRequest,
    ResumeAccepted,
    ResumeRequest,
    RunAccepted,
    RunDetail,
    RunPublic,
    RunRequest,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["runs"])

RUN_NOT_FOUND = not_found("run")
UNDECIDABLE = conflict("The run is not paused, has no pending approval there, or was decided by someone else just now.")


@router.post(
    "/workflows/{workflow_id}/run",
    response_model=RunAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=not_found("workflow") | CANNOT_RUN,
)
async def run_workflow(workflow_id: str, body: RunRequest, runs: RunsDep, principal: PrincipalDep) -> RunAccepted:
    """Start a run; it executes in the background. Poll the run, or give a `callbackUrl` to be sent its result."""
    run = await runs.start(
        workflow_id,
        input=body.input,
        session_id=body.session_id,
        trigger=Trigger.API,
        callback_url=body.callback_url,
        started_by=principal.label,
        until=body.until,
    )
    return RunAccepted(
        job_id=run.id, run_id=run.id, workflow_id=run.workflow_id, session_id=run.session_id, status=run.status.value
    )


@router.get("/workflows/{workflow_id}/runs", response_model=PageOut[RunPublic], responses=not_found("workflow"))
async def list_runs(workflow_id: str, runs: RunsDep, page: PageNumber = 0, size: PageSize = 20) -> dict[str, Any]:
    """A workflow's run history, newest first (paginated)."""
    return page_out(await runs.list(workflow_id, page=page, size=size))


@router.get("/workflows/runs/{run_id}", response_model=RunDetail, responses=RUN_NOT_FOUND)
async def get_run(run_id: str, runs: RunsDep) -> RunDetail:
    """One run with every step's input, output, error and timing, its approvals and its final output."""
    detail, _ = await runs.detail(run_id)
    return detail


@router.post(
    "/workflows/runs/{run_id}/resume",
    response_model=ResumeAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=RUN_NOT_FOUND | UNDECIDABLE,
)
async def resume_run(
    run_id: str, body: ResumeRequest, approvals: ApprovalsDep, principal: PrincipalDep
) -> ResumeAccepted:
    """Resume a PAUSED run: `output` becomes the paused step's output and the run continues from there."""
    approval = await approvals.resume(
        run_id, by=principal, output=body.output, node_key=body.node_key, decided_by=body.decided_by
    )
    return ResumeAccepted(job_id=run_id, run_id=run_id, approval_id=approval.id, status="QUEUED")


@router.post(
    "/workflows/runs/{run_id}/reject",
    response_model=ResumeAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=RUN_NOT_FOUND | UNDECIDABLE,
)
async def reject_run(
    run_id: str, body: RejectRequest, approvals: ApprovalsDep, principal: PrincipalDep
) -> ResumeAccepted:
    """Reject the paused step of a PAUSED run: the step and the run fail with the reason."""
    approval = await approvals.reject(
        run_id, by=principal, reason=body.reason, node_key=body.node_key, decided_by=body.decided_by
    )
    return ResumeAccepted(job_id=run_id, run_id=run_id, approval_id=approval.id, status="QUEUED")


@router.post(
    "/workflows/runs/{run_id}/cancel",
    response_model=RunPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=RUN_NOT_FOUND | conflict("The run has ended already, or changed while cancelling."),
)
async def cancel_run(run_id: str, runs: RunsDep) -> RunPublic:
    """Cancel a queued, running or paused run; its in-flight steps stop."""
    await runs.cancel(run_id)
    return await runs.public(run_id)


@router.post(
    "/workflows/runs/{run_id}/rerun",
    response_model=RunPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=RUN_NOT_FOUND | conflict("Only a FAILED or CANCELLED run can be re-run (or it changed meanwhile)."),
)
async def rerun_failed(run_id: str, runs: RunsDep) -> RunPublic:
    """Re-run a FAILED or CANCELLED run from its unfinished steps, keeping completed steps' outputs."""
    await runs.rerun_failed(run_id)
    return await runs.public(run_id)
