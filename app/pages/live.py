"""Live pages: follow the event bus for as long as a browser shows the page.

`follow(handler)` subscribes the current client to every status change; the handler runs inside the
client's context, so it can update elements directly. The subscription ends when the client goes away.
`Throttle` coalesces bursts of events into at most one refresh per interval (a 100-node fan-out is one
redraw, not a hundred), and `on_reconnect` re-reads what a page shows after its connection came back, so a
page that missed events catches up.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

from nicegui import Client, background_tasks, ui

from app.engine.events import Event
from app.pages.context import services

__all__ = ["Throttle", "follow", "on_reconnect", "runs_with_notice"]

log = logging.getLogger("flowyard")

Handler = Callable[[Event], Awaitable[None] | None]


def follow(handler: Handler, *, accept: Callable[[Event], bool] = lambda _: True) -> None:
    """Call `handler(event)` in the current client's context for every event `accept`s, until it is deleted."""
    client = ui.context.client

    async def run() -> None:
        async with services().bus.subscribe() as events:
            async for event in events:
                if client.is_deleted:
                    return
                if not accept(event):
                    continue
                try:
                    with client:
                        result = handler(event)
                        if result is not None:
                            await result
                except Exception:  # one failed redraw must not end the page's live updates
                    log.exception("live update of %s failed", client.page.path)

    task = background_tasks.create(run(), name=f"live {client.id}")
    client.on_delete(task.cancel)


_runs_with_notice: weakref.WeakKeyDictionary[Client, set[str]] = weakref.WeakKeyDictionary()


def runs_with_notice() -> set[str]:
    """The runs the current page follows with a notice of their own (the editor's run notice): what happens
    to them is said there, so the page adds no second toast about them (they would stack over the canvas)."""
    return _runs_with_notice.setdefault(ui.context.client, set())


def on_reconnect(refresh: Callable[[], Awaitable[None]], *, delay: float = 0.3) -> None:
    """Re-read the page's data whenever its browser reconnects (events sent meanwhile may be lost).

    The re-read comes a moment after the reconnection, after NiceGUI has replayed the messages the browser
    missed, so what it shows is the newest state rather than something a late replay could overwrite.
    """
    client = ui.context.client
    connected_once = [False]
    throttle = Throttle(refresh, interval=delay)

    def connected() -> None:
        if connected_once[0]:
            throttle.poke()
        connected_once[0] = True

    client.on_connect(connected)


class Throttle:
    """Run `refresh` soon after `poke()`, at most once per `interval` seconds however often it is poked.

    A poke that arrives while a refresh runs leads to one more refresh after it: nothing is missed.
    """

    def __init__(self, refresh: Callable[[], Awaitable[None]], *, interval: float = 0.25) -> None:
        self._refresh = refresh
        self._interval = interval
        self._dirty = False
        self._pending: asyncio.Task[None] | None = None
        self._client = ui.context.client

    def poke(self) -> None:
        self._dirty = True
        if self._pending is None or self._pending.done():
            self._pending = background_tasks.create(self._drain(), name="throttled refresh")

    async def _drain(self) -> None:
        while self._dirty:
            await asyncio.sleep(self._interval)
            self._dirty = False
            if self._client.is_deleted:
                return
            try:
                with self._client:
                    await self._refresh()
            except Exception:
                log.exception("refresh of %s failed", self._client.page.path)
