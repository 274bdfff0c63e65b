"""The schedules service: what the pages and the API call to schedule workflows.

The `schedules` table is the source of truth. Every change here is written there first and then
mirrored into the schedule's APScheduler job (`runner`); every process also reconciles all jobs with
the table when it starts and then every poll, so changes made while it was stopped, or by a process
that runs no scheduler, are seen. Firing due times and counting their runs is `firing`'s.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.triggers.base import BaseTrigger
from sqlmodel import Session

from app import ids, periodic
from app.engine.events import EventBus, run_ended
from app.engine.exceptions import InputInvalid, InvalidInput, NotFound
from app.engine.inputs import input_problems, workflow_input_schemas
from app.engine.kinds import Kinds
from app.engine.store import AgentRecord
from app.models.schedules import FirePublic, ScheduleCreate, SchedulePreview, SchedulePublic
from app.services.schedules.cron import describe, make_trigger, next_fire_times
from app.services.schedules.firing import ON_TIME, Firing, RunStarter, later
from app.services.schedules.runner import JOB_FUNCTION, Scheduler
from app.services.workflows import find_workflow
from storage import repositories as repo
from storage import schedules as store
from storage.db import Database
from storage.models import ScheduleRow

__all__ = ["ScheduleService"]

log = logging.getLogger("flowyard.schedules")

LAST_FIRES = 10
CLOSE_SECONDS = 10.0  # how long closing waits for fires that are starting their runs


def _revision(row: ScheduleRow) -> str:
    return row.updated_at.isoformat()


def _lookback(row: ScheduleRow) -> float:
    window = row.catchup_window_seconds if row.catchup_policy != "skip" else 0.0
    return max(window, ON_TIME.total_seconds())


class ScheduleService:
    """Schedules of workflows: saved, validated, mirrored into APScheduler and fired at most once per due time."""

    def __init__(
        self,
        db: Database,
        runs: RunStarter,
        bus: EventBus,
        *,
        kinds: Kinds,
        poll_seconds: float,
        now: Callable[[], datetime],
        default_zone: Callable[[], str] = lambda: "UTC",
    ) -> None:
        self._db = db
        self._bus = bus
        self._default_zone = default_zone
        self._kinds = kinds
        self._poll_seconds = poll_seconds
        self._now = now
        self._scheduler: Scheduler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.firing = Firing(db, runs, now=now, unschedule=self._unschedule)

    @property
    def taken(self) -> int:
        """Due times this process fired (it inserted their fire first)."""
        return self.firing.taken

    @property
    def lost(self) -> int:
        """Due times another process fired first: this one found the fire already taken and did nothing."""
        return self.firing.lost

    def _unschedule(self, schedule_id: str) -> None:
        if self._scheduler is not None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(schedule_id)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the scheduler: reconcile the jobs with the table, then fire due schedules until `close()`."""
        scheduler = Scheduler(
            engine=self._db.engine,
            now=self._now,
            poll_seconds=self._poll_seconds,
            dispatch=self._dispatch,
        )
        scheduler.start(paused=True)
        self._scheduler = scheduler
        await self._db.run(self._reconcile_all)
        scheduler.resume()
        self._watcher = asyncio.create_task(self._watch(), name="schedules-watch")

    async def close(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)  # first: nothing new fires while the rest stops
        self._scheduler = None
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        # A fire that took its due time is starting its run: let it (a short transaction or two), or the due
        # time, taken by this process, would never get its run.
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=CLOSE_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def tick(self, now: datetime | None = None) -> None:
        """One round of the scheduler, waited for: reconcile the jobs with the table, fire what is due at `now`
        (default: the clock), count ended runs, start queued ones.

        The scheduler does this by itself; tests call it after moving an injected clock.
        """
        await self._db.run(self._reconcile_all)
        if self._scheduler is not None:
            for job, times in self._scheduler.take_due(now or self._now()):
                self._dispatch(job, times)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.firing.sweep()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _dispatch(self, job: Job, times: list[datetime]) -> None:
        task = asyncio.get_running_loop().create_task(
            job.func(*job.args, schedules=self.firing, due_times=times, **job.kwargs)
        )
        self._tasks.add(task)
        task.add_done_callback(self._fired)

    def _fired(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("firing a schedule failed; its due time is not retried", exc_info=error)

    async def _watch(self) -> None:
        """Count ended runs and start queued ones: when a run ends here, and every poll for the other processes."""
        listener = asyncio.create_task(self._listen())
        try:
            await periodic.every(
                self._poll_seconds, self._sweep, wake=self._wake, what="schedules: sweeping ended runs", logger=log
            )
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _sweep(self) -> None:
        await self.firing.sweep()
        await self._db.run(self._reconcile_all)

    async def _listen(self) -> None:
        async with self._bus.subscribe(where=run_ended) as events:
            async for _ in events:
                self._wake.set()

    # --- reading ------------------------------------------------------------------------------------

    async def list(self, workflow_id: str | None = None) -> builtins.list[SchedulePublic]:
        """Every schedule (of one workflow, when given), oldest first."""

        def read(session: Session) -> builtins.list[SchedulePublic]:
            if workflow_id is not None:
                find_workflow(session, workflow_id)
            return self._public(session, store.list_schedules(session, workflow_id=workflow_id))

        return await self._db.tx(read)

    async def get(self, schedule_id: str) -> SchedulePublic:
        return await self._db.tx(lambda s: self._public(s, [self._schedule(s, schedule_id)])[0])

    @staticmethod
    def _schedule(session: Session, schedule_id: str) -> ScheduleRow:
        row = store.get_schedule(session, schedule_id=schedule_id)
        if row is None:
            raise NotFound("schedule", schedule_id)
        return row

    def _public(self, session: Session, rows: builtins.list[ScheduleRow]) -> builtins.list[SchedulePublic]:
        names = store.workflow_names(session, workflow_ids={r.workflow_id for r in rows})
        fires = store.recent_fires(session, schedule_ids=[r.id for r in rows], limit=LAST_FIRES)
        now = self._now()
        jobs: dict[str, Job] = {}
        if self._scheduler is not None:
            if len(rows) == 1:
                job = self._scheduler.get_job(rows[0].id)
                jobs = {job.id: job} if job is not None else {}
            elif rows:
                jobs = {job.id: job for job in self._scheduler.get_jobs()}
        return [
            SchedulePublic.model_validate(
                {
                    **row.model_dump(),
                    "workflow_name": names.get(row.workflow_id, ""),
                    "description": describe(cron=row.cron, interval_seconds=row.interval_seconds),
                    "next_fire_times": self._upcoming(row, jobs.get(row.id), now),
                    "last_fires": [
                        FirePublic(
                            due_at=f.due_at, outcome=f.outcome, run_id=f.run_id, run_status=status, error=f.error
                        )
                        for f, status in fires.get(row.id, [])
                    ],
                }
            )
            for row in rows
        ]

    @staticmethod
    def _upcoming(row: ScheduleRow, job: Job | None, now: datetime, count: int = 5) -> builtins.list[datetime]:
        if not row.enabled:
            return []
        if job is not None and job.next_run_time is not None:
            # From the job's own next time: it may be a missed time that has yet to catch up.
            return next_fire_times(job.trigger, job.next_run_time, count, inclusive=True)
        trigger = make_trigger(
            cron=row.cron, interval_seconds=row.interval_seconds, timezone=row.timezone, anchor=row.updated_at
        )
        return next_fire_times(trigger, now, count)

    def preview(
        self,
        *,
        cron: str | None,
        interval_seconds: float | None,
        timezone: str,
        count: int = 5,
        now: datetime | None = None,
    ) -> SchedulePreview:
        """The description and next fire times of a cron expression or interval, as the form shows them live."""
        moment = now or self._now()
        trigger = make_trigger(cron=cron, interval_seconds=interval_seconds, timezone=timezone, anchor=moment)
        return SchedulePreview(
            description=describe(cron=cron, interval_seconds=interval_seconds),
            next_fire_times=next_fire_times(trigger, moment, max(0, min(count, 100))),
        )

    # --- changing -----------------------------------------------------------------------------------

    def _check(self, session: Session, workflow_id: str, spec: ScheduleCreate) -> None:
        """Refuse a spec that cannot be scheduled, naming the field."""
        cron = spec.cron.strip() if spec.cron is not None else None
        if cron is not None and spec.interval_seconds is not None:
            raise InvalidInput("cron", "give either a cron expression or an interval, not both")
        if cron is None and spec.interval_seconds is None:
            raise InvalidInput("cron", "give a cron expression or an interval (intervalSeconds)")
        make_trigger(cron=cron, interval_seconds=spec.interval_seconds, timezone=spec.timezone, anchor=self._now())
        definition = repo.get_definition(session, workflow_id=workflow_id)
        agents = {
            a.id: AgentRecord(a.id, a.kind, a.name, a.config)
            for a in repo.get_agents(session, agent_ids={n.agent_id for n in definition.nodes})
        }
        schemas = workflow_input_schemas(definition, agents, self._kinds)
        problems = input_problems(schemas, spec.input, path="input")
        if problems:
            raise InputInvalid(problems)

    async def create(self, workflow_id: str, spec: ScheduleCreate) -> SchedulePublic:
        """Save a new schedule of the workflow (refused, naming the field, when it cannot be scheduled).

        A spec that does not name its time zone is read in the instance's default time zone.
        """
        if "timezone" not in spec.model_fields_set:
            spec = spec.model_copy(update={"timezone": self._default_zone()})

        def create(session: Session) -> ScheduleRow:
            find_workflow(session, workflow_id)
            self._check(session, workflow_id, spec)
            now = self._now()
            row = ScheduleRow(id=ids.new_id("sc"), workflow_id=workflow_id, created_at=now)
            self._apply(row, spec, now)
            session.add(row)
            return row

        row = await self._db.tx(create)
        await self._db.run(self._reconcile, row)
        return await self.get(row.id)

    async def update(self, schedule_id: str, spec: ScheduleCreate) -> SchedulePublic:
        """Replace a schedule's settings. Saving it enabled clears a pause."""

        def update(session: Session) -> ScheduleRow:
            row = self._schedule(session, schedule_id)
            self._check(session, row.workflow_id, spec)
            self._apply(row, spec, self._now())
            session.add(row)
            return row

        row = await self._db.tx(update)
        await self._db.run(self._reconcile, row)
        return await self.get(schedule_id)

    def _apply(self, row: ScheduleRow, spec: ScheduleCreate, now: datetime) -> None:
        row.name = spec.name.strip()
        row.cron = spec.cron.strip() if spec.cron is not None else None
        row.interval_seconds = spec.interval_seconds
        row.timezone = spec.timezone
        row.input = spec.input
        row.overlap_policy = spec.overlap_policy
        row.catchup_policy = spec.catchup_policy
        row.catchup_window_seconds = spec.catchup_window_seconds
        row.pause_after_failures = spec.pause_after_failures
        self._enable(row, spec.enabled)
        row.updated_at = later(row, now)

    @staticmethod
    def _enable(row: ScheduleRow, enabled: bool) -> None:
        if enabled and (not row.enabled or row.paused_at is not None):
            row.consecutive_failures = 0
        row.enabled = enabled
        if enabled:
            row.paused_at = None
            row.paused_reason = None

    async def set_enabled(self, schedule_id: str, enabled: bool) -> SchedulePublic:
        """Switch a schedule on or off. Switching it on clears a pause and its count of failures."""

        def switch(session: Session) -> ScheduleRow:
            row = self._schedule(session, schedule_id)
            self._enable(row, enabled)
            row.updated_at = later(row, self._now())
            session.add(row)
            return row

        row = await self._db.tx(switch)
        await self._db.run(self._reconcile, row)
        return await self.get(schedule_id)

    async def delete(self, schedule_id: str) -> None:
        """Delete a schedule and the record of its fires (its runs stay)."""

        def delete(session: Session) -> None:
            session.delete(self._schedule(session, schedule_id))

        await self._db.tx(delete)
        self._unschedule(schedule_id)

    # --- APScheduler jobs ---------------------------------------------------------------------------

    def _reconcile(self, row: ScheduleRow, job: Job | None = None, *, known: bool = False) -> None:
        """Make the schedule's job match its row: present (with its trigger) when enabled, absent when not."""
        scheduler = self._scheduler
        if scheduler is None:
            return  # reconciled when the scheduler starts
        if not known:
            job = scheduler.get_job(row.id)
        if not row.enabled:
            if job is not None:
                with contextlib.suppress(JobLookupError):
                    scheduler.remove_job(row.id)
            return
        if job is not None and str(job.kwargs.get("revision", "")) >= _revision(row):
            return  # up to date, or newer than the row read here
        now = self._now()
        trigger: BaseTrigger = make_trigger(
            cron=row.cron, interval_seconds=row.interval_seconds, timezone=row.timezone, anchor=row.updated_at
        )
        upcoming = trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
        if upcoming is None:
            if job is not None:
                with contextlib.suppress(JobLookupError):
                    scheduler.remove_job(row.id)
            return
        with contextlib.suppress(ConflictingIdError):  # another process added it meanwhile
            scheduler.add_job(
                JOB_FUNCTION,
                trigger=trigger,
                id=row.id,
                name=row.name or row.id,
                args=[row.id],
                kwargs={"revision": _revision(row), "lookback": _lookback(row)},
                next_run_time=upcoming,
                replace_existing=job is not None,
            )

    def _reconcile_all(self) -> None:
        if self._scheduler is None:
            return
        with self._db.transaction() as session:
            rows = store.list_schedules(session)
        jobs = {job.id: job for job in self._scheduler.get_jobs()}
        for row in rows:
            try:
                self._reconcile(row, jobs.pop(row.id, None), known=True)
            except InvalidInput as exc:  # saved before a rule tightened; it stays in the table, unscheduled
                log.warning("schedule %s cannot be scheduled: %s", row.id, exc)
        for orphan in jobs:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(orphan)
