"""A daily schedule fires exactly once, at the right local time, on the nights the clocks change."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.models.schedules import ScheduleCreate as ScheduleSpec
from app.root import Flowyard
from tests.scheduling.conftest import Clock, runs_of, settle, workflow


@pytest.mark.parametrize(
    ("zone", "cron", "start", "expected_local"),
    [
        # spring forward: 02:30 does not exist that night; it fires once, when the clock jumps to 03:00
        ("America/New_York", "30 2 * * *", "2026-03-07T12:00Z", ["03-08 03:00", "03-09 02:30"]),
        ("Europe/Berlin", "30 2 * * *", "2026-03-28T12:00Z", ["03-29 03:00", "03-30 02:30"]),
        # fall back: 01:30 (New York) and 02:30 (Berlin) happen twice that night; it fires the first time only
        ("America/New_York", "30 1 * * *", "2026-10-31T12:00Z", ["11-01 01:30", "11-02 01:30"]),
        ("Europe/Berlin", "30 2 * * *", "2026-10-24T12:00Z", ["10-25 02:30", "10-26 02:30"]),
    ],
)
async def test_a_daily_schedule_fires_once_at_the_local_time_across_a_clock_change(
    flowyard: Flowyard, clock: Clock, zone: str, cron: str, start: str, expected_local: list[str]
) -> None:
    clock.at = datetime.fromisoformat(start)
    workflow_id = await workflow(flowyard)
    schedule = await flowyard.schedules.create(
        workflow_id, ScheduleSpec(cron=cron, timezone=zone, overlap_policy="allow")
    )

    for _ in range(2 * 24 * 6):  # two days, in steps of ten minutes
        clock.move(minutes=10)
        await flowyard.schedules.tick()
    await settle(flowyard, workflow_id)

    info = await flowyard.schedules.get(schedule.id)
    due = sorted(f.due_at for f in info.last_fires)
    assert [d.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M") for d in due] == expected_local
    assert len(await runs_of(flowyard, workflow_id)) == 2
    assert all(d.tzinfo == UTC for d in due)
