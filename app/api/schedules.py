"""The schedules API (`/api/v1/...schedules`): a workflow's schedules, their next fire times and last fires.

Bodies use the camelCase names of the rest of `/api/v1`. A schedule that cannot be scheduled (bad
cron expression, unknown time zone, an input the workflow's entry step refuses) is answered 422
with the field named, and nothing is saved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError, field_serializer

from app import clock
from app.api.schemas import ApiModel
from app.scheduling import FireInfo, ScheduleInfo, Schedules, ScheduleSpec

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["schedules"])


def get_schedules(request: Request) -> Schedules:
    schedules: Schedules = request.app.state.flowyard.schedules
    return schedules


SchedulesDep = Annotated[Schedules, Depends(get_schedules)]


class _Times(ApiModel):
    next_fire_times: list[datetime] = Field(description="The next fire times, in UTC.")

    @field_serializer("next_fire_times", when_used="json")
    def _iso_times(self, times: list[datetime]) -> list[str | None]:
        return [clock.iso(t) for t in times]


class FireOut(ApiModel):
    due_at: datetime
    outcome: str = Field(description="started, skipped-overlap, queued, starting or error.")
    run_id: str | None
    run_status: str | None
    error: str | None


class ScheduleOut(_Times):
    id: str
    workflow_id: str
    workflow_name: str
    name: str
    cron: str | None
    interval_seconds: float | None
    timezone: str
    input: Any
    enabled: bool
    overlap_policy: str
    catchup_policy: str
    catchup_window_seconds: float
    pause_after_failures: int
    consecutive_failures: int
    paused_at: datetime | None
    paused_reason: str | None
    description: str
    last_fires: list[FireOut] = Field(description="Up to ten, newest first.")
    created_at: datetime
    updated_at: datetime


class ScheduleChange(ApiModel):
    """Fields to change; the others keep their values. Send `intervalSeconds: null` to switch to a cron."""

    name: str | None = Field(None, max_length=200)
    cron: str | None = Field(None, max_length=200)
    interval_seconds: float | None = None
    timezone: str | None = Field(None, max_length=64)
    input: Any = None
    enabled: bool | None = None
    overlap_policy: Literal["skip", "queue", "allow"] | None = None
    catchup_policy: Literal["skip", "once", "all"] | None = None
    catchup_window_seconds: float | None = Field(None, ge=0, le=31 * 86_400)
    pause_after_failures: int | None = Field(None, ge=0, le=1_000)


class PreviewRequest(ApiModel):
    cron: str | None = Field(None, max_length=200)
    interval_seconds: float | None = None
    timezone: str = Field("UTC", max_length=64)
    count: int = Field(5, ge=1, le=100)


class PreviewOut(_Times):
    description: str


def _fire_out(fire: FireInfo) -> FireOut:
    return FireOut(
        due_at=fire.due_at, outcome=fire.outcome, run_id=fire.run_id, run_status=fire.run_status, error=fire.error
    )


def _out(info: ScheduleInfo) -> ScheduleOut:
    return ScheduleOut(
        id=info.id,
        workflow_id=info.workflow_id,
        workflow_name=info.workflow_name,
        name=info.name,
        cron=info.cron,
        interval_seconds=info.interval_seconds,
        timezone=info.timezone,
        input=info.input,
        enabled=info.enabled,
        overlap_policy=info.overlap_policy,
        catchup_policy=info.catchup_policy,
        catchup_window_seconds=info.catchup_window_seconds,
        pause_after_failures=info.pause_after_failures,
        consecutive_failures=info.consecutive_failures,
        paused_at=info.paused_at,
        paused_reason=info.paused_reason,
        description=info.description,
        next_fire_times=info.next_fire_times,
        last_fires=[_fire_out(f) for f in info.last_fires],
        created_at=info.created_at,
        updated_at=info.updated_at,
    )


@router.get("/workflows/{workflow_id}/schedules", response_model=list[ScheduleOut])
async def list_workflow_schedules(workflow_id: str, schedules: SchedulesDep) -> list[ScheduleOut]:
    """The workflow's schedules, oldest first."""
    return [_out(info) for info in await schedules.list(workflow_id)]


@router.post("/workflows/{workflow_id}/schedules", response_model=ScheduleOut, status_code=status.HTTP_201_CREATED)
async def create_schedule(workflow_id: str, body: ScheduleSpec, schedules: SchedulesDep) -> ScheduleOut:
    """Schedule the workflow: a `cron` expression (5 fields) or `intervalSeconds`, read in `timezone`."""
    return _out(await schedules.create(workflow_id, body))


@router.get("/schedules", response_model=list[ScheduleOut])
async def list_schedules(
    schedules: SchedulesDep,
    workflow_id: Annotated[str | None, Query(alias="workflowId", max_length=40)] = None,
) -> list[ScheduleOut]:
    """Every schedule (of one workflow with `workflowId`)."""
    return [_out(info) for info in await schedules.list(workflow_id)]


@router.post("/schedules/preview", response_model=PreviewOut)
async def preview_schedule(body: PreviewRequest, schedules: SchedulesDep) -> PreviewOut:
    """What a cron expression or interval means and when it would fire next, without saving anything."""
    preview = schedules.preview(
        cron=body.cron, interval_seconds=body.interval_seconds, timezone=body.timezone, count=body.count
    )
    return PreviewOut(description=preview.description, next_fire_times=preview.next_fire_times)


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut)
async def get_schedule(schedule_id: str, schedules: SchedulesDep) -> ScheduleOut:
    return _out(await schedules.get(schedule_id))


@router.put("/schedules/{schedule_id}", response_model=ScheduleOut)
async def replace_schedule(schedule_id: str, body: ScheduleSpec, schedules: SchedulesDep) -> ScheduleOut:
    """Replace every setting of the schedule (fields left out take their defaults)."""
    return _out(await schedules.update(schedule_id, body))


@router.patch("/schedules/{schedule_id}", response_model=ScheduleOut)
async def change_schedule(schedule_id: str, body: ScheduleChange, schedules: SchedulesDep) -> ScheduleOut:
    """Change some settings of the schedule."""
    current = await schedules.get(schedule_id)
    nullable = {"cron", "interval_seconds", "input"}
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in nullable}
    try:
        spec = ScheduleSpec.model_validate({**current.spec.model_dump(), **changes})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return _out(await schedules.update(schedule_id, spec))


@router.delete("/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(schedule_id: str, schedules: SchedulesDep) -> Response:
    await schedules.delete(schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/schedules/{schedule_id}/enable", response_model=ScheduleOut)
async def enable_schedule(schedule_id: str, schedules: SchedulesDep) -> ScheduleOut:
    """Switch the schedule on (clearing a pause after failures)."""
    return _out(await schedules.set_enabled(schedule_id, True))


@router.post("/schedules/{schedule_id}/disable", response_model=ScheduleOut)
async def disable_schedule(schedule_id: str, schedules: SchedulesDep) -> ScheduleOut:
    return _out(await schedules.set_enabled(schedule_id, False))
