"""Finding workflows on /workflows: the empty state, what a row tells, search and sort, opening one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nicegui import ui
from nicegui.testing import User

from app import clock
from app.root import Flowyard
from tests.ui.helpers import landed_on, row_names, run_to_end, should_see_rows, steps


async def test_open_the_page_without_workflows_shows_where_to_start(user: User) -> None:
    await user.open("/workflows")

    await user.should_see("No workflows yet — start from an example")
    await user.should_see("Create a blank workflow")
    await user.should_see("Lead routing")
    await user.should_see("Newsletter section")
    await user.should_not_see(marker="search")


async def test_open_the_page_shows_what_each_workflow_is(
    user: User, flowyard: Flowyard, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = await flowyard.workflows.create(
        name="Daily digest", description="Sums up the day", definition=steps("{{ input }}", "{{ input }}!")
    )
    await run_to_end(flowyard, workflow.id)
    edited = (await flowyard.workflows.get(workflow.id)).updated_at
    monkeypatch.setattr(clock, "now", lambda: edited + timedelta(minutes=3))

    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        await user.should_see("Daily digest")
        await user.should_see("Sums up the day")
        await user.should_see("2 steps")
        await user.should_see("Completed")
        await user.should_see("3 min ago")
        await user.should_see(f"{edited:%d %b %Y, %H:%M:%S} UTC")
    await user.should_see("1 workflow")


async def test_open_the_page_shows_a_never_run_workflow_as_such(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Fresh")

    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        await user.should_see("Never run")
        await user.should_see("0 steps")
        await user.should_see("No description")


async def test_names_that_look_like_html_show_as_typed(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="<img src=x onerror=alert(1)> <b>bold</b>")

    await user.open("/workflows")

    assert row_names(user) == ["<img src=x onerror=alert(1)> <b>bold</b>"]
    assert not [element for element in user.current_layout.descendants() if isinstance(element, ui.html)]


async def test_search_keeps_the_matching_workflows(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Lead scoring")
    await flowyard.workflows.create(name="Weekly report", description="For the lead engineers")
    await flowyard.workflows.create(name="Invoices")
    await user.open("/workflows")

    user.find(marker="search").type("lead")

    await should_see_rows(user, ["Weekly report", "Lead scoring"])
    await user.should_see("2 workflows")


async def test_search_without_a_match_says_so(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Invoices")
    await user.open("/workflows")

    user.find(marker="search").type("zebra")

    await user.should_see("No workflows match “zebra”")
    assert row_names(user) == []


async def test_open_the_page_lists_the_latest_edits_first(user: User, flowyard: Flowyard) -> None:
    for name in ("First", "Second", "Third"):
        await flowyard.workflows.create(name=name)
    await flowyard.workflows.update((await _id_of(flowyard, "First")), description="edited last")

    await user.open("/workflows")

    assert row_names(user) == ["First", "Third", "Second"]


async def test_sort_by_name_then_reverse_it(user: User, flowyard: Flowyard) -> None:
    for name in ("beta", "Gamma", "alpha"):
        await flowyard.workflows.create(name=name)
    await user.open("/workflows")

    user.find(marker="sort-name").click()
    await should_see_rows(user, ["alpha", "beta", "Gamma"])
    user.find(marker="sort-name").click()

    await should_see_rows(user, ["Gamma", "beta", "alpha"])


async def test_sort_by_last_run_puts_failures_first_and_never_run_last(user: User, flowyard: Flowyard) -> None:
    fine = await flowyard.workflows.create(name="Fine", definition=steps("{{ input }}"))
    broken = await flowyard.workflows.create(name="Broken", definition=steps("{{ 1 // 0 }}"))
    await flowyard.workflows.create(name="Untried")
    await run_to_end(flowyard, fine.id)
    assert (await run_to_end(flowyard, broken.id)).status == "FAILED"
    await user.open("/workflows")

    user.find(marker="sort-last_run").click()

    await should_see_rows(user, ["Broken", "Fine", "Untried"])
    with user.scope(marker=broken.id):
        await user.should_see("Failed")


async def test_click_a_workflow_opens_it(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Daily digest")
    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        user.find(marker="open-workflow").click()

    assert await landed_on(user, "/workflows/wf-") == f"/workflows/{workflow.id}"


async def _id_of(flowyard: Flowyard, name: str) -> str:
    page = await flowyard.workflows.summaries(page=0, size=10, search=name)
    return page.items[0].id


async def test_more_than_a_page_of_workflows_pages_through_them(user: User, flowyard: Flowyard) -> None:
    for number in range(53):
        await flowyard.workflows.create(name=f"Workflow {number:02d}")
    await user.open("/workflows")
    user.find(marker="sort-name").click()
    await user.should_see("Showing 1-50 of 53")

    user.find(ui.pagination).elements.pop().set_value(2)

    await should_see_rows(user, ["Workflow 50", "Workflow 51", "Workflow 52"])
    await user.should_see("Showing 51-53 of 53")


async def test_tags_show_on_rows_and_filter_the_list_from_the_address(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Leads", tags=["sales", "nightly"])
    await flowyard.workflows.create(name="Invoices", tags=["finance"])
    await flowyard.workflows.create(name="Untagged")
    await user.open("/workflows")
    await should_see_rows(user, ["Untagged", "Invoices", "Leads"])
    await user.should_see("nightly")

    user.find(marker="filter-tag").elements.pop().set_value("sales")

    await should_see_rows(user, ["Leads"])
    await user.open("/workflows?tag=Finance")  # any case, from a bookmark
    await should_see_rows(user, ["Invoices"])
    await user.open("/workflows?tag=nobody")
    await user.should_see("No workflows match tag nobody")


async def test_tag_a_workflow_when_renaming_it(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Leads")
    await user.open("/workflows")

    with user.scope(marker=workflow.id):
        user.find(marker="rename").click()
    user.find(marker="tags").elements.pop().set_value(["sales", "  "])
    user.find(marker="confirm").click()
    await user.should_see("tag “”: ")  # a blank tag is refused, naming the problem
    assert (await flowyard.workflows.get(workflow.id)).tags == []

    user.find(marker="tags").elements.pop().set_value(["sales", "q3"])
    user.find(marker="confirm").click()

    await user.should_see("Saved")
    assert (await flowyard.workflows.get(workflow.id)).tags == ["sales", "q3"]
    with user.scope(marker=workflow.id):
        await user.should_see("q3")
