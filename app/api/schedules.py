"""The schedules API (`/api/v1/...schedules`): a workflow's schedules, their next fire times and last fires.

Bodies use the camelCase names of the rest of `/api/v1`. A schedule that cannot be scheduled (bad
cron expression, unknown time zone, an input the workflow's entry step refuses) is answered 422
with the field named, and nothing is saved.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.deps import SchedulesDep
from app.api.openapi import not_found
from app.models.schedules import (
    ScheduleCreate,
    SchedulePreview,
    SchedulePreviewRequest,
    SchedulePublic,
    ScheduleUpdate,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["schedules"])

SCHEDULE_NOT_FOUND = not_found("schedule")


@router.get("/workflows/{workflow_id}/schedules", response_model=list[SchedulePublic], responses=not_found("workflow"))
async def list_workflow_schedules(workflow_id: str, schedules: SchedulesDep) -> list[SchedulePublic]:
    """The workflow's schedules, oldest first."""
    return await schedules.list(workflow_id)


@router.post(
    "/workflows/{workflow_id}/schedules",
    response_model=SchedulePublic,
    status_code=status.HTTP_201_CREATED,
    responses=not_found("workflow"),
)
async def create_schedule(workflow_id: str, body: ScheduleCreate, schedules: SchedulesDep) -> SchedulePublic:
    """Schedule the workflow: a `cron` expression (5 fields) or `intervalSeconds`, read in `timezone`."""
    return await schedules.create(workflow_id, body)


@router.get("/schedules", response_model=list[SchedulePublic], responses=not_found("workflow"))
async def list_schedules(
    schedules: SchedulesDep,
    workflow_id: Annotated[str | None, Query(alias="workflowId", max_length=40)] = None,
) -> list[SchedulePublic]:
    """Every schedule (of one workflow with `workflowId`)."""
    return await schedules.list(workflow_id)


@router.post("/schedules/preview", response_model=SchedulePreview)
async def preview_schedule(body: SchedulePreviewRequest, schedules: SchedulesDep) -> SchedulePreview:
    """What a cron expression or interval means and when it would fire next, without saving anything."""
    return schedules.preview(
        cron=body.cron, interval_seconds=body.interval_seconds, timezone=body.timezone, count=body.count
    )


@router.get("/schedules/{schedule_id}", response_model=SchedulePublic, responses=SCHEDULE_NOT_FOUND)
async def get_schedule(schedule_id: str, schedules: SchedulesDep) -> SchedulePublic:
    return await schedules.get(schedule_id)


@router.put("/schedules/{schedule_id}", response_model=SchedulePublic, responses=SCHEDULE_NOT_FOUND)
async def replace_schedule(schedule_id: str, body: ScheduleCreate, schedules: SchedulesDep) -> SchedulePublic:
    """Replace every setting of the schedule (fields left out take their defaults)."""
    return await schedules.update(schedule_id, body)


@router.patch("/schedules/{schedule_id}", response_model=SchedulePublic, responses=SCHEDULE_NOT_FOUND)
async def change_schedule(schedule_id: str, body: ScheduleUpdate, schedules: SchedulesDep) -> SchedulePublic:
    """Change some settings of the schedule."""
    current = await schedules.get(schedule_id)
    nullable = {"cron", "interval_seconds", "input"}
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in nullable}
    try:
        spec = ScheduleCreate.model_validate({**current.spec.model_dump(), **changes})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return await schedules.update(schedule_id, spec)


@router.delete("/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=SCHEDULE_NOT_FOUND)
async def delete_schedule(schedule_id: str, schedules: SchedulesDep) -> Response:
    await schedules.delete(schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/schedules/{schedule_id}/enable", response_model=SchedulePublic, responses=SCHEDULE_NOT_FOUND)
async def enable_schedule(schedule_id: str, schedules: SchedulesDep) -> SchedulePublic:
    """Switch the schedule on (clearing a pause after failures)."""
    return await schedules.set_enabled(schedule_id, True)


@router.post("/schedules/{schedule_id}/disable", response_model=SchedulePublic, responses=SCHEDULE_NOT_FOUND)
async def disable_schedule(schedule_id: str, schedules: SchedulesDep) -> SchedulePublic:
    return await schedules.set_enabled(schedule_id, False)
