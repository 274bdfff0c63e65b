"""The event bus: every run and node status change is published here.

In-process by default. The bus is a Protocol so that a Redis pub/sub bus can take its place when
the executor runs in other processes; subscribers (pages, SSE streams) do not change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Event", "EventBus", "InProcessEventBus"]


@dataclass(frozen=True)
class Event:
    """One status change. `node_key` is None for a change of the run itself."""

    run_id: str
    workflow_id: str
    status: str
    at: datetime
    node_key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return "node" if self.node_key else "run"


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...

    def subscribe(self, *, maxsize: int = 1000) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Event]]: ...


class InProcessEventBus:
    """Fan-out to asyncio queues. A slow subscriber loses its oldest events, never blocks a run."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, *, maxsize: int = 1000) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self._queues.add(queue)

        async def events() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._queues.discard(queue)
