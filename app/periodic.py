"""Background loops: one job, again and again, every few seconds or sooner when woken.

Every process keeps a few of them (renewing leases, taking up orphaned runs, sweeping due callbacks,
approval deadlines, batches and schedules). They share one shape: wait, run the job, log a failure
and go on, until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["every", "pause"]

log = logging.getLogger("flowyard")


async def pause(seconds: float, wake: asyncio.Event | None = None) -> None:
    """Wait `seconds`, or less when `wake` is set (it is cleared again)."""
    if wake is None:
        await asyncio.sleep(seconds)
        return
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that meets a wake-up.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
    wake.clear()


async def every(
    seconds: float,
    job: Callable[[], Awaitable[object]],
    *,
    wake: asyncio.Event | None = None,
    first: bool = False,
    what: str | None = None,
    logger: logging.Logger = log,
    running: Callable[[], bool] = lambda: True,
) -> None:
    """Run `job` every `seconds` (sooner when `wake` is set) until cancelled, or until `running()` is false
    when it would start again (a loop that lets its last job end rather than be cancelled); `first`: at once too.

    A failing job is logged (as `what`, default the job's name) and tried again next time.
    """
    if not first:
        await pause(seconds, wake)
    while running():
        try:
            await job()
        except Exception:
            logger.exception("%s failed; trying again in %.1f s", what or getattr(job, "__name__", "job"), seconds)
        await pause(seconds, wake)
