"""Firing a schedule: each due time at most once, by its catch-up and overlap policies; counting its runs.

A due time fires at most once: its `schedule_fires` row is inserted before the run starts and the
database refuses a second one. Then the overlap policy decides: `skip` (nothing while a run of this
schedule is active), `queue` (recorded, started when the active run ends) or `allow`. A run that
fails, or cannot start, counts towards `pause_after_failures`; a completed run resets the count.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col

from app.engine.exceptions import InvalidInput, NotFound, WorkflowInvalid
from app.engine.model import RunRecord, RunStatus, Trigger
from storage import schedules as store
from storage.db import Database
from storage.models import ScheduleFireRow, ScheduleRow
from storage.schedules import FireOutcome

__all__ = ["ON_TIME", "Firing", "RunStarter", "later"]

log = logging.getLogger("flowyard.schedules")

ON_TIME = timedelta(seconds=30)
"""A due time this recent is on time: it fires under every catch-up policy."""


class RunStarter(Protocol):
    """What schedules need of the runs service (`app.services.runs.RunService`)."""

    async def start(self, workflow_id: str, *, input: Any, trigger: Trigger = Trigger.API) -> RunRecord: ...


def later(row: ScheduleRow, now: datetime) -> datetime:
    """`now`, or just after the last change: the revision that jobs are reconciled by only moves forward."""
    if row.updated_at is not None and now <= row.updated_at:
        return row.updated_at + timedelta(milliseconds=1)
    return now


def _paused_reason(failures: int) -> str:
    return f"Paused after {failures} failed run{'s' if failures != 1 else ''} in a row"


class Firing:
    """Fires schedules' due times and counts how their runs ended (one per process, inside the service)."""

    def __init__(
        self, db: Database, runs: RunStarter, *, now: Callable[[], datetime], unschedule: Callable[[str], None]
    ) -> None:
        self._db = db
        self._runs = runs
        self._now = now
        self._unschedule = unschedule
        self.taken = 0
        """Due times this process fired (it inserted their fire first)."""
        self.lost = 0
        """Due times another process fired first: this one found the fire already taken and did nothing."""

    async def fire(self, schedule_id: str, due_times: builtins.list[datetime]) -> None:
        """Fire the schedule for those of `due_times` its catch-up policy keeps, each at most once."""
        now = self._now()
        row = await self._db.tx(lambda s: store.get_schedule(s, schedule_id=schedule_id))
        if row is None or not row.enabled:
            return
        for due in self._kept(row, due_times, now):
            await self._fire_once(row, due)

    @staticmethod
    def _kept(row: ScheduleRow, due_times: builtins.list[datetime], now: datetime) -> builtins.list[datetime]:
        """The catch-up policy: on-time fires always run; missed ones run once (the latest) or each, in the window."""
        times = sorted(due_times)
        if row.catchup_policy == "skip":
            return [t for t in times[-1:] if now - t <= ON_TIME]
        window = max(timedelta(seconds=row.catchup_window_seconds), ON_TIME)
        within = [t for t in times if now - t <= window]
        return within[-1:] if row.catchup_policy == "once" else within

    async def _fire_once(self, row: ScheduleRow, due: datetime) -> None:
        now = self._now()

        def take(session: Session) -> tuple[int, str] | None:
            fire = store.add_fire(session, schedule_id=row.id, due_at=due, outcome=FireOutcome.STARTING, now=now)
            if fire is None or fire.id is None:
                return None  # another process fired this due time
            busy = store.active_fires(session, schedule_id=row.id, now=now, exclude=fire.id)
            if row.overlap_policy == "queue" and not busy:
                busy = int(row.id in store.queued_schedule_ids(session))
            if busy and row.overlap_policy == "skip":
                fire.outcome = FireOutcome.SKIPPED
            elif busy and row.overlap_policy == "queue":
                fire.outcome = FireOutcome.QUEUED
            session.add(fire)
            return fire.id, fire.outcome

        taken = await self._db.tx(take)
        if taken is None:
            self.lost += 1
            return
        self.taken += 1
        if taken[1] == FireOutcome.STARTING:
            await self._start(row.id, taken[0])

    async def _start(self, schedule_id: str, fire_id: int) -> None:
        """Start the run of a fire that is starting; a run that cannot start is a failed fire."""
        row = await self._db.tx(lambda s: store.get_schedule(s, schedule_id=schedule_id))
        if row is None:
            return
        try:
            run = await self._runs.start(row.workflow_id, input=row.input, trigger=Trigger.SCHEDULE)
        except (InvalidInput, WorkflowInvalid, NotFound) as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("schedule %s could not start its run", schedule_id)
            error = f"{type(exc).__name__}: {exc}"
        else:
            await self._record(fire_id, outcome=FireOutcome.STARTED, run_id=run.id)
            return
        await self._record(fire_id, outcome=FireOutcome.ERROR, error=error[:2000])
        await self._count(schedule_id, failed=True)

    async def _record(self, fire_id: int, *, outcome: str, run_id: str | None = None, error: str | None = None) -> None:
        def record(session: Session) -> None:
            session.execute(
                sa.update(ScheduleFireRow)
                .where(col(ScheduleFireRow.id) == fire_id)
                .values(outcome=outcome, run_id=run_id, error=error)
            )

        await self._db.tx(record)

    async def _count(self, schedule_id: str, *, failed: bool) -> None:
        """Count a run's end: a failure adds one (pausing the schedule at its limit), a success resets."""
        now = self._now()

        def count(session: Session) -> bool:
            table = ScheduleRow
            if not failed:
                session.execute(sa.update(table).where(col(table.id) == schedule_id).values(consecutive_failures=0))
                return False
            session.execute(
                sa.update(table)
                .where(col(table.id) == schedule_id)
                .values(consecutive_failures=col(table.consecutive_failures) + 1)
            )
            row = store.get_schedule(session, schedule_id=schedule_id)
            if row is None:
                return False
            session.refresh(row)
            limit = row.pause_after_failures
            if not (row.enabled and limit and row.consecutive_failures >= limit):
                return False
            row.enabled = False
            row.paused_at = now
            row.paused_reason = _paused_reason(row.consecutive_failures)
            row.updated_at = later(row, now)
            session.add(row)
            return True

        if await self._db.tx(count):
            self._unschedule(schedule_id)

    async def sweep(self) -> None:
        """Count the runs of schedules that ended, then start queued fires whose schedule has no active run."""
        now = self._now()
        ended = await self._db.tx(store.unsettled_ended_fires)
        for fire, status in ended:
            fire_id = fire.id
            if fire_id is None or not await self._db.tx(lambda s, i=fire_id: store.settle(s, fire_id=i, now=now)):  # type: ignore[misc]
                continue
            if status == RunStatus.FAILED:
                await self._count(fire.schedule_id, failed=True)
            elif status == RunStatus.COMPLETED:
                await self._count(fire.schedule_id, failed=False)
        for schedule_id in await self._db.tx(store.queued_schedule_ids):

            def claim(session: Session, schedule_id: str = schedule_id) -> int | None:
                if store.active_fires(session, schedule_id=schedule_id, now=now):
                    return None
                fire = store.claim_queued(session, schedule_id=schedule_id)
                return None if fire is None else fire.id

            fire_id = await self._db.tx(claim)
            if fire_id is not None:
                await self._start(schedule_id, fire_id)
