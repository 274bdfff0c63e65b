"""The one clock Flowyard reads. Tests may replace `now` to freeze or move time, and `sleep` to skip waits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

__all__ = ["Sleep", "iso", "now", "sleep"]

Sleep = Callable[[float], Awaitable[None]]


def now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


async def sleep(seconds: float) -> None:
    """Wait `seconds` before trying something again (retry backoffs, a server's Retry-After)."""
    await asyncio.sleep(seconds)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a trailing ``Z``, the way the APIs print times."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
