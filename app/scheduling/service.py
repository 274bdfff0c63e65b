"""The schedules service (`flowyard.schedules`): what the pages and the API call to schedule workflows.

The `schedules` table is the source of truth. Every change here is written there first and then
mirrored into the schedule's APScheduler job (`app.scheduling.runner`); every process also
reconciles all jobs with the table when it starts and then every poll, so changes made while it
was stopped, or by a process that runs no scheduler, are seen.

A due time fires at most once: its `schedule_fires` row is inserted before the run starts and
the database refuses a second one. Then the overlap policy decides: `skip` (nothing while a run
of this schedule is active), `queue` (recorded, started when the active run ends) or `allow`.
A run that fails, or cannot start, counts towards `pause_after_failures`; a completed run resets
the count.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import sqlalchemy as sa
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.triggers.base import BaseTrigger
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlmodel import Session, col

from app import ids
from app.engine.events import run_ended
from app.engine.exceptions import InputInvalid, InvalidInput, NotFound, WorkflowInvalid
from app.engine.inputs import input_problems, workflow_input_schemas
from app.engine.model import RunStatus, Trigger
from app.engine.store import AgentRecord
from app.scheduling.cron import describe, make_trigger, next_fire_times
from app.scheduling.runner import JOB_FUNCTION, Scheduler
from storage import repositories as repo
from storage import schedules as store
from storage.models import ScheduleFireRow, ScheduleRow
from storage.schedules import FireOutcome

if TYPE_CHECKING:
    from app.services import Flowyard

__all__ = [
    "ON_TIME",
    "FireInfo",
    "ScheduleInfo",
    "SchedulePreview",
    "ScheduleSpec",
    "Schedules",
]

log = logging.getLogger("flowyard.schedules")
T = TypeVar("T")

ON_TIME = timedelta(seconds=30)
"""A due time this recent is on time: it fires under every catch-up policy."""
LAST_FIRES = 10
CLOSE_SECONDS = 10.0  # how long closing waits for fires that are starting their runs


class ScheduleSpec(BaseModel):
    """What a user sets on a schedule. camelCase or snake_case names; unknown fields are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    name: str = Field("", max_length=200)
    cron: str | None = Field(None, max_length=200, description="5 fields: minute hour day-of-month month weekday.")
    interval_seconds: float | None = Field(None, description="Seconds between fires (instead of a cron expression).")
    timezone: str = Field("UTC", max_length=64, description="IANA time zone the cron expression is read in.")
    input: Any = Field(None, description="The payload each run starts with.")
    enabled: bool = True
    overlap_policy: Literal["skip", "queue", "allow"] = "skip"
    catchup_policy: Literal["skip", "once", "all"] = "skip"
    catchup_window_seconds: float = Field(3600.0, ge=0, le=31 * 86_400)
    pause_after_failures: int = Field(0, ge=0, le=1_000, description="Pause after this many failed runs in a row.")


@dataclass(frozen=True)
class FireInfo:
    """One due time of a schedule and what became of it."""

    due_at: datetime
    outcome: str
    run_id: str | None
    run_status: str | None
    error: str | None


