"""The instance's own settings, kept in the database and changed by admins: how long finished runs are kept,
and the defaults for people who have chosen nothing themselves (time zone, theme).

A retention of `None` days keeps runs of that status forever. Queued, running and paused runs are never pruned,
whatever their age: only the finished statuses have a retention.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field
from sqlmodel import SQLModel

from app.models.base import Input, Public

__all__ = [
    "DEFAULT_THEME",
    "DEFAULT_TIME_ZONE",
    "MAX_RETENTION_DAYS",
    "About",
    "InstanceDefaults",
    "InstanceSettingsBase",
    "InstanceSettingsPublic",
    "InstanceSettingsUpdate",
    "PruneReport",
    "Retention",
    "Theme",
    "TimeZone",
    "time_zone_problem",
]

MAX_RETENTION_DAYS = 36_500
DEFAULT_TIME_ZONE = "UTC"


class Theme(StrEnum):
    """How pages look for someone who has not picked light or dark with the header's toggle."""

    LIGHT = "light"
    DARK = "dark"
    SYSTEM = "system"
    """Follow the operating system's (the browser's) light or dark preference."""


DEFAULT_THEME = Theme.LIGHT


def time_zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None when it is one."""
    if not name or name != name.strip():
        return "give an IANA time zone such as 'Europe/Berlin' or 'UTC'"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
    return None


def _time_zone(name: str) -> str:
    problem = time_zone_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_time_zone)]
"""An IANA time zone name (checked against the system's zone database)."""

Days = Annotated[int | None, Field(ge=1, le=MAX_RETENTION_DAYS)]


class Retention(Input):
    """How many days finished runs of each status are kept (with their step runs, approvals and callback
    deliveries); null keeps them forever. Queued, running and paused runs are never pruned."""

    completed_days: Days = Field(None, description="Completed runs older than this many days are deleted.")
    failed_days: Days = Field(None, description="Failed runs older than this many days are deleted.")
    cancelled_days: Days = Field(None, description="Cancelled runs older than this many days are deleted.")

    @property
    def active(self) -> bool:
        """Whether any status has a retention (else pruning deletes nothing)."""
        return any(days is not None for days in (self.completed_days, self.failed_days, self.cancelled_days))


class InstanceSettingsBase(SQLModel):
    """What an admin sets for the whole instance, as stored."""

    retention_completed_days: int | None = Field(default=None)
    retention_failed_days: int | None = Field(default=None)
    retention_cancelled_days: int | None = Field(default=None)
    default_time_zone: str = Field(default=DEFAULT_TIME_ZONE, max_length=64)
    default_theme: str = Field(default=DEFAULT_THEME.value, max_length=16)


class InstanceSettingsUpdate(Input):
    """Settings to change; those left out keep their values. `retention` is replaced whole: a status it leaves
    out (or sets to null) is kept forever."""

    retention: Retention | None = None
    default_time_zone: TimeZone | None = Field(
        None, description="IANA time zone for schedules and times shown where nobody chose one."
    )
    default_theme: Theme | None = Field(None, description="light, dark or system (follow the operating system).")


class About(Public):
    """Facts about this instance, read-only."""

    version: str
    database_kind: str = Field(description="sqlite or postgresql.")
    database_url: str = Field(description="The database URL, its password hidden.")
    data_dir: str = Field(description="Where Flowyard keeps its generated files (and the default SQLite file).")


class PruneReport(Public):
    """What one prune deleted."""

    runs: int
    node_runs: int = Field(description="Step runs deleted with their runs.")
    approvals: int
    callback_deliveries: int
    at: datetime


class InstanceSettingsPublic(Public):
    """The instance's settings, with facts about it and the last prune."""

    retention: Retention
    default_time_zone: str
    default_theme: Theme
    updated_at: datetime | None = None
    updated_by: str | None = None
    last_prune: PruneReport | None = None
    about: About


class InstanceDefaults(Public):
    """What pages and services fall back on where nobody chose: read often, so kept in memory."""

    time_zone: str = DEFAULT_TIME_ZONE
    theme: Theme = DEFAULT_THEME
