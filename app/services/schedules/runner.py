"""APScheduler glue: the scheduler that finds due schedules, on Flowyard's database and clock.

Each enabled schedule is one APScheduler job in the persistent `SQLAlchemyJobStore`, on Flowyard's
own engine (table `apscheduler_jobs`, created by our migrations), so jobs and their next fire
times survive restarts and every process sharing the database sees the same jobs. The job calls
`fire_due` (by its textual reference) with every due time it missed; the catch-up policy of the
schedule, not APScheduler's coalescing or misfire grace, decides which of them run.

`Scheduler` differs from APScheduler's `AsyncIOScheduler` in one place: it reads the time from
an injected clock (`take_due(now)`), so tests move time instead of waiting for it. It wakes at
least every `poll_seconds`, so a schedule that another process added or changed is picked up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED, BaseScheduler
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from app.services.schedules.firing import Firing

__all__ = ["CATCHUP_LIMIT", "JOB_FUNCTION", "Scheduler", "fire_due"]

log = logging.getLogger("flowyard.schedules")

JOB_FUNCTION = "app.services.schedules.runner:fire_due"
CATCHUP_LIMIT = 100
"""Most due times one schedule catches up at once (policy "all"); older ones are dropped."""


async def fire_due(
    schedule_id: str, *, schedules: Firing | None = None, due_times: Sequence[datetime] = (), **_: Any
) -> None:
    """What a schedule's job does: fire the schedule for the times it was due (the service passes its `Firing`)."""
    if schedules is None:
        raise TypeError("fire_due needs the schedules' Firing that dispatches it")
    await schedules.fire(schedule_id, list(due_times))


class _JobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """APScheduler's SQL job store on an engine it does not own: shutting down leaves the engine be."""

    def shutdown(self) -> None:
        pass


class Scheduler(AsyncIOScheduler):  # type: ignore[misc]
    """An `AsyncIOScheduler` on Flowyard's engine, clock and event loop (see the module doc).

    `dispatch(job, due_times)` is called (on the event loop) for each job with due times; it starts
    the work and returns at once.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        now: Callable[[], datetime],
        poll_seconds: float,
        dispatch: Callable[[Job, list[datetime]], None],
    ) -> None:
        super().__init__(
            jobstores={"default": _JobStore(engine=engine)},
            timezone=UTC,
            job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 1_000},
        )
        self._clock = now
        self._poll_seconds = poll_seconds
        self._dispatch = dispatch

    @property
    def store(self) -> SQLAlchemyJobStore:
        store: SQLAlchemyJobStore = self._lookup_jobstore("default")
        return store

    def shutdown(self, wait: bool = True) -> None:
        # On the loop already: shut down now rather than in a later callback the closing loop may never run.
        BaseScheduler.shutdown(self, wait)
        self._stop_timer()

    def _process_jobs(self) -> float | None:
        if self.state == STATE_PAUSED:
            return None
        now = self._clock()
        try:
            due = self.take_due(now)
            upcoming = self.store.get_next_run_time()
        except Exception:
            log.exception("could not read the due schedules; trying again in %g s", self._poll_seconds)
            return self._poll_seconds
        for job, times in due:
            self._dispatch(job, times)
        if upcoming is None:
            return self._poll_seconds
        return float(min(max((upcoming - now).total_seconds(), 0.0), self._poll_seconds))

    def take_due(self, now: datetime) -> list[tuple[Job, list[datetime]]]:
        """The jobs due at `now` with the times they were due, each job moved on to its next time after `now`.

        A job's missed times are counted from no earlier than its `lookback` (seconds before `now`), so
        a schedule that was down for a year does not enumerate a year of times.
        """
        due: list[tuple[Job, list[datetime]]] = []
        with self._jobstores_lock:
            store = self.store
            for job in store.get_due_jobs(now):
                earliest = now - timedelta(seconds=float(job.kwargs.get("lookback", 0.0)))
                if job.next_run_time < earliest:
                    job._modify(next_run_time=job.trigger.get_next_fire_time(None, earliest))
                times: list[datetime] = job._get_run_times(now) if job.next_run_time is not None else []
                following = job.trigger.get_next_fire_time(times[-1], now) if times else job.next_run_time
                if following is None:
                    try:
                        store.remove_job(job.id)
                    except JobLookupError:
                        pass
                else:
                    job._modify(next_run_time=following)
                    try:
                        store.update_job(job)
                    except JobLookupError:  # removed meanwhile (by another process): its times are void
                        continue
                if times:
                    due.append((job, times[-CATCHUP_LIMIT:]))
        return due
