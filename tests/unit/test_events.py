"""The in-process event bus: fan-out to every subscriber, and a `where` that keeps a subscriber's queue quiet."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.engine.events import Event, InProcessEventBus, run_ended

AT = datetime(2026, 11, 23, tzinfo=UTC)


def _event(status: str, node_key: str | None = None) -> Event:
    return Event(run_id="wr-1", workflow_id="wf-1", status=status, at=AT, node_key=node_key)


async def test_a_subscriber_with_where_gets_only_what_it_accepts_and_the_others_get_everything() -> None:
    bus = InProcessEventBus()
    published = [_event("RUNNING"), _event("RUNNING", "s1"), _event("COMPLETED", "s1"), _event("COMPLETED")]
    async with bus.subscribe() as everything, bus.subscribe(where=run_ended) as ends:
        for event in published:
            bus.publish(event)
        got_all = [await anext(everything) for _ in published]
        got_ends = [await anext(ends)]
        with_nothing_more = asyncio.wait_for(anext(ends), 0.05)
        try:
            extra = await with_nothing_more
        except TimeoutError:
            extra = None

    assert got_all == published
    assert got_ends == [_event("COMPLETED")]
    assert extra is None  # the node events and the run's RUNNING never reached it
