"""Saving schedules: what is refused (naming the field, writing nothing), previews, switching and deleting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from app.engine.exceptions import InvalidInput, NotFound
from app.engine.model import NodeSpec
from app.models.schedules import ScheduleCreate as ScheduleSpec
from app.root import Flowyard
from tests.scheduling.conftest import Clock, workflow


def count_rows(flowyard: Flowyard, table: str) -> int:
    with flowyard.db.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"cron": "61 * * * *"}, "cron", "not a valid cron expression"),
        ({"cron": "0 8 * *"}, "cron", "needs 5 fields"),
        ({"cron": "0 8 * * *", "timezone": "Europe/Atlantis"}, "timezone", "unknown time zone"),
        ({"interval_seconds": 0}, "intervalSeconds", "at least 1 second"),
        ({"interval_seconds": -5}, "intervalSeconds", "at least 1 second"),
        ({"cron": "0 8 * * *", "interval_seconds": 60}, "cron", "not both"),
        ({}, "cron", "give a cron expression or an interval"),
        ({"cron": "0 8 * * *", "input": {"company": "Acme"}}, "input.email", "required"),
        ({"cron": "0 8 * * *", "input": {"email": "a@b.c", "phone": "1"}}, "input.phone", ""),
    ],
)
async def test_a_schedule_that_cannot_be_scheduled_is_refused_and_nothing_is_written(
    flowyard: Flowyard, fields: dict[str, Any], field: str, message: str
) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))  # input: {email, company?}

    with pytest.raises(InvalidInput) as refused:
        await flowyard.schedules.create(workflow_id, ScheduleSpec(**fields))

    assert refused.value.field == field
    assert message in refused.value.message
    assert await flowyard.schedules.list(workflow_id) == []
    assert count_rows(flowyard, "schedules") == count_rows(flowyard, "apscheduler_jobs") == 0


async def test_an_update_that_is_refused_leaves_the_schedule_as_it_was(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard)
    saved = await flowyard.schedules.create(workflow_id, ScheduleSpec(name="Morning", cron="0 8 * * *"))

    with pytest.raises(InvalidInput):
        await flowyard.schedules.update(saved.id, ScheduleSpec(name="Evening", cron="0 25 * * *"))

    assert await flowyard.schedules.get(saved.id) == saved


async def test_the_entry_steps_input_schema_accepts_a_fitting_input(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))

    saved = await flowyard.schedules.create(
        workflow_id, ScheduleSpec(cron="0 8 * * 1-5", timezone="Europe/Berlin", input={"email": "ada@example.org"})
    )

    assert (saved.workflow_name, saved.input, saved.description) == (
        "Report",
        {"email": "ada@example.org"},
        "At 08:00, Monday through Friday",
    )
    assert [t.isoformat() for t in saved.next_fire_times[:2]] == [
        "2026-03-03T08:00:00+01:00",
        "2026-03-04T08:00:00+01:00",
    ]


def test_preview_describes_a_cron_and_lists_its_next_times_in_its_zone(flowyard: Flowyard) -> None:
    preview = flowyard.schedules.preview(
        cron="0 8 * * 1-5",
        interval_seconds=None,
        timezone="America/New_York",
        count=3,
        now=datetime(2026, 3, 6, tzinfo=UTC),
    )

    assert preview.description == "At 08:00, Monday through Friday"
    assert [t.isoformat() for t in preview.next_fire_times] == [
        "2026-03-06T08:00:00-05:00",
        "2026-03-09T08:00:00-04:00",  # after the spring change: still 08:00 local
        "2026-03-10T08:00:00-04:00",
    ]


def test_preview_of_an_interval_counts_from_now(flowyard: Flowyard, clock: Clock) -> None:
    preview = flowyard.schedules.preview(cron=None, interval_seconds=300, timezone="UTC", count=2)

    assert preview.description == "Every 5 minutes"
    assert [t.astimezone(UTC) for t in preview.next_fire_times] == [
        datetime(2026, 3, 2, 12, 5, tzinfo=UTC),
        datetime(2026, 3, 2, 12, 10, tzinfo=UTC),
    ]


def test_preview_refuses_what_saving_would_refuse(flowyard: Flowyard) -> None:
    with pytest.raises(InvalidInput) as refused:
        flowyard.schedules.preview(cron="0 8 * * *", interval_seconds=None, timezone="Nowhere/Town")

    assert refused.value.field == "timezone"


async def test_disabling_a_schedule_removes_its_job_and_enabling_brings_it_back(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard)
    saved = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="*/10 * * * *"))
    assert count_rows(flowyard, "apscheduler_jobs") == 1

    disabled = await flowyard.schedules.set_enabled(saved.id, False)
    assert (disabled.enabled, disabled.next_fire_times, count_rows(flowyard, "apscheduler_jobs")) == (False, [], 0)

    enabled = await flowyard.schedules.set_enabled(saved.id, True)
    assert enabled.enabled and enabled.next_fire_times == saved.next_fire_times
    assert count_rows(flowyard, "apscheduler_jobs") == 1


async def test_changing_the_cron_moves_the_next_fire_times(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard)
    saved = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="0 8 * * *"))

    changed = await flowyard.schedules.update(saved.id, ScheduleSpec(cron="0 18 * * *"))

    assert [t.hour for t in changed.next_fire_times] == [18] * 5
    assert changed.updated_at > saved.updated_at


async def test_deleting_a_schedule_removes_it_and_its_job(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard)
    saved = await flowyard.schedules.create(workflow_id, ScheduleSpec(interval_seconds=60))

    await flowyard.schedules.delete(saved.id)

    with pytest.raises(NotFound):
        await flowyard.schedules.get(saved.id)
    assert count_rows(flowyard, "apscheduler_jobs") == 0


async def test_a_workflows_schedules_are_listed_apart_from_the_others(flowyard: Flowyard, clock: Clock) -> None:
    first = await workflow(flowyard, name="First")
    second = await workflow(flowyard, name="Second")
    a = await flowyard.schedules.create(first, ScheduleSpec(name="a", cron="0 1 * * *"))
    clock.move(seconds=1)
    b = await flowyard.schedules.create(second, ScheduleSpec(name="b", cron="0 2 * * *"))

    assert [s.id for s in await flowyard.schedules.list(first)] == [a.id]
    assert [s.id for s in await flowyard.schedules.list()] == [a.id, b.id]
    with pytest.raises(NotFound):
        await flowyard.schedules.list("wf-missing")


async def test_deleting_a_workflow_deletes_its_schedules_and_their_jobs(flowyard: Flowyard, clock: Clock) -> None:
    workflow_id = await workflow(flowyard)
    saved = await flowyard.schedules.create(workflow_id, ScheduleSpec(cron="* * * * *"))
    clock.move(minutes=1)
    await flowyard.schedules.tick()
    (fire,) = (await flowyard.schedules.get(saved.id)).last_fires
    await flowyard.executor.wait(fire.run_id or "", timeout=10)

    await flowyard.workflows.delete(workflow_id)
    clock.move(minutes=1)
    await flowyard.schedules.tick()  # reconciles: the job of the deleted schedule goes

    with pytest.raises(NotFound):
        await flowyard.schedules.get(saved.id)
    assert count_rows(flowyard, "schedule_fires") == count_rows(flowyard, "apscheduler_jobs") == 0
