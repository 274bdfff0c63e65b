"""Callbacks: when a run ends, its result is POSTed, signed, to the run's callback URL.

Durability comes from the store, not from memory. The transaction that ends a run also marks its
callback PENDING and due (`RunStore.finish_run`, `RunStore.request_cancel`). A `CallbackDispatcher`
in every process sweeps for due callbacks, claims each one atomically before sending it (so two
processes never send the same attempt), and records every attempt together with what comes next:

    PENDING ──2xx──▶ DELIVERED
       │  └─connection error, timeout, non-2xx─▶ PENDING, due again after a backoff
       └─the last allowed attempt fails, or the outbound policy refuses the destination─▶ FAILED

A process that dies holding a claim only delays that callback until the claim expires; one that
starts sends whatever is due. Delivery is at least once: receivers should treat a repeated
`workflowRunOId` (with the same status) as the same event.

The signature is HMAC-SHA256 over ``"{timestamp}.{body}"`` with the run's workflow's own secret when it has
one (`secret_for`), else the shared secret, sent as
``X-Flowyard-Signature: sha256=<hex>`` beside ``X-Flowyard-Timestamp: <unix seconds>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from app import clock, outbound, periodic
from app.engine.events import EventBus, run_ended
from app.engine.model import CallbackDelivery, CallbackState, RunRecord
from app.engine.store import RunStore

__all__ = [
    "ATTEMPT_HEADER",
    "MAX_CALLBACK_URL_LENGTH",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CallbackDispatcher",
    "CallbackPolicy",
    "backoff_delay",
    "callback_body",
    "callback_url_problem",
    "sign",
    "verify",
]

log = logging.getLogger("flowyard.callbacks")

T = TypeVar("T")

SIGNATURE_HEADER = "X-Flowyard-Signature"
TIMESTAMP_HEADER = "X-Flowyard-Timestamp"
ATTEMPT_HEADER = "X-Flowyard-Attempt"
MAX_CALLBACK_URL_LENGTH = 2000
CLAIM_MARGIN_SECONDS = 30.0
"""A claim outlives the attempt's timeout by this much, so only a dead process's claim ever expires."""


# --- the wire format ------------------------------------------------------------------------------------------


def callback_url_problem(url: str) -> str | None:
    """Why `url` cannot be a callback URL, or None when it can (absolute http or https, of sane length)."""
    if len(url) > MAX_CALLBACK_URL_LENGTH:
        return f"a callback URL is at most {MAX_CALLBACK_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "a callback URL cannot contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return "a callback URL must start with http:// or https://"
    if not parts.hostname:
        return "a callback URL needs a host"
    return None


def callback_body(run: RunRecord) -> bytes:
    """The JSON a run's callback carries (the v2 API's names), serialised once: these bytes are signed and sent."""
    result = {
        "workflowRunOId": run.id,
        "workflowOId": run.workflow_id,
        "status": run.status.value,
        "output": run.output,
        "error": run.error,
        "finishedAt": clock.iso(run.finished_at),
    }
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the HMAC-SHA256 hex of ``"{timestamp}.{body}"``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver checks: the signature matches and the timestamp is within `tolerance` seconds of `now`."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (from 1): base, 2·base, 4·base … at most `cap`."""
    return float(min(base * 2 ** (attempt - 1), cap))


# --- delivery ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackPolicy:
    """How hard a callback is tried. The defaults suit production; tests shorten the delays."""

    max_attempts: int = 6
    base_delay: float = 2.0
    """Seconds before the second attempt; each further one waits twice as long."""
    max_delay: float = 300.0
    timeout: float = 10.0
    """Seconds one attempt may take, connecting included."""
    concurrency: int = 16
    """Attempts in flight at once in this process: a target that never answers holds one slot, not the rest."""
    sweep_interval: float = 5.0
    """How often due callbacks are looked for (those this process ends, or whose retry falls due, go at once)."""


