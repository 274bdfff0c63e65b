"""The runs page, a run's own page and the approval inbox, as a person uses them (NiceGUI's simulated user)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from nicegui import ui
from nicegui.testing import User

from app.agents import registry
from app.agents.base import AgentContext, AgentKind, AgentResult
from app.engine.model import RunStatus, Trigger
from app.models.people import Role
from app.root import Flowyard
from components.graph_editor import GraphEditor
from tests.people import person
from tests.ui.conftest import log_in_as
from tests.ui.helpers import marked_rows, paused_run, run_to_end, steps

# --- the runs page ------------------------------------------------------------------------------------------------


async def test_runs_of_every_workflow_newest_first(user: User, flowyard: Flowyard) -> None:
    first = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    second = await flowyard.workflows.create(name="Enrich", definition=steps("{{ input | upper }}"))
    older = await run_to_end(flowyard, first.id)
    newer = await run_to_end(flowyard, second.id)

    await user.open("/runs")

    await user.should_see("Digest")
    await user.should_see("Enrich")
    assert marked_rows(user, "run-row") == [newer.id, older.id]


async def test_filter_by_status_and_workflow_is_kept_in_the_url(user: User, flowyard: Flowyard) -> None:
    good = await flowyard.workflows.create(name="Good", definition=steps("{{ input }}"))
    bad = await flowyard.workflows.create(name="Bad", definition=steps("{{ input.missing.deeper }}"))
    ok = await run_to_end(flowyard, good.id)
    failed = await run_to_end(flowyard, bad.id)
    assert failed.status == RunStatus.FAILED

    await user.open("/runs?status=FAILED")
    await user.should_see("Bad")
    assert marked_rows(user, "run-row") == [failed.id]

    await user.open(f"/runs?workflow={good.id}")
    assert marked_rows(user, "run-row") == [ok.id]

    await user.open(f"/runs?workflow={good.id}&status=FAILED")
    await user.should_see("No runs match these filters")


async def test_filter_controls_change_the_list(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await run_to_end(flowyard, workflow.id)
    await user.open("/runs")
    await user.should_see("Digest")

    user.find(marker="filter-trigger").elements.pop().set_value(["schedule"])

    await user.should_see("No runs match these filters")
    user.find(marker="filter-trigger").elements.pop().set_value([])
    await user.should_see("Digest")


async def test_a_new_run_appears_and_its_row_follows_it(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(
        name="Slow", definition=steps("", agent_id="delay", config={"seconds": 0.6})
    )
    await user.open("/runs")
    await user.should_see("No runs yet")

    run = await flowyard.runs.start(workflow.id, input="x", trigger=Trigger.UI)

    await user.should_see("Running", retries=40)
    assert marked_rows(user, "run-row") == [run.id]
    await user.should_see("Completed", retries=60)


async def test_older_and_newer_pages(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    runs = [await run_to_end(flowyard, workflow.id, i) for i in range(53)]
    await user.open("/runs")
    await user.should_see("Page 1")
    first_page = marked_rows(user, "run-row")
    assert first_page == [r.id for r in reversed(runs)][:50]

    user.find(marker="older").click()
    await user.should_see("Page 2")
    assert marked_rows(user, "run-row") == [r.id for r in reversed(runs)][50:]

    user.find(marker="newer").click()
    await user.should_see("Page 1")
    assert marked_rows(user, "run-row") == first_page


async def test_search_by_text_in_the_input_is_kept_in_the_url(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    ada = await run_to_end(flowyard, workflow.id, {"email": "ada@example.com"})
    await run_to_end(flowyard, workflow.id, {"email": "bob@example.com"})
    await user.open("/runs")
    await user.should_see("Digest")

    user.find(marker="search-runs").type("ADA@")

    for _ in range(40):
        if marked_rows(user, "run-row") == [ada.id]:
            break
        await asyncio.sleep(0.05)
    assert marked_rows(user, "run-row") == [ada.id]
    await user.open("/runs?q=" + ada.id)  # a run id, from the address
    assert marked_rows(user, "run-row") == [ada.id]
    await user.open("/runs?q=carol")
    await user.should_see("No runs match these filters")


async def test_selected_runs_are_deleted_after_asking_and_active_ones_kept(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    done = [await run_to_end(flowyard, workflow.id, i) for i in range(2)]
    waiting = await paused_run(flowyard)
    await user.open("/runs")
    await user.should_see("Digest")

    user.find(marker="select-page").elements.pop().set_value(True)
    await user.should_see("3 runs selected")
    await user.should_see("Delete (2)")
    user.find(marker="bulk-delete").click()
    await user.should_see("Delete 2 runs?")
    user.find(marker="confirm").click()

    await user.should_see("Deleted 2 runs")
    left = await flowyard.runs.list_all()
    assert [r.workflow_id for r in left.items] == [waiting]
    assert not {r.id for r in done} & {r.id for r in left.items}
    assert "runs.delete" in [e.action for e in await flowyard.audit.list()]


async def test_selected_failed_runs_rerun_and_active_ones_cancel(user: User, flowyard: Flowyard) -> None:
    bad = await flowyard.workflows.create(name="Bad", definition=steps("{{ input.nope.deeper }}"))
    failed = await run_to_end(flowyard, bad.id)
    slow = await flowyard.workflows.create(name="Slow", definition=steps("", agent_id="delay", config={"seconds": 30}))
    running = await flowyard.runs.start(slow.id, input="x")
    await user.open("/runs")
    await user.should_see("Slow")

    for box in user.find(marker="select-run").elements:
        box.set_value(True)
    await user.should_see("Re-run failed (1)")
    user.find(marker="bulk-cancel").click()
    await user.should_see("Cancelling 1 run")
    assert (await flowyard.executor.wait(running.id, timeout=10)).status == RunStatus.CANCELLED  # type: ignore[union-attr]

    user.find(marker="bulk-rerun").click()
    await user.should_see("Re-running 1 run from the failed step")
    again = await flowyard.executor.wait(failed.id, timeout=10)
    assert again is not None and again.status == RunStatus.FAILED
    nodes = await flowyard.store.get_node_runs(failed.id)
    assert nodes[0].attempt >= 1 and nodes[0].status == "FAILED"


async def test_a_viewer_selects_nothing(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await run_to_end(flowyard, workflow.id)
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)
    await user.open("/runs")
    await user.should_see("Digest")
    await user.should_not_see(marker="select-run")


# --- one run ------------------------------------------------------------------------------------------------------


async def test_run_page_shows_each_steps_input_and_output(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}!", "{{ input | upper }}"))
    run = await run_to_end(flowyard, workflow.id, "hello")

    await user.open(f"/runs/{run.id}")

    await user.should_see("Completed")
    await user.should_see("version 1")
    canvas = user.find(GraphEditor).elements.pop()
    assert isinstance(canvas, GraphEditor)
    assert canvas.props["readonly"] is True
    user.find(GraphEditor).trigger("select", {"nodes": ["s2"], "edges": []})
    await user.should_see("Attempts")
    with user.scope(marker="node-input"):
        await user.should_see("hello!")
    with user.scope(marker="node-output"):
        await user.should_see("HELLO!")


async def test_a_failed_run_shows_the_steps_it_never_reached_as_not_run_never_queued(
    user: User, flowyard: Flowyard
) -> None:
    workflow = await flowyard.workflows.create(
        name="Breaks", definition=steps("{{ 1 // 0 }}", "{{ input }}", "{{ input }}")
    )
    run = await run_to_end(flowyard, workflow.id, "x")

    await user.open(f"/runs/{run.id}")

    await user.should_see("Failed")
    canvas = user.find(GraphEditor).elements.pop()
    assert isinstance(canvas, GraphEditor)
    assert {n["id"]: n["data"]["status"] for n in canvas.graph["nodes"]} == {
        "s1": "FAILED",
        "s2": "SKIPPED",
        "s3": "SKIPPED",
    }
    assert canvas.props["wheelZoom"] is False  # on this page the wheel scrolls the page
    await user.should_not_see("Queued")
    await user.should_see("Not run")  # the timeline's rows of the two steps
    user.find(GraphEditor).trigger("select", {"nodes": ["s2"], "edges": []})
    await user.should_see("Not run: the run ended before it reached this step.")


async def test_a_failed_run_shows_its_error_and_can_rerun_from_the_failed_step(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Bad", definition=steps("{{ input }}", "{{ input.nope.deeper }}"))
    run = await run_to_end(flowyard, workflow.id, "x")
    await user.open(f"/runs/{run.id}")
    await user.should_see("Failed")
    await user.should_see("step 's2' failed")

    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}", "{{ input }} fixed"))
    before = {n.node_key: n for n in await flowyard.store.get_node_runs(run.id)}
    user.find(marker="rerun-failed").click()

    await user.should_see("Re-running from the failed step")
    await flowyard.executor.wait(run.id, timeout=10)
    # the run re-ran its frozen version (not the fix saved since): the failed step failed again, the first
    # step's output was kept rather than run again, and the page says so
    again = await flowyard.runs.get(run.id)
    nodes = {n.node_key: n for n in await flowyard.store.get_node_runs(run.id)}
    assert again.status == RunStatus.FAILED
    assert "step 's2' failed" in (again.error or "")
    assert (nodes["s1"].status, nodes["s1"].output, nodes["s1"].started_at) == (
        "COMPLETED",
        "x",
        before["s1"].started_at,
    )
    assert nodes["s2"].status == "FAILED"
    assert nodes["s2"].started_at is not None and before["s2"].started_at is not None
    assert nodes["s2"].started_at > before["s2"].started_at
    await user.should_see("Failed", retries=40)


async def test_cancel_a_running_run(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(
        name="Slow", definition=steps("", agent_id="delay", config={"seconds": 30})
    )
    run = await flowyard.runs.start(workflow.id, input="x")
    await user.open(f"/runs/{run.id}")
    await user.should_see("Cancel run", retries=40)

    user.find(marker="cancel-run").click()

    await user.should_see("Cancelled", retries=40)
    assert (await flowyard.runs.get(run.id)).status == RunStatus.CANCELLED


async def test_rerun_starts_a_new_run_with_the_same_input(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    run = await run_to_end(flowyard, workflow.id, {"lead": "Ada"})
    await user.open(f"/runs/{run.id}")
    await user.should_see("Completed")

    user.find(marker="rerun").click()

    for _ in range(100):
        if user.back_history and user.back_history[-1].startswith("/runs/") and run.id not in user.back_history[-1]:
            break
        await asyncio.sleep(0.05)
    new_id = user.back_history[-1].rsplit("/", 1)[-1]
    assert new_id != run.id
    new = await flowyard.runs.get(new_id)
    assert new.input == {"lead": "Ada"}
    assert new.trigger == Trigger.UI


async def test_unknown_run_says_so(user: User) -> None:
    await user.open("/runs/wr-nope")
    await user.should_see("There is no run “wr-nope”")


# --- the inbox ----------------------------------------------------------------------------------------------------


async def test_inbox_lists_the_waiting_step_with_its_context(user: User, flowyard: Flowyard) -> None:
    await paused_run(flowyard)

    await user.open("/inbox")

    await user.should_see("Editor approves")
    await user.should_see("Newsletter section with approval")
    with user.scope(marker="context-input"):
        await user.should_see("robotics")
    await user.should_see("research")  # the earlier steps' outputs, by key


async def test_approve_with_edits_finishes_the_run_with_the_edited_value(user: User, flowyard: Flowyard) -> None:
    workflow_id = await paused_run(flowyard)
    await user.open("/inbox")
    await user.should_see("Editor approves")
    [proposal] = user.find(marker="proposal").elements
    assert isinstance(proposal, ui.textarea)

    proposal.set_value("A shorter section.")
    user.find(marker="approve-edited").click()

    await user.should_see("Approved with edits: the run goes on")
    [item] = (await flowyard.runs.list_all()).items
    assert item.workflow_id == workflow_id
    for _ in range(100):
        run = await flowyard.runs.get(item.id)
        if run.status == RunStatus.COMPLETED:
            break
        await asyncio.sleep(0.05)
    assert run.output["text"] == "A shorter section."  # type: ignore[index]
    [approval] = await flowyard.runs.approvals(item.id)
    assert (approval.status, approval.output, approval.decided_by) == (
        "APPROVED",
        "A shorter section.",
        "ada@example.com",
    )
    await user.should_see("Approved by ada@example.com")  # the decision stays in view, with who made it


async def test_reject_needs_a_reason_and_keeps_it(user: User, flowyard: Flowyard) -> None:
    await paused_run(flowyard)
    await user.open("/inbox")
    await user.should_see("Editor approves")

    user.find(marker="reject").click()
    await user.should_see("Give a reason to reject")
    assert (await flowyard.approvals.pending()).items  # nothing decided

    user.find(marker="reason").type("Off topic this week")
    user.find(marker="reject").click()

    await user.should_see("The step failed with this reason, and so did its run.")
    [item] = (await flowyard.runs.list_all()).items
    for _ in range(100):
        if (await flowyard.runs.get(item.id)).status == RunStatus.FAILED:
            break
        await asyncio.sleep(0.05)
    [approval] = await flowyard.runs.approvals(item.id)
    assert (approval.status, approval.reason) == ("REJECTED", "Off topic this week")


async def test_a_new_approval_appears_live_with_a_notification(user: User, flowyard: Flowyard) -> None:
    await user.open("/inbox")
    await user.should_see("All caught up")

    await paused_run(flowyard)

    await user.should_see("Editor approves", retries=40)
    assert any("Approval needed" in message for message in user.notify.messages)


async def test_the_run_page_keeps_the_decision_and_the_edit(user: User, flowyard: Flowyard) -> None:
    await paused_run(flowyard)
    [item] = (await flowyard.runs.list_all()).items
    [approval] = (await flowyard.approvals.pending()).items
    await flowyard.approvals.decide(approval.id, "approve_edited", output={"text": "edited"}, by=person("ada"))
    for _ in range(100):
        if (await flowyard.runs.get(item.id)).status == RunStatus.COMPLETED:
            break
        await asyncio.sleep(0.05)

    await user.open(f"/runs/{item.id}")

    await user.should_see("approved by ada")
    await user.should_see("Edited before approval:")
    with user.scope(marker="approval-diff"):
        await user.should_see('"edited"')


class _Streamer(AgentKind):
    """Produces its output piece by piece (as an llm does), at the test's pace."""

    kind: ClassVar[str] = "streamer_test"
    title: ClassVar[str] = "Streamer"
    more: ClassVar[asyncio.Event]
    release: ClassVar[asyncio.Event]

    async def run(self, ctx: AgentContext) -> Any:
        assert ctx.stream is not None
        ctx.stream("Once upon ")
        await asyncio.wait_for(self.more.wait(), 10)
        ctx.stream("a time, ")
        ctx.stream("the end.")
        await asyncio.wait_for(self.release.wait(), 10)
        return AgentResult(output="Once upon a time, the end.", usage={"total_tokens": 42})


async def test_a_running_steps_output_streams_into_its_panel_and_tokens_are_counted(
    user: User, flowyard: Flowyard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.KINDS, _Streamer.kind, _Streamer)
    monkeypatch.setattr(_Streamer, "more", asyncio.Event(), raising=False)
    monkeypatch.setattr(_Streamer, "release", asyncio.Event(), raising=False)
    await flowyard.agents.create(id="storyteller", name="Storyteller", kind=_Streamer.kind)
    workflow = await flowyard.workflows.create(name="Story", definition=steps("", agent_id="storyteller"))
    run = await flowyard.runs.start(workflow.id, input="x")
    await user.open(f"/runs/{run.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    await user.should_see("Output so far")

    _Streamer.more.set()  # pieces produced while the page is open show as they come (live only, not stored)

    await user.should_see("a time, the end.", retries=40)
    _Streamer.release.set()
    await user.should_see("42 tokens", retries=40)
    await user.should_see("Completed")
    assert user.find(GraphEditor).elements.pop().node("s1")["data"]["note"] == "42 tokens"  # type: ignore[attr-defined,index]
