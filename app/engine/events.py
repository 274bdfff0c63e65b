"""The event bus: every run and node status change is published here.

In-process by default. The bus is a Protocol so that a Redis pub/sub bus can take its place when
the executor runs in other processes; subscribers (pages, SSE streams) do not change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.engine.model import RunStatus

__all__ = ["Event", "EventBus", "InProcessEventBus", "run_ended"]

_ENDED = frozenset(s.value for s in RunStatus if s.is_terminal)


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


def run_ended(event: Event) -> bool:
    """The event of a run reaching a terminal status (a `where` for subscribers that only wait for those)."""
    return event.node_key is None and event.status in _ENDED


Where = Callable[[Event], bool]


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...

    def subscribe(
        self, *, maxsize: int = 1000, where: Where | None = None
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Event]]:
        """The events published from now on; only those `where` accepts, when given (the others cost the
        subscriber nothing: services that wait for runs to end are not woken for every node's change)."""
        ...


class InProcessEventBus:
    """Fan-out to asyncio queues. A slow subscriber loses its oldest events, never blocks a run."""

    def __init__(self) -> None:
        self._queues: dict[asyncio.Queue[Event], Where | None] = {}

    def publish(self, event: Event) -> None:
        for queue, where in self._queues.items():
            if where is not None and not where(event):
                continue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, maxsize: int = 1000, where: Where | None = None
    ) -> AsyncIterator[AsyncIterator[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self._queues[queue] = where

        async def events() -> AsyncIterator[Event]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self._queues.pop(queue, None)