class CallbackDispatcher:
    """Sends due callbacks from `store`. Call `start()` once the event loop runs, `stop()` at shutdown."""

    def __init__(
        self,
        store: RunStore,
        *,
        http: httpx.AsyncClient,
        secret: str,
        secret_for: Callable[[RunRecord], Awaitable[str | None]] | None = None,
        owner: str,
        policy: CallbackPolicy | None = None,
        bus: EventBus | None = None,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.store = store
        self.http = http
        self.owner = owner
        self.policy = policy or CallbackPolicy()
        self.bus = bus
        self._secret = secret
        self._secret_for = secret_for
        self._now = now
        self._wake = asyncio.Event()
        self._sent = asyncio.Condition()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._stopping = False

    # --- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Send what is due already (callbacks a stopped or crashed process left), then keep sweeping."""
        self._stopping = False
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="flowyard-callbacks")
        if self.bus is not None:
            self._listener = asyncio.create_task(self._wake_on_run_ends(self.bus), name="flowyard-callback-wake")

    async def stop(self) -> None:
        """Stop sweeping; attempts in flight are abandoned and their claims released for another process."""
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._listener is not None:
            self._listener.cancel()
        if self._sweeper is not None:
            # Let a sweep in progress end rather than cancel it: its database work runs in a thread that
            # cancelling would not stop, and that would still hold a connection when the database closes.
            self.wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._sweeper), self.policy.timeout)
            self._sweeper.cancel()
        await asyncio.gather(*(t for t in (self._sweeper, self._listener) if t), return_exceptions=True)
        self._sweeper = self._listener = None
        in_flight = list(self._in_flight.values())
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)

    def wake(self) -> None:
        """Look for due callbacks now rather than at the next sweep."""
        self._wake.set()

    async def wait(self, run_id: str, *, timeout: float) -> RunRecord | None:
        """Wait until the run has ended and its callback is settled (delivered or given up), then read the run."""

        async def settled() -> RunRecord | None:
            async with self._sent:
                while True:
                    run = await self.store.get_run(run_id)
                    if run is None or (run.status.is_terminal and run.callback_state is not CallbackState.PENDING):
                        return run
                    # Attempts made here notify; a run ending, or another process's attempt, is seen within 50 ms.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._sent.wait(), 0.05)

        return await asyncio.wait_for(settled(), timeout)

    async def _sweep_forever(self) -> None:
        await periodic.every(
            self.policy.sweep_interval,
            self.sweep,
            wake=self._wake,
            first=True,
            what="looking for due callbacks",
            logger=log,
            running=lambda: not self._stopping,
        )

    async def _wake_on_run_ends(self, bus: EventBus) -> None:
        async with bus.subscribe(where=run_ended) as events:
            async for _ in events:
                self.wake()

    # --- sending ----------------------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Claim as many due callbacks as there are free slots and start sending them. Returns how many."""
        free = self.policy.concurrency - len(self._in_flight)
        if free <= 0 or self._stopping:
            return 0
        now = self._now()
        until = now + timedelta(seconds=self.policy.timeout + CLAIM_MARGIN_SECONDS)
        claimed = await self.store.claim_callbacks(self.owner, now=now, until=until, limit=free)
        for run in claimed:
            task = asyncio.create_task(self._attempt(run), name=f"callback {run.id}")
            self._in_flight[run.id] = task
            task.add_done_callback(functools.partial(self._done, run.id))
        return len(claimed)

    def _done(self, run_id: str, task: asyncio.Task[None]) -> None:
        if self._in_flight.get(run_id) is task:
            del self._in_flight[run_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("callback of run %s failed inside Flowyard", run_id, exc_info=task.exception())
        self.wake()  # a slot is free: anything left waiting for one goes now

    async def _attempt(self, run: RunRecord) -> None:
        """One attempt at the run's callback, recorded with its outcome; the claim is released either way."""
        try:
            if run.callback_url is None or not run.status.is_terminal:
                await _to_the_end(self.store.release_callback(run.id, self.owner))
                return
            delivery, final = await self._post(run, run.callback_url, attempt=run.callback_attempts + 1)
            state, next_due = self._next(delivery, final=final)
            recorded = self.store.record_callback_attempt(self.owner, delivery, state=state, next_due_at=next_due)
            if not await _to_the_end(recorded):
                log.warning("run %s: callback claim lost during attempt %d", run.id, delivery.attempt)
            elif next_due is not None:
                self._wake_at(next_due)
            elif state is CallbackState.FAILED:
                log.warning("run %s: callback given up after %d attempts: %s", run.id, delivery.attempt, delivery.error)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await _to_the_end(self.store.release_callback(run.id, self.owner))
            raise
        async with self._sent:
            self._sent.notify_all()

    async def _post(self, run: RunRecord, url: str, *, attempt: int) -> tuple[CallbackDelivery, bool]:
        """One attempt, and whether it is final whatever its outcome (a destination the outbound policy refuses)."""
        body = callback_body(run)
        secret = (await self._secret_for(run) if self._secret_for else None) or self._secret
        sent_at = self._now()
        timestamp = int(sent_at.timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            TIMESTAMP_HEADER: str(timestamp),
            ATTEMPT_HEADER: str(attempt),
        }
        status_code: int | None = None
        error: str | None = None
        final = False
        started = time.monotonic()
        try:
            # The outer timeout also bounds a target that answers byte by byte, which httpx's per-read timeout does not.
            async with asyncio.timeout(self.policy.timeout):
                response = await self.http.post(
                    url, content=body, headers=headers, timeout=self.policy.timeout, follow_redirects=False
                )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"answered {status_code}"
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.policy.timeout:g} s"
        except outbound.DestinationRefused as exc:
            error, final = str(exc), True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = round((time.monotonic() - started) * 1000, 3)
        return CallbackDelivery(run.id, url, attempt, status_code, error, duration_ms, sent_at), final

    def _next(self, delivery: CallbackDelivery, *, final: bool) -> tuple[CallbackState, datetime | None]:
        if delivery.error is None:
            return CallbackState.DELIVERED, None
        if final or delivery.attempt >= self.policy.max_attempts:
            return CallbackState.FAILED, None
        delay = backoff_delay(delivery.attempt, base=self.policy.base_delay, cap=self.policy.max_delay)
        return CallbackState.PENDING, self._now() + timedelta(seconds=delay)

    def _wake_at(self, due: datetime) -> None:
        """Sweep when a retry falls due, instead of waiting for the next regular sweep."""
        delay = max(0.0, (due - self._now()).total_seconds())
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(timer)
            self.wake()

        timer = loop.call_later(delay, fire)
        self._timers.add(timer)


async def _to_the_end(write: Awaitable[T]) -> T:
    """Await a store write to its end even if the caller is cancelled meanwhile, then let the cancel through.

    (A write runs in a thread on PostgreSQL; abandoning it would lose what it records and leave it holding
    a connection while the database closes.)
    """
    task = asyncio.ensure_future(write)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
