"""Schedules fire on their due times, read from a clock the tests move: cron, interval, catch-up, overlap, pause."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.engine.model import NodeSpec, RunStatus, Trigger, WorkflowDefinition
from app.models.schedules import ScheduleCreate as ScheduleSpec
from app.root import Flowyard
from app.settings import Settings
from tests.scheduling.conftest import Clock, delay, open_flowyard, runs_of, settle, workflow


async def test_cron_schedule_fires_at_each_due_minute_with_its_input(flowyard: Flowyard, clock: Clock) -> None:
    workflow_id = await workflow(flowyard)
    schedule = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="*/5 * * * *", input={"report": "daily"}))

    clock.move(minutes=4, seconds=59)
    await flowyard.schedules.tick()
    assert await runs_of(flowyard, workflow_id) == []

    clock.move(seconds=1)  # 12:05
    await flowyard.schedules.tick()
    await settle(flowyard, workflow_id)
    clock.move(minutes=5)  # 12:10
    await flowyard.schedules.tick()
    await settle(flowyard, workflow_id)

    runs = [await flowyard.runs.get(run_id) for run_id in await runs_of(flowyard, workflow_id)]
    assert len(runs) == 2
    assert {run.trigger for run in runs} == {Trigger.SCHEDULE}
    assert all(run.input == {"report": "daily"} and run.status == RunStatus.COMPLETED for run in runs)
    info = await flowyard.schedules.get(schedule.id)
    assert [(f.due_at.minute, f.outcome, f.run_status) for f in info.last_fires] == [
        (10, "started", "COMPLETED"),
        (5, "started", "COMPLETED"),
    ]
    assert [t.minute for t in info.next_fire_times] == [15, 20, 25, 30, 35]


async def test_interval_schedule_fires_every_interval_from_when_it_was_saved(flowyard: Flowyard, clock: Clock) -> None:
    workflow_id = await workflow(flowyard)
    schedule = await flowyard.schedules.create(workflow_id, ScheduleSpec(interval_seconds=90))
    assert [t - clock() for t in schedule.next_fire_times[:2]] == [timedelta(seconds=90), timedelta(seconds=180)]
    assert schedule.description == "Every 90 seconds"

    for _ in range(3):
        clock.move(seconds=90)
        await flowyard.schedules.tick()
        await settle(flowyard, workflow_id)

    info = await flowyard.schedules.get(schedule.id)
    assert len(await runs_of(flowyard, workflow_id)) == 3
    assert [f.due_at for f in info.last_fires] == [clock() - timedelta(seconds=90 * n) for n in range(3)]


@pytest.mark.parametrize(
    ("policy", "window_seconds", "expected_minutes"),
    [
        ("skip", 3600, []),
        ("once", 3600, [10]),
        ("all", 3600, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ("all", 300, [6, 7, 8, 9, 10]),
    ],
)
async def test_times_missed_while_the_app_was_down_follow_the_catchup_policy(
    scheduling_settings: Settings, clock: Clock, policy: str, window_seconds: float, expected_minutes: list[int]
) -> None:
    first = open_flowyard(scheduling_settings, clock)
    await first.start()
    workflow_id = await workflow(first)
    schedule = await first.schedules.create(
        workflow_id,
        ScheduleSpec(
            cron="* * * * *", overlap_policy="allow", catchup_policy=policy, catchup_window_seconds=window_seconds
        ),
    )
    await first.close()

    clock.move(minutes=10, seconds=45)  # down from 12:00 to 12:10:45: 12:01 … 12:10 were missed
    second = open_flowyard(scheduling_settings, clock)
    await second.start()
    try:
        await second.schedules.tick()
        await settle(second, workflow_id)
        info = await second.schedules.get(schedule.id)
        assert sorted(f.due_at.minute for f in info.last_fires if f.run_id) == expected_minutes
        assert len(await runs_of(second, workflow_id)) == len(expected_minutes)
        assert info.next_fire_times[0] == clock().replace(minute=11, second=0)
    finally:
        await second.close()


async def test_a_skipping_schedule_does_not_start_while_its_run_is_active(flowyard: Flowyard, clock: Clock) -> None:
    workflow_id = await workflow(flowyard, delay(30))
    schedule = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="* * * * *", overlap_policy="skip"))

    for _ in range(3):
        clock.move(minutes=1)
        await flowyard.schedules.tick()

    info = await flowyard.schedules.get(schedule.id)
    assert [f.outcome for f in info.last_fires] == ["skipped-overlap", "skipped-overlap", "started"]
    assert len(await runs_of(flowyard, workflow_id)) == 1
    await flowyard.executor.cancel(info.last_fires[-1].run_id or "")


async def test_an_allowing_schedule_starts_a_run_on_every_due_time(flowyard: Flowyard, clock: Clock) -> None:
    workflow_id = await workflow(flowyard, delay(30))
    schedule = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="* * * * *", overlap_policy="allow"))

    for _ in range(3):
        clock.move(minutes=1)
        await flowyard.schedules.tick()

    info = await flowyard.schedules.get(schedule.id)
    assert [f.outcome for f in info.last_fires] == ["started"] * 3
    assert {f.run_status for f in info.last_fires} <= {"QUEUED", "RUNNING"}
    for fire in info.last_fires:
        await flowyard.executor.cancel(fire.run_id or "")


async def test_a_queueing_schedule_starts_each_due_time_after_the_previous_run_ends(
    flowyard: Flowyard, clock: Clock
) -> None:
    workflow_id = await workflow(flowyard, delay(0.3))
    schedule = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="* * * * *", overlap_policy="queue"))
    for _ in range(3):
        clock.move(minutes=1)
        await flowyard.schedules.tick()
    queued = await flowyard.schedules.get(schedule.id)
    assert [f.outcome for f in queued.last_fires] == ["queued", "queued", "started"]
    assert len(await runs_of(flowyard, workflow_id)) == 1

    for _ in range(2):
        await settle(flowyard, workflow_id)  # the active run ends: the oldest queued due time starts

    info = await flowyard.schedules.get(schedule.id)
    await settle(flowyard, workflow_id)
    runs = [await flowyard.runs.get(f.run_id or "") for f in reversed(info.last_fires)]
    assert [f.outcome for f in info.last_fires] == ["started"] * 3
    assert all(run.status == RunStatus.COMPLETED for run in runs)


async def test_a_schedule_pauses_itself_after_failing_n_times_in_a_row(flowyard: Flowyard, clock: Clock) -> None:
    workflow_id = await workflow(flowyard, delay("soon"))  # not a number of seconds: every run fails
    schedule = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="* * * * *", pause_after_failures=2))

    for _ in range(3):
        clock.move(minutes=1)
        await flowyard.schedules.tick()
        await settle(flowyard, workflow_id)

    paused = await flowyard.schedules.get(schedule.id)
    assert len(await runs_of(flowyard, workflow_id)) == 2
    assert (paused.enabled, paused.paused_reason, paused.consecutive_failures) == (
        False,
        "Paused after 2 failed runs in a row",
        2,
    )
    assert paused.next_fire_times == []

    resumed = await flowyard.schedules.set_enabled(schedule.id, True)
    assert (resumed.enabled, resumed.paused_reason, resumed.consecutive_failures) == (True, None, 0)
    assert resumed.next_fire_times[0] == clock().replace(second=0) + timedelta(minutes=1)


async def test_a_completed_run_resets_the_count_of_failures(flowyard: Flowyard, clock: Clock) -> None:
    workflow_id = await workflow(flowyard, delay("{{ input.wait }}"))
    schedule = await flowyard.schedules.create(
        workflow_id, ScheduleSpec(cron="* * * * *", input={"wait": "x"}, pause_after_failures=2)
    )
    clock.move(minutes=1)
    await flowyard.schedules.tick()
    await settle(flowyard, workflow_id)
    assert (await flowyard.schedules.get(schedule.id)).consecutive_failures == 1

    await flowyard.schedules.update(
        schedule.id, ScheduleSpec(cron="* * * * *", input={"wait": 0}, pause_after_failures=2)
    )
    clock.move(minutes=1)
    await flowyard.schedules.tick()
    await settle(flowyard, workflow_id)

    info = await flowyard.schedules.get(schedule.id)
    assert (info.enabled, info.consecutive_failures) == (True, 0)
    assert [f.run_status for f in info.last_fires] == ["COMPLETED", "FAILED"]


async def test_a_schedule_and_its_next_fire_time_survive_a_restart(scheduling_settings: Settings, clock: Clock) -> None:
    first = open_flowyard(scheduling_settings, clock)
    await first.start()
    workflow_id = await workflow(first)
    schedule = await first.schedules.create(
        workflow_id, ScheduleSpec(name="Weekly", cron="0 8 * * 1", timezone="Europe/Berlin")
    )
    await first.close()

    second = open_flowyard(scheduling_settings, clock)
    await second.start()
    try:
        (restored,) = await second.schedules.list(workflow_id)
        assert restored.next_fire_times == schedule.next_fire_times
        assert restored.next_fire_times[0].isoformat() == "2026-03-09T08:00:00+01:00"
        clock.at = restored.next_fire_times[0]
        await second.schedules.tick()
        await settle(second, workflow_id)
        assert len(await runs_of(second, workflow_id)) == 1
    finally:
        await second.close()


async def test_a_run_that_cannot_start_is_a_failed_fire_and_counts_towards_the_pause(
    flowyard: Flowyard, clock: Clock
) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))
    schedule = await flowyard.schedules.create(
        workflow_id, ScheduleSpec(cron="* * * * *", input={"email": "ada@example.org"}, pause_after_failures=1)
    )
    # The workflow changes after the schedule was saved: its entry step now wants a number, not an object.
    await flowyard.workflows.save_definition(
        workflow_id, WorkflowDefinition(nodes=[NodeSpec(key="wait", agent_id="delay", config={"seconds": "x"})])
    )

    clock.move(minutes=1)
    await flowyard.schedules.tick()

    info = await flowyard.schedules.get(schedule.id)
    (fire,) = info.last_fires
    assert (fire.outcome, fire.run_id) == ("error", None)
    assert fire.error
    assert (info.enabled, info.paused_reason) == (False, "Paused after 1 failed run in a row")
    assert await runs_of(flowyard, workflow_id) == []


async def test_two_flowyards_on_one_database_fire_a_due_time_once(
    flowyard: Flowyard, scheduling_settings: Settings, clock: Clock
) -> None:
    workflow_id = await workflow(flowyard)
    schedule = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="* * * * *", overlap_policy="allow"))
    other = open_flowyard(scheduling_settings, clock)
    await other.start()
    try:
        clock.move(minutes=1)
        await asyncio.gather(other.schedules.tick(), flowyard.schedules.tick())
        await settle(flowyard, workflow_id)

        info = await flowyard.schedules.get(schedule.id)
        assert len(info.last_fires) == 1
        assert len(await runs_of(flowyard, workflow_id)) == 1
        assert flowyard.schedules.taken + other.schedules.taken == 1
    finally:
        await other.close()
