"""Schedules: a workflow run by itself on a cron expression or an interval, and each due time's fate."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import field_serializer
from sqlmodel import AutoString, Field, SQLModel

from app import clock
from app.models.base import Input, Label, Public

__all__ = [
    "CatchupPolicy",
    "FirePublic",
    "OverlapPolicy",
    "ScheduleBase",
    "ScheduleCreate",
    "SchedulePreview",
    "SchedulePreviewRequest",
    "SchedulePublic",
    "ScheduleUpdate",
]

OverlapPolicy = Literal["skip", "queue", "allow"]
CatchupPolicy = Literal["skip", "once", "all"]


class ScheduleBase(SQLModel):
    """What a user sets on a schedule."""

    name: str = Field(default="", max_length=200)
    cron: str | None = Field(
        default=None, max_length=200, description="5 fields: minute hour day-of-month month weekday."
    )
    interval_seconds: float | None = Field(
        default=None, description="Seconds between fires (instead of a cron expression)."
    )
    timezone: str = Field(
        default="UTC",
        max_length=64,
        description=(
            "IANA time zone the cron expression is read in; a new schedule that leaves it out gets the instance's"
            " default time zone (Settings → Instance; UTC unless an admin changed it)."
        ),
    )
    input: Any = Field(default=None, sa_type=sa.JSON, nullable=True, description="The payload each run starts with.")
    enabled: bool = True
    overlap_policy: OverlapPolicy = Field(default="skip", sa_type=AutoString(length=16))
    catchup_policy: CatchupPolicy = Field(default="skip", sa_type=AutoString(length=16))
    catchup_window_seconds: float = Field(default=3600.0, ge=0, le=31 * 86_400)
    pause_after_failures: int = Field(
        default=0, ge=0, le=1_000, description="Pause after this many failed runs in a row."
    )


class ScheduleCreate(ScheduleBase, Input):
    """A schedule's settings, whole (creating one, or replacing every setting of one)."""

    name: Label = Field(default="", max_length=200)


class ScheduleUpdate(Input):
    """Fields to change; the others keep their values. Send `intervalSeconds: null` to switch to a cron."""

    name: Label | None = Field(None, max_length=200)
    cron: str | None = Field(None, max_length=200)
    interval_seconds: float | None = None
    timezone: str | None = Field(None, max_length=64)
    input: Any = None
    enabled: bool | None = None
    overlap_policy: OverlapPolicy | None = None
    catchup_policy: CatchupPolicy | None = None
    catchup_window_seconds: float | None = Field(None, ge=0, le=31 * 86_400)
    pause_after_failures: int | None = Field(None, ge=0, le=1_000)


class _Times(Public):
    next_fire_times: list[datetime] = Field(description="The next fire times, in UTC.")

    @field_serializer("next_fire_times", when_used="json")
    def _iso_times(self, times: list[datetime]) -> list[str | None]:
        return [clock.iso(t) for t in times]


class FirePublic(Public):
    """One due time of a schedule and what became of it."""

    due_at: datetime
    outcome: str = Field(description="started, skipped-overlap, queued, starting or error.")
    run_id: str | None
    run_status: str | None
    error: str | None


class SchedulePreviewRequest(Input):
    cron: str | None = Field(None, max_length=200)
    interval_seconds: float | None = None
    timezone: str = Field("UTC", max_length=64)
    count: int = Field(5, ge=1, le=100)


class SchedulePreview(_Times):
    description: str


class SchedulePublic(ScheduleBase, _Times):
    """A schedule as the pages and the API show it."""

    id: str
    workflow_id: str
    workflow_name: str
    consecutive_failures: int
    paused_at: datetime | None
    paused_reason: str | None
    description: str
    last_fires: list[FirePublic] = Field(description="Up to ten, newest first.")
    created_at: datetime
    updated_at: datetime

    @property
    def spec(self) -> ScheduleCreate:
        """The schedule's settings, as they would be sent to recreate it."""
        return ScheduleCreate.model_validate(self.model_dump(include=set(ScheduleBase.model_fields)))