@dataclass(frozen=True)
class SchedulePreview:
    description: str
    next_fire_times: list[datetime]


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as the pages and the API show it."""

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
    next_fire_times: list[datetime]
    last_fires: list[FireInfo]
    created_at: datetime
    updated_at: datetime

    @property
    def spec(self) -> ScheduleSpec:
        return ScheduleSpec(
            name=self.name,
            cron=self.cron,
            interval_seconds=self.interval_seconds,
            timezone=self.timezone,
            input=self.input,
            enabled=self.enabled,
            overlap_policy=self.overlap_policy,
            catchup_policy=self.catchup_policy,
            catchup_window_seconds=self.catchup_window_seconds,
            pause_after_failures=self.pause_after_failures,
        )


def _revision(row: ScheduleRow) -> str:
    return row.updated_at.isoformat()


def _lookback(row: ScheduleRow) -> float:
    window = row.catchup_window_seconds if row.catchup_policy != "skip" else 0.0
    return max(window, ON_TIME.total_seconds())


def _paused_reason(failures: int) -> str:
    return f"Paused after {failures} failed run{'s' if failures != 1 else ''} in a row"


class Schedules:
    """Schedules of workflows: saved, validated, mirrored into APScheduler and fired at most once per due time."""

    def __init__(self, flowyard: Flowyard) -> None:
        self.flowyard = flowyard
        self._scheduler: Scheduler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.taken = 0
        """Due times this process fired (it inserted their fire first)."""
        self.lost = 0
        """Due times another process fired first: this one found the fire already taken and did nothing."""

    def _now(self) -> datetime:
        return self.flowyard._now()

    async def _run(self, fn: Callable[[Session], T]) -> T:
        return await self.flowyard._run(fn)

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the scheduler: reconcile the jobs with the table, then fire due schedules until `close()`."""
        scheduler = Scheduler(
            engine=self.flowyard.db.engine,
            now=self._now,
            poll_seconds=self.flowyard.settings.scheduler_poll_seconds,
            dispatch=self._dispatch,
        )
        scheduler.start(paused=True)
        self._scheduler = scheduler
        await self.flowyard.db.run(self._reconcile_all)
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
        await self.flowyard.db.run(self._reconcile_all)
        if self._scheduler is not None:
            for job, times in self._scheduler.take_due(now or self._now()):
                self._dispatch(job, times)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.sweep()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _dispatch(self, job: Job, times: list[datetime]) -> None:
        task = asyncio.get_running_loop().create_task(
            job.func(*job.args, schedules=self, due_times=times, **job.kwargs)
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
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancellation of close().
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.flowyard.settings.scheduler_poll_seconds):
                        await self._wake.wait()
                self._wake.clear()
                try:
                    await self.sweep()
                    await self.flowyard.db.run(self._reconcile_all)
                except Exception:
                    log.exception("schedules: sweeping ended runs failed; trying again next poll")
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self) -> None:
        async with self.flowyard.bus.subscribe(where=run_ended) as events:
            async for _ in events:
                self._wake.set()

    # --- reading ------------------------------------------------------------------------------------

    async def list(self, workflow_id: str | None = None) -> builtins.list[ScheduleInfo]:
        """Every schedule (of one workflow, when given), oldest first."""

        def read(session: Session) -> builtins.list[ScheduleInfo]:
            if workflow_id is not None:
                self.flowyard._workflow(session, workflow_id)
            return self._infos(session, store.list_schedules(session, workflow_id=workflow_id))

        return await self._run(read)

    async def get(self, schedule_id: str) -> ScheduleInfo:
        return await self._run(lambda s: self._infos(s, [self._schedule(s, schedule_id)])[0])

    @staticmethod
    def _schedule(session: Session, schedule_id: str) -> ScheduleRow:
        row = store.get_schedule(session, schedule_id=schedule_id)
        if row is None:
            raise NotFound("schedule", schedule_id)
        return row

    def _infos(self, session: Session, rows: builtins.list[ScheduleRow]) -> builtins.list[ScheduleInfo]:
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
            ScheduleInfo(
                id=row.id,
                workflow_id=row.workflow_id,
                workflow_name=names.get(row.workflow_id, ""),
                name=row.name,
                cron=row.cron,
                interval_seconds=row.interval_seconds,
                timezone=row.timezone,
                input=row.input,
                enabled=row.enabled,
                overlap_policy=row.overlap_policy,
                catchup_policy=row.catchup_policy,
                catchup_window_seconds=row.catchup_window_seconds,
                pause_after_failures=row.pause_after_failures,
                consecutive_failures=row.consecutive_failures,
                paused_at=row.paused_at,
                paused_reason=row.paused_reason,
                description=describe(cron=row.cron, interval_seconds=row.interval_seconds),
                next_fire_times=self._upcoming(row, jobs.get(row.id), now),
                last_fires=[
                    FireInfo(f.due_at, f.outcome, f.run_id, status, f.error) for f, status in fires.get(row.id, [])
                ],
                created_at=row.created_at,
                updated_at=row.updated_at,
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

    def _check(self, session: Session, workflow_id: str, spec: ScheduleSpec) -> None:
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
        problems = input_problems(workflow_input_schemas(definition, agents), spec.input, path="input")
        if problems:
            raise InputInvalid(problems)

    async def create(self, workflow_id: str, spec: ScheduleSpec) -> ScheduleInfo:
        """Save a new schedule of the workflow (refused, naming the field, when it cannot be scheduled)."""

        def create(session: Session) -> ScheduleRow:
            self.flowyard._workflow(session, workflow_id)
            self._check(session, workflow_id, spec)
            now = self._now()
            row = ScheduleRow(id=ids.new_id("sc"), workflow_id=workflow_id, created_at=now)
            self._apply(row, spec, now)
            session.add(row)
            return row

        row = await self._run(create)
        await self.flowyard.db.run(self._reconcile, row)
        return await self.get(row.id)

    async def update(self, schedule_id: str, spec: ScheduleSpec) -> ScheduleInfo:
        """Replace a schedule's settings. Saving it enabled clears a pause."""

        def update(session: Session) -> ScheduleRow:
            row = self._schedule(session, schedule_id)
            self._check(session, row.workflow_id, spec)
            self._apply(row, spec, self._now())
            session.add(row)
            return row

        row = await self._run(update)
        await self.flowyard.db.run(self._reconcile, row)
        return await self.get(schedule_id)

    def _apply(self, row: ScheduleRow, spec: ScheduleSpec, now: datetime) -> None:
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
        row.updated_at = self._later(row, now)

    @staticmethod
    def _enable(row: ScheduleRow, enabled: bool) -> None:
        if enabled and (not row.enabled or row.paused_at is not None):
            row.consecutive_failures = 0
        row.enabled = enabled
        if enabled:
            row.paused_at = None
            row.paused_reason = None

    @staticmethod
    def _later(row: ScheduleRow, now: datetime) -> datetime:
        """`now`, or just after the last change: the revision that jobs are reconciled by only moves forward."""
        if row.updated_at is not None and now <= row.updated_at:
            return row.updated_at + timedelta(milliseconds=1)
        return now

    async def set_enabled(self, schedule_id: str, enabled: bool) -> ScheduleInfo:
        """Switch a schedule on or off. Switching it on clears a pause and its count of failures."""

        def switch(session: Session) -> ScheduleRow:
            row = self._schedule(session, schedule_id)
            self._enable(row, enabled)
            row.updated_at = self._later(row, self._now())
            session.add(row)
            return row

        row = await self._run(switch)
        await self.flowyard.db.run(self._reconcile, row)
        return await self.get(schedule_id)

    async def delete(self, schedule_id: str) -> None:
        """Delete a schedule and the record of its fires (its runs stay)."""

        def delete(session: Session) -> None:
            session.delete(self._schedule(session, schedule_id))

        await self._run(delete)
        if self._scheduler is not None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(schedule_id)

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
        with Session(self.flowyard.db.engine) as session:
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

    # --- firing -------------------------------------------------------------------------------------

    async def fire(self, schedule_id: str, due_times: builtins.list[datetime]) -> None:
        """Fire the schedule for those of `due_times` its catch-up policy keeps, each at most once."""
        now = self._now()
        row = await self._run(lambda s: store.get_schedule(s, schedule_id=schedule_id))
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

        taken = await self._run(take)
        if taken is None:
            self.lost += 1
            return
        self.taken += 1
        if taken[1] == FireOutcome.STARTING:
            await self._start(row.id, taken[0])

    async def _start(self, schedule_id: str, fire_id: int) -> None:
        """Start the run of a fire that is starting; a run that cannot start is a failed fire."""
        row = await self._run(lambda s: store.get_schedule(s, schedule_id=schedule_id))
        if row is None:
            return
        try:
            run = await self.flowyard.start_run(row.workflow_id, input=row.input, trigger=Trigger.SCHEDULE)
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

        await self._run(record)

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
            row.updated_at = self._later(row, now)
            session.add(row)
            return True

        if await self._run(count) and self._scheduler is not None:
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(schedule_id)

    async def sweep(self) -> None:
        """Count the runs of schedules that ended, then start queued fires whose schedule has no active run."""
        now = self._now()
        ended = await self._run(store.unsettled_ended_fires)
        for fire, status in ended:
            fire_id = fire.id
            if fire_id is None or not await self._run(lambda s, i=fire_id: store.settle(s, fire_id=i, now=now)):  # type: ignore[misc]
                continue
            if status == RunStatus.FAILED:
                await self._count(fire.schedule_id, failed=True)
            elif status == RunStatus.COMPLETED:
                await self._count(fire.schedule_id, failed=False)
        for schedule_id in await self._run(store.queued_schedule_ids):

            def claim(session: Session, schedule_id: str = schedule_id) -> int | None:
                if store.active_fires(session, schedule_id=schedule_id, now=now):
                    return None
                fire = store.claim_queued(session, schedule_id=schedule_id)
                return None if fire is None else fire.id

            fire_id = await self._run(claim)
            if fire_id is not None:
                await self._start(schedule_id, fire_id)
