"""What a person does to a workflow from /workflows: create, rename, clone, export, delete."""

from __future__ import annotations

import json

from nicegui import ui
from nicegui.testing import User

from app.root import Flowyard
from tests.ui.helpers import landed_on, paused_run, row_names, should_see_rows, steps


async def _names(flowyard: Flowyard) -> list[str]:
    return sorted(w.name for w in (await flowyard.workflows.list(page=0, size=50)).items)


async def test_create_a_workflow_lands_in_its_editor(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")

    user.find(marker="create").click()
    user.find(marker="name").type("Morning briefing")
    user.find(marker="description").type("Reads the news")
    user.find(marker="confirm").click()

    url = await landed_on(user, "/workflows/wf-")
    workflow = await flowyard.workflows.get(url.removeprefix("/workflows/"))
    assert (workflow.name, workflow.description) == ("Morning briefing", "Reads the news")


async def test_create_without_a_name_says_what_is_missing(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")

    user.find(marker="create").click()
    user.find(marker="name").type("   ")
    user.find(marker="confirm").click()

    await user.should_see("Give it a name")
    assert await _names(flowyard) == []


async def test_create_from_the_empty_state(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")

    user.find("Create a blank workflow").click()
    user.find(marker="name").type("First one")
    user.find(marker="confirm").click()

    await landed_on(user, "/workflows/wf-")
    assert await _names(flowyard) == ["First one"]


async def test_rename_a_workflow(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Draft", description="old words")
    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        user.find(marker="rename").click()
    user.find(marker="name").clear().type("Weekly digest")
    user.find(marker="description").clear().type("Sums up the week")
    user.find(marker="confirm").click()

    await should_see_rows(user, ["Weekly digest"])
    await user.should_see("Sums up the week")
    renamed = await flowyard.workflows.get(workflow.id)
    assert (renamed.name, renamed.description) == ("Weekly digest", "Sums up the week")


async def test_rename_to_nothing_is_refused_inline(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Draft")
    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        user.find(marker="rename").click()
    user.find(marker="name").clear()
    user.find(marker="confirm").click()

    await user.should_see("Give it a name")
    assert (await flowyard.workflows.get(workflow.id)).name == "Draft"


async def test_clone_a_workflow_adds_a_copy(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Lead routing", definition=steps("{{ input }}", "{{ input }}"))
    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        user.find(marker="clone").click()

    await user.should_see("Cloned as “Lead routing (Copy)”")
    await should_see_rows(user, ["Lead routing (Copy)", "Lead routing"])
    copy = (await flowyard.workflows.summaries(page=0, size=10, search="(Copy)")).items[0]
    assert copy.steps == 2


async def test_export_a_workflow_downloads_its_document(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Lead routing", definition=steps("{{ input }}"))
    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        user.find(marker="export").click()
    response = await user.download.next()

    document = json.loads(response.content)
    assert (document["format"], document["version"], document["name"]) == ("flowyard.workflow", 1, "Lead routing")
    assert [node["key"] for node in document["definition"]["nodes"]] == ["s1"]


async def test_delete_after_confirming_removes_the_workflow(user: User, flowyard: Flowyard) -> None:
    keep = await flowyard.workflows.create(name="Keep")
    doomed = await flowyard.workflows.create(name="Old experiment")
    await user.open("/workflows")

    with user.scope(marker=doomed.id):
        user.find(marker="delete").click()
    await user.should_see("Delete “Old experiment”?")
    user.find(marker="confirm").click()

    await should_see_rows(user, ["Keep"])
    await user.should_see("Deleted “Old experiment”")
    assert await _names(flowyard) == [keep.name]


async def test_delete_then_cancel_keeps_the_workflow(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Precious")
    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        user.find(marker="delete").click()
    user.find("Cancel").click()

    await user.should_not_see("Delete “Precious”?")
    assert await _names(flowyard) == ["Precious"]


async def test_delete_while_a_run_is_active_is_refused(user: User, flowyard: Flowyard) -> None:
    workflow_id = await paused_run(flowyard)
    await user.open("/workflows")

    with user.scope(marker=workflow_id):
        user.find(marker="delete").click()
    user.find(marker="confirm").click()

    await user.should_see("has runs in progress, so it was not deleted")
    assert await _names(flowyard) == ["Newsletter section with approval"]
    await should_see_rows(user, ["Newsletter section with approval"])


async def test_clone_a_workflow_deleted_meanwhile_says_so(user: User, flowyard: Flowyard) -> None:
    gone = await flowyard.workflows.create(name="Gone")
    await flowyard.workflows.create(name="Stays")
    await user.open("/workflows")
    await flowyard.workflows.delete(gone.id)

    with user.scope(marker=gone.id):
        user.find(marker="clone").click()

    await user.should_see("Couldn't clone “Gone”: it no longer exists.")
    await should_see_rows(user, ["Stays"])


async def test_delete_the_last_row_of_the_last_page_shows_the_page_before(user: User, flowyard: Flowyard) -> None:
    for number in range(51):
        await flowyard.workflows.create(name=f"Workflow {number:02d}")
    await user.open("/workflows")
    user.find(marker="sort-name").click()
    await user.should_see("Showing 1-50 of 51")
    user.find(ui.pagination).elements.pop().set_value(2)
    await should_see_rows(user, ["Workflow 50"])

    user.find(marker="delete").click()
    user.find(marker="confirm").click()

    await user.should_see("50 workflows")
    assert len(row_names(user)) == 50


async def test_enter_in_the_name_creates_one_workflow(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")

    user.find(marker="create").click()
    user.find(marker="name").type("Morning briefing").trigger("keydown.enter")

    await landed_on(user, "/workflows/wf-")
    assert await _names(flowyard) == ["Morning briefing"]  # not one per Enter handler
