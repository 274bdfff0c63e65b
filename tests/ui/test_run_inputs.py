"""The Run dialog and the webhook tab follow the workflow's input: its inferred schema and its samples."""

from __future__ import annotations

import asyncio

from nicegui.testing import User

from app.engine.model import RunStatus
from app.models.samples import SampleInput
from app.root import Flowyard
from tests.ui.helpers import steps

GREETING = "Hi {{ input.name }}, {{ input.seats * 2 }} seats"


async def _runs(flowyard: Flowyard, count: int) -> list[str]:
    for _ in range(100):
        items = (await flowyard.runs.list_all()).items
        if len(items) >= count and all(RunStatus(i.status).is_terminal for i in items):
            return [i.id for i in items]
        await asyncio.sleep(0.05)
    raise AssertionError("the runs did not end")


async def test_the_run_form_asks_for_what_the_templates_read_and_names_what_is_missing(
    user: User, flowyard: Flowyard
) -> None:
    workflow = await flowyard.workflows.create(name="Greet", definition=steps(GREETING))
    await user.open(f"/workflows/{workflow.id}")
    user.find(marker="run-workflow").click()
    await user.should_see("its templates read input.name, input.seats")

    user.find(marker="start-run").click()
    await user.should_see("The steps need more from the input: name is required; seats is required")
    assert (await flowyard.runs.list_all()).items == []

    user.find("Name *").type("Ada")
    user.find("Seats *").type("3")
    user.find(marker="start-run").click()
    [run_id] = await _runs(flowyard, 1)
    run = await flowyard.runs.get(run_id)
    assert (run.input, run.output) == ({"name": "Ada", "seats": 3}, "Hi Ada, 6 seats")


async def test_run_with_a_sample_and_save_another(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Greet", definition=steps(GREETING))
    await flowyard.inputs.save_samples(workflow.id, [SampleInput(name="Team", input={"name": "Team", "seats": 5})])
    await user.open(f"/workflows/{workflow.id}")
    user.find(marker="run-workflow").click()
    await user.should_see("Run with sample")

    user.find("Name *").clear().type("Bo")  # the form starts from the sample; typed over, kept as a new sample
    user.find(marker="sample-name").type("Bo alone")
    user.find(marker="save-sample").click()
    await user.should_see("Sample “Bo alone” saved with the workflow")
    user.find(marker="run-sample").click()
    [run_id] = await _runs(flowyard, 1)

    assert (await flowyard.runs.get(run_id)).output == "Hi Bo, 10 seats"
    assert [(s.name, s.input) for s in await flowyard.inputs.samples(workflow.id)] == [
        ("Team", {"name": "Team", "seats": 5}),
        ("Bo alone", {"name": "Bo", "seats": 5}),
    ]


async def test_reopened_with_the_last_input_the_picker_claims_no_sample_until_one_is_picked(
    user: User, flowyard: Flowyard
) -> None:
    workflow = await flowyard.workflows.create(name="Greet", definition=steps(GREETING))
    await flowyard.inputs.save_samples(workflow.id, [SampleInput(name="Team", input={"name": "Team", "seats": 5})])
    await user.open(f"/workflows/{workflow.id}")
    user.find(marker="run-workflow").click()
    await user.should_see("Run with sample")
    user.find("Name *").clear().type("Ada")
    user.find(marker="start-run").click()
    await _runs(flowyard, 1)

    user.find(marker="run-workflow").click()
    await user.should_see("Sample input (the fields hold the last input)")
    [picker] = user.find(marker="sample").elements
    [name] = user.find("Name *").elements
    assert (picker.value, name.value) == (None, "Ada")

    picker.set_value("Team")
    [name] = user.find("Name *").elements
    assert name.value == "Team"


async def test_the_webhook_tab_shows_the_fields_and_a_sample_body(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Greet", definition=steps(GREETING))
    await flowyard.inputs.save_samples(workflow.id, [SampleInput(name="Ada", input={"name": "Ada", "seats": 2})])
    await flowyard.webhooks.save(workflow.id)

    await user.open(f"/workflows/{workflow.id}/webhook")

    await user.should_see("name: string, required")
    await user.should_see("seats: number, required")
    await user.should_see('{"name": "Ada", "seats": 2}', retries=3)
