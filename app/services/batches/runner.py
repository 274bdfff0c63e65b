"""The batch runner: starts each running batch's rows as runs, never more at once than its concurrency.

One driver task per running batch, in the process that holds the batch's lease. It starts pending
rows while fewer of its runs than the batch's concurrency are active, then sleeps until one of them
ends (the run events on the bus wake it; a short poll covers events it missed and runs that other
processes drive). A row's run is created in the transaction that points the row at it, so a driver
that stops half-way (a restart, a lost lease) leaves every row either pending or with its run: the
next driver starts the pending ones and only watches the others. A batch whose rows have all ended
is marked FINISHED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app import ids, periodic
from app.engine.events import EventBus, run_ended
from app.engine.executor import Executor
from app.engine.model import RunRecord, RunStatus, Trigger
from app.models.batches import BatchPublic
from storage import batches as store
from storage.db import Database

__all__ = ["BatchRunner"]

log = logging.getLogger("flowyard.batches")

_ENDED = frozenset(s.value for s in RunStatus if s.is_terminal)


class BatchRunner:
    """Drives the running batches of the database from this process."""

    def __init__(
        self,
        db: Database,
        executor: Executor,
        bus: EventBus,
        *,
        now: Callable[[], datetime],
        lease_seconds: float,
        poll_seconds: float,
    ) -> None:
        self.db = db
        self.executor = executor
        self.bus = bus
        self.owner = f"{executor.owner}:batches"
        self._now = now
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._active: dict[str, set[str]] = {}  # batch id -> ids of its runs that have not ended
        self._batch_of: dict[str, str] = {}  # run id -> batch id, for the runs in `_active`
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for run events, then take up every running batch nobody else drives."""
        listening = asyncio.Event()
        self._tasks = [asyncio.create_task(self._listen(listening), name="flowyard-batch-events")]
        await listening.wait()
        await self.sweep()
        sweeping = periodic.every(self.poll_seconds * 5, self.sweep, what="looking for batches to drive", logger=log)
        self._tasks.append(asyncio.create_task(sweeping, name="flowyard-batches"))

    async def stop(self) -> None:
        """Stop starting rows here; active runs go on with the executor, and the leases are released."""
        self._stopping = True
        tasks = [*self._tasks, *self._drivers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []

    async def sweep(self) -> None:
        """Drive every running batch whose lease is free or expired (left by a stopped process)."""
        now = self._now()
        for batch_id, owner, expires in await self._read(store.running_batches):
            if batch_id in self._drivers:
                continue
            if owner is not None and owner != self.owner and expires is not None and expires > now:
                continue
            self.drive(batch_id)

    def drive(self, batch_id: str) -> None:
        """Start driving `batch_id` here (or wake its driver if it has one)."""
        if self._stopping:
            return
        if batch_id in self._drivers:
            self.wake(batch_id)
            return
        task = asyncio.create_task(self._drive(batch_id), name=f"batch {batch_id}")
        self._drivers[batch_id] = task
        task.add_done_callback(lambda done: self._forget(batch_id, done))

    def wake(self, batch_id: str) -> None:
        if (event := self._wakes.get(batch_id)) is not None:
            event.set()

    def _forget(self, batch_id: str, task: asyncio.Task[None]) -> None:
        if self._drivers.get(batch_id) is task:
            del self._drivers[batch_id]
        for run_id in self._active.pop(batch_id, set()):
            self._batch_of.pop(run_id, None)
        self._wakes.pop(batch_id, None)

    # --- database -----------------------------------------------------------------------------------

    async def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.db.read(lambda conn: fn(conn, *args, **kwargs))

    async def _write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.db.write(lambda conn: fn(conn, *args, **kwargs))

    async def _hold(self, batch_id: str) -> bool:
        now = self._now()
        held: bool = await self._write(store.acquire_lease, batch_id, owner=self.owner, now=now, until=now + self.lease)
        return held

    # --- one batch ------------------------------------------------------------------------------------

    async def _drive(self, batch_id: str) -> None:
        wake = self._wakes.setdefault(batch_id, asyncio.Event())
        active = self._active.setdefault(batch_id, set())
        try:
            if not await self._hold(batch_id):
                return
            batch = await self._read(store.get_batch, batch_id)
            if batch is None:
                return
            for run_id in await self._read(store.active_runs, batch_id):
                self._track(batch_id, run_id)
            await self._settle(batch_id)
            renewed = time.monotonic()
            while not self._stopping:
                wake.clear()
                started = 0
                if len(active) < batch.concurrency:
                    started = await self._start_rows(batch, batch.concurrency - len(active))
                if not active and not started:
                    if await self._write(store.finish_if_done, batch_id, now=self._now()):
                        log.info("batch %s finished", batch_id)
                        return
                    if not await self._hold(batch_id):
                        return  # cancelled, finished elsewhere, or taken over
                    renewed = time.monotonic()
                try:
                    # asyncio.timeout, not wait_for: wait_for can swallow a cancel that meets a wake-up
                    async with asyncio.timeout(self.poll_seconds):
                        await wake.wait()
                except TimeoutError:
                    await self._settle(batch_id)
                if time.monotonic() - renewed > self.lease.total_seconds() / 3:
                    if not await self._hold(batch_id):
                        return
                    renewed = time.monotonic()
                    await self._settle(batch_id)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._write(store.release_lease, batch_id, owner=self.owner))
            raise
        except Exception:
            log.exception("batch %s: the runner stopped; it is taken up again on the next sweep", batch_id)
            with contextlib.suppress(Exception):
                await self._write(store.release_lease, batch_id, owner=self.owner)

    def _track(self, batch_id: str, run_id: str) -> None:
        self._active.setdefault(batch_id, set()).add(run_id)
        self._batch_of[run_id] = batch_id

    def _ended(self, run_id: str) -> None:
        batch_id = self._batch_of.pop(run_id, None)
        if batch_id is not None:
            self._active.get(batch_id, set()).discard(run_id)
            self.wake(batch_id)

    async def _settle(self, batch_id: str) -> None:
        """Forget the tracked runs that ended without this process hearing of it."""
        tracked = list(self._active.get(batch_id, ()))
        statuses = await self._read(store.run_statuses, tracked)
        for run_id in tracked:
            if statuses.get(run_id, RunStatus.FAILED.value) in _ENDED:
                self._ended(run_id)

    async def _start_rows(self, batch: BatchPublic, count: int) -> int:
        """Create runs for up to `count` pending rows and hand them to the executor."""
        now = self._now()

        def start(conn: sa.Connection) -> list[str]:
            pending = store.pending_rows(conn, batch.id, limit=count)
            return store.start_rows(
                conn,
                batch.id,
                (
                    (
                        index,
                        RunRecord(
                            id=ids.new_run_id(),
                            workflow_id=batch.workflow_id,
                            workflow_version=batch.workflow_version,
                            status=RunStatus.QUEUED,
                            input=value,
                            session_id=ids.new_session_id(),
                            trigger=Trigger.BATCH,
                            created_at=now,
                            updated_at=now,
                        ),
                    )
                    for index, value in pending
                ),
            )

        run_ids: list[str] = await self._write(start)
        for run_id in run_ids:
            self._track(batch.id, run_id)
            self.executor.submit(run_id)
        return len(run_ids)

    async def _listen(self, listening: asyncio.Event) -> None:
        async with self.bus.subscribe(maxsize=100_000, where=run_ended) as events:
            listening.set()
            async for event in events:
                if event.run_id in self._batch_of:
                    self._ended(event.run_id)
