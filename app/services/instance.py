"""The instance's settings: run retention per status (applied daily and on demand), the default time zone and
theme, and facts about the instance (version, database, data directory).

The settings live in one database row, so every process of an instance reads the same; each process keeps the
defaults in memory (`defaults`, read by pages on every render) and reads them again every few seconds
(`refresh`), so a change made in one process shows in the others soon after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app import __version__
from app.engine.model import RunStatus
from app.models.instance import (
    DEFAULT_THEME,
    DEFAULT_TIME_ZONE,
    About,
    InstanceDefaults,
    InstanceSettingsPublic,
    InstanceSettingsUpdate,
    PruneReport,
    Retention,
    Theme,
)
from app.models.people import Principal
from app.models.runs import PruneResult
from app.services.audit import AuditService
from app.services.runs import RunService
from app.settings import Settings
from storage.db import Database
from storage.models import InstanceSettingsRow

__all__ = ["InstanceService", "about", "describe_change"]

ROW_ID = 1
REFRESH_SECONDS = 30.0
"""How soon a change made in another process reaches this one's pages."""
PRUNE_SECONDS = 86_400.0
"""Retention is applied once a day (and at start)."""


def _retention(row: InstanceSettingsRow | None) -> Retention:
    if row is None:
        return Retention()
    return Retention(
        completed_days=row.retention_completed_days,
        failed_days=row.retention_failed_days,
        cancelled_days=row.retention_cancelled_days,
    )


def _days(days: int | None) -> str:
    if days is None:
        return "forever"
    return "1 day" if days == 1 else f"{days} days"


def describe_change(before: InstanceSettingsPublic, after: InstanceSettingsPublic) -> str:
    """What a change did, in words, for the audit log and the page ("nothing" when it changed nothing)."""
    said = []
    for status, old, new in (
        ("completed", before.retention.completed_days, after.retention.completed_days),
        ("failed", before.retention.failed_days, after.retention.failed_days),
        ("cancelled", before.retention.cancelled_days, after.retention.cancelled_days),
    ):
        if old != new:
            said.append(f"keep {status} runs {_days(new)} (was {_days(old)})")
    if before.default_time_zone != after.default_time_zone:
        said.append(f"default time zone {after.default_time_zone} (was {before.default_time_zone})")
    if before.default_theme != after.default_theme:
        said.append(f"default theme {after.default_theme.value} (was {before.default_theme.value})")
    return "; ".join(said) or "nothing"


def about(settings: Settings) -> About:
    """The instance's version, database (its kind, and its URL with the password hidden) and data directory."""
    url = sa.make_url(settings.resolved_database_url)
    return About(
        version=__version__,
        database_kind=url.get_backend_name(),
        database_url=url.render_as_string(hide_password=True),
        data_dir=str(settings.data_dir.resolve()),
    )


class InstanceService:
    """Read and change the instance's settings; prune runs by their retention."""

    def __init__(
        self,
        db: Database,
        runs: RunService,
        audit: AuditService,
        settings: Settings,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._runs = runs
        self._audit = audit
        self._settings = settings
        self._now = now
        self.defaults = InstanceDefaults()
        """The default time zone and theme as last read: what pages use where nobody chose."""

    def about(self) -> About:
        return about(self._settings)

    def _public(self, row: InstanceSettingsRow | None) -> InstanceSettingsPublic:
        last = row.last_prune if row is not None else None
        return InstanceSettingsPublic(
            retention=_retention(row),
            default_time_zone=row.default_time_zone if row is not None else DEFAULT_TIME_ZONE,
            default_theme=Theme(row.default_theme) if row is not None else DEFAULT_THEME,
            updated_at=row.updated_at if row is not None else None,
            updated_by=row.updated_by if row is not None else None,
            last_prune=PruneReport.model_validate(last) if last else None,
            about=self.about(),
        )

    async def get(self) -> InstanceSettingsPublic:
        """The settings in force (the defaults until an admin first saves), with the facts and the last prune."""
        public = self._public(await self._db.tx(lambda s: s.get(InstanceSettingsRow, ROW_ID)))
        self._remember(public)
        return public

    async def refresh(self) -> InstanceDefaults:
        """Read the defaults again (another process may have changed them)."""
        await self.get()
        return self.defaults

    def _remember(self, public: InstanceSettingsPublic) -> None:
        self.defaults = InstanceDefaults(time_zone=public.default_time_zone, theme=public.default_theme)

    async def update(self, change: InstanceSettingsUpdate, *, by: Principal) -> InstanceSettingsPublic:
        """Change the settings (what `change` leaves out stays), in one transaction with its audit entry."""

        def write(session: Session) -> InstanceSettingsPublic:
            row = session.get(InstanceSettingsRow, ROW_ID, with_for_update=True)
            before = self._public(row)
            wanted = before.model_copy(
                update={
                    "retention": before.retention if change.retention is None else change.retention,
                    "default_time_zone": change.default_time_zone or before.default_time_zone,
                    "default_theme": change.default_theme or before.default_theme,
                }
            )
            said = describe_change(before, wanted)
            if said == "nothing":  # (saving what is there already records nothing)
                return before
            if row is None:
                row = InstanceSettingsRow(id=ROW_ID)
                session.add(row)
            row.retention_completed_days = wanted.retention.completed_days
            row.retention_failed_days = wanted.retention.failed_days
            row.retention_cancelled_days = wanted.retention.cancelled_days
            row.default_time_zone = wanted.default_time_zone
            row.default_theme = wanted.default_theme.value
            row.updated_at = self._now()
            row.updated_by = by.label[:254]
            self._audit.add(session, by, "settings.update", target="instance", detail=said)
            return self._public(row)

        try:
            after = await self._db.tx(write)
        except sa.exc.IntegrityError:  # another process saved the first settings at the same moment: apply on top
            after = await self._db.tx(write)
        self._remember(after)
        return after

    async def prune(self, *, by: Principal | None = None) -> PruneReport:
        """Delete the finished runs older than their status's retention (with their step runs, approvals and
        callback deliveries), in short batches; record and return what went. Active runs always stay."""
        retention = (await self.get()).retention
        total = PruneResult()
        for status, days in (
            (RunStatus.COMPLETED, retention.completed_days),
            (RunStatus.FAILED, retention.failed_days),
            (RunStatus.CANCELLED, retention.cancelled_days),
        ):
            if days is not None:
                total += await self._runs.prune(older_than=timedelta(days=days), statuses=[status])
        report = PruneReport(
            runs=total.runs,
            node_runs=total.node_runs,
            approvals=total.approvals,
            callback_deliveries=total.callback_deliveries,
            at=self._now(),
        )
        if retention.active:
            await self._record_prune(report, by)
        return report

    async def prune_by_retention(self) -> None:
        """The daily job: apply the retention as the system."""
        await self.prune()

    async def _record_prune(self, report: PruneReport, by: Principal | None) -> None:
        said: dict[str, Any] = report.model_dump(mode="json", by_alias=True)

        def write(session: Session) -> None:
            row = session.get(InstanceSettingsRow, ROW_ID)
            if row is None:  # (retention is active, so the row exists; unless it was deleted meanwhile)
                return
            row.last_prune = said
            if by is not None or report.runs:
                detail = f"deleted {report.runs} run(s) past their retention"
                self._audit.add(session, by or Principal.system(), "settings.prune", target="runs", detail=detail)

        await self._db.tx(write)
