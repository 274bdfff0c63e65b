"""A workflow's own tabs, as a person uses them (NiceGUI's simulated user): Schedules, Webhook, Batches."""

from __future__ import annotations

import asyncio
import re

import pytest
from nicegui import ElementFilter, ui
from nicegui.testing import User

from app.models.schedules import ScheduleCreate as ScheduleSpec
from app.root import Flowyard
from app.services.webhooks import NoWebhook
from tests.ui.helpers import landed_on, marked_rows, steps


def _browser_in(user: User, zone: str) -> None:
    """Answer the page's question for the browser's time zone as a browser set to `zone` would."""
    user.javascript_rules[re.compile(r".*resolvedOptions\(\)\.timeZone")] = lambda _: zone


async def _value_of(user: User, marker: str) -> str:
    with user:
        [element] = ElementFilter(marker=marker, local_scope=False)
        assert isinstance(element, ui.input)
        return str(element.value)


async def test_the_editor_leads_to_the_workflows_schedules(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")

    user.find(marker="open-schedules").click()

    await landed_on(user, f"/workflows/{workflow.id}/schedules")
    await user.should_see("No schedules yet")


async def test_create_a_schedule_in_the_form_and_see_its_next_fire_times(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    _browser_in(user, "Asia/Tokyo")
    await user.open(f"/workflows/{workflow.id}/schedules")
    user.find(marker="create").click()
    await user.should_see("At 08:00, Monday through Friday")  # the preview of the form's starting cron
    user.find(marker="name").type("Mornings")
    user.find(marker="cron").clear().type("30 7 * * 1")
    await user.should_see("At 07:30, only on Monday")

    user.find(marker="confirm").click()

    await user.should_see("Schedule saved")
    [schedule] = await flowyard.schedules.list(workflow.id)
    assert (schedule.name, schedule.cron, schedule.timezone) == ("Mornings", "30 7 * * 1", "Asia/Tokyo")
    assert marked_rows(user, "schedule-row") == [schedule.id]
    with user:
        times = [e.text for e in ElementFilter(marker="fire-time", local_scope=False)]
    assert len(times) == 5
    assert all(t.startswith("Mon ") and t.endswith("07:30 JST") for t in times), times


async def test_a_bad_cron_is_named_and_nothing_is_saved(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    _browser_in(user, "UTC")
    await user.open(f"/workflows/{workflow.id}/schedules")
    user.find(marker="create").click()
    await user.should_see(marker="cron")

    user.find(marker="cron").clear().type("61 * * * *")
    await user.should_see(marker="preview-error")
    user.find(marker="confirm").click()

    await user.should_see("cron:")
    assert await flowyard.schedules.list(workflow.id) == []


async def test_turn_a_schedule_off_and_its_fire_times_go(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    schedule = await flowyard.schedules.create(
        workflow.id, ScheduleSpec(name="Hourly", cron="0 * * * *", timezone="Europe/Berlin")
    )
    await user.open("/schedules")
    await user.should_see("Hourly")
    await user.should_see("Digest")  # the page of all schedules names each one's workflow

    user.find(marker="enabled").click()

    await user.should_see("Not scheduled while off")
    assert not (await flowyard.schedules.get(schedule.id)).enabled


async def test_create_and_rotate_a_webhook(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Intake", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}/webhook")
    await user.should_see("No webhook yet")

    user.find(marker="create-webhook").click()

    await user.should_see("Webhook created")
    first = await flowyard.webhooks.get(workflow.id)
    assert first is not None and first.path
    assert (await _value_of(user, "webhook-url")).endswith(first.path)

    user.find(marker="rotate").click()
    user.find(marker="confirm").click()

    await user.should_see("New URL ready")
    second = await flowyard.webhooks.get(workflow.id)
    assert second is not None and second.path and second.path != first.path
    assert (await _value_of(user, "webhook-url")).endswith(second.path)
    assert first.secret is not None
    with pytest.raises(NoWebhook):
        await flowyard.webhooks.call(first.secret, b"{}")


async def test_a_batch_page_shows_progress_counts_and_rows(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Shout", definition=steps("{{ input.word }}!"))
    batch = await flowyard.batches.create(
        workflow.id, filename="words.csv", content=b"word\nhello\nworld\n", mapping={"word": "word"}
    )
    for _ in range(100):
        if (await flowyard.batches.get(batch.id)).status == "FINISHED":
            break
        await asyncio.sleep(0.05)

    await user.open(f"/batches/{batch.id}")

    await user.should_see("2 of 2 rows done")
    await user.should_see("2 completed")
    assert marked_rows(user, "batch-row") == ["0", "1"]
    await user.should_see("hello!")
