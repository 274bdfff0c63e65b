"""The services behind the approval inbox: pending approvals across workflows, one approval's context,
deciding it (approve, approve edited, reject), and deadlines that decide for a person who does not.
On SQLite and PostgreSQL, with the real executor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.engine.deadlines import DEADLINE_DECIDER
from app.engine.exceptions import Conflict, InvalidInput, NotFound
from app.engine.model import EdgeSpec, NodeSpec, RunStatus, WorkflowDefinition
from app.root import Flowyard
from app.services.approvals import ApprovalService
from app.services.json_diff import MISSING
from app.settings import Settings
from tests.databases import fresh_sqlite_url
from tests.people import ANA, BO


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = datetime(2030, 4, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return fresh_sqlite_url(tmp_path / "flowyard.db")
    url: str = request.getfixturevalue("migrated_postgres_url")
    return url


async def open_flowyard(url: str, tmp_path: Path, clock: Callable[[], datetime]) -> Flowyard:
    settings = Settings(data_dir=tmp_path, database_url=url, recovery_interval_seconds=3600)
    app = Flowyard.open(settings, http=httpx.AsyncClient(), now=clock)
    await app.start()
    return app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def flowyard(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> AsyncIterator[Flowyard]:
    url = fresh_sqlite_url(tmp_path / "flowyard.db") if request.param == "sqlite" else None
    url = url or request.getfixturevalue("migrated_postgres_url")
    app = await open_flowyard(url, tmp_path, clock)
    yield app
    await app.close()


def review_flow(*, deadline: float | None = None, on_deadline: str = "wait") -> WorkflowDefinition:
    """fetch → draft → review (a person approves the draft) → send."""
    nodes = [
        NodeSpec(key="fetch", agent_id="transform", action="{{ {'topic': input} }}", step_order=1),
        NodeSpec(key="draft", agent_id="transform", action="{{ {'title': input.topic, 'body': 'hi'} }}", step_order=2),
        NodeSpec(
            key="review",
            agent_id="approval",
            name="Review the draft",
            config={"instructions": "Check the tone."},
            step_order=3,
            approval_deadline_seconds=deadline,
            on_deadline=on_deadline,  # type: ignore[arg-type]
        ),
        NodeSpec(key="send", agent_id="transform", action="{{ 'sent: ' ~ input.title }}", step_order=4),
    ]
    edges = [
        EdgeSpec(source="fetch", target="draft"),
        EdgeSpec(source="draft", target="review"),
        EdgeSpec(source="review", target="send"),
    ]
    return WorkflowDefinition(nodes=nodes, edges=edges)


async def paused(flowyard: Flowyard, workflow_id: str, payload: Any = "robots") -> str:
    run = await flowyard.runs.start(workflow_id, input=payload)
    record = await flowyard.executor.wait(run.id, timeout=10)
    assert record is not None and record.status is RunStatus.PAUSED
    return run.id


async def ended(flowyard: Flowyard, run_id: str) -> Any:
    record = await flowyard.executor.wait(run_id, timeout=10)
    assert record is not None
    return record


async def test_inbox_lists_pending_approvals_of_every_workflow_newest_first(flowyard: Flowyard, clock: Clock) -> None:
    first = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    second = await flowyard.workflows.create(name="Press release", definition=review_flow(deadline=3600))
    older = await paused(flowyard, first.id, "robots")
    clock.advance(60)
    newer = await paused(flowyard, second.id, "rockets")

    page = await flowyard.approvals.pending()

    assert [(i.run_id, i.workflow_name) for i in page.items] == [(newer, "Press release"), (older, "Newsletter")]
    item = page.items[0]
    assert (item.node_key, item.node_title) == ("review", "Review the draft")
    assert item.proposal == {"title": "rockets", "body": "hi"}
    assert item.waiting_since == clock.at
    assert (item.deadline_at, item.on_deadline) == (clock.at + timedelta(hours=1), "wait")
    assert page.items[1].deadline_at is None
    assert page.next_cursor is None


async def test_inbox_pages_by_cursor_without_repeats(flowyard: Flowyard, clock: Clock) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    run_ids = [await paused(flowyard, workflow.id, f"topic {n}") for n in range(5)]  # same clock: ties

    first = await flowyard.approvals.pending(size=2)
    second = await flowyard.approvals.pending(after=first.next_cursor, size=2)
    third = await flowyard.approvals.pending(after=second.next_cursor, size=2)

    listed = [i.run_id for page in (first, second, third) for i in page.items]
    assert sorted(listed) == sorted(run_ids)
    assert len(set(listed)) == 5
    assert third.next_cursor is None
    with pytest.raises(InvalidInput):
        await flowyard.approvals.pending(after="garbage")


async def test_context_shows_input_upstream_outputs_and_proposal(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    run_id = await paused(flowyard, workflow.id, "robots")
    (item,) = (await flowyard.approvals.pending()).items

    context = await flowyard.approvals.context(item.id)

    assert (context.run_id, context.run_status, context.status) == (run_id, RunStatus.PAUSED, "PENDING")
    assert (context.workflow_id, context.workflow_name, context.workflow_version) == (workflow.id, "Newsletter", 1)
    assert (context.node_title, context.instructions) == ("Review the draft", "Check the tone.")
    assert context.run_input == "robots"
    assert context.upstream == {"fetch": {"topic": "robots"}, "draft": {"title": "robots", "body": "hi"}}
    assert context.proposal == {"title": "robots", "body": "hi"}
    assert (context.decided_by, context.decided_at, context.output) == (None, None, None)


async def test_context_of_an_unknown_approval_is_not_found(flowyard: Flowyard) -> None:
    with pytest.raises(NotFound):
        await flowyard.approvals.context("ap-missing")


async def test_approve_takes_the_proposal_and_records_who_and_when(flowyard: Flowyard, clock: Clock) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    run_id = await paused(flowyard, workflow.id)
    (item,) = (await flowyard.approvals.pending()).items
    clock.advance(30)

    decided = await flowyard.approvals.decide(item.id, "approve", by=ANA, reason="fine")

    assert (decided.status, decided.decided_by, decided.decided_at, decided.reason) == (
        "APPROVED",
        "ana",
        clock.at,
        "fine",
    )
    assert (await ended(flowyard, run_id)).output == "sent: robots"
    context = await flowyard.approvals.context(item.id)
    assert (context.status, context.output, context.decided_by) == ("APPROVED", item.proposal, "ana")
    assert (await flowyard.approvals.pending()).items == []


async def test_approve_edited_continues_with_the_edited_output(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    run_id = await paused(flowyard, workflow.id)
    (item,) = (await flowyard.approvals.pending()).items
    edited = {"title": "Robots, weekly", "body": "hi"}

    await flowyard.approvals.decide(item.id, "approve_edited", output=edited, by=ANA)

    assert (await ended(flowyard, run_id)).output == "sent: Robots, weekly"
    context = await flowyard.approvals.context(item.id)
    assert (context.proposal, context.output) == (item.proposal, edited)
    (change,) = flowyard.approvals.changes(context.proposal, context.output)
    assert (change.path, change.kind, change.before, change.after) == ("$.title", "changed", "robots", "Robots, weekly")
    assert '-  "title": "robots"' in flowyard.approvals.text_diff(context.proposal, context.output)


async def test_reject_fails_the_run_with_the_reason(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    run_id = await paused(flowyard, workflow.id)
    (item,) = (await flowyard.approvals.pending()).items

    decided = await flowyard.approvals.decide(item.id, "reject", reason="tone is off", by=BO)

    assert (decided.status, decided.reason, decided.decided_by) == ("REJECTED", "tone is off", "bo")
    run = await ended(flowyard, run_id)
    assert run.status is RunStatus.FAILED
    assert "tone is off" in (run.error or "")


async def test_deciding_twice_is_a_conflict(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    run_id = await paused(flowyard, workflow.id)
    (item,) = (await flowyard.approvals.pending()).items
    await flowyard.approvals.decide(item.id, "approve", by=ANA)
    await ended(flowyard, run_id)

    with pytest.raises(Conflict, match="approved already by ana"):
        await flowyard.approvals.decide(item.id, "reject", reason="too late", by=ANA)


async def test_deciding_an_unknown_approval_is_not_found(flowyard: Flowyard) -> None:
    with pytest.raises(NotFound):
        await flowyard.approvals.decide("ap-missing", "approve", by=ANA)


@pytest.mark.parametrize(
    ("decision", "output", "field"),
    [("maybe", None, "decision"), ("approve", {"x": 1}, "output"), ("approve_edited", None, "output")],
)
async def test_a_malformed_decision_is_invalid_input(
    flowyard: Flowyard, decision: str, output: Any, field: str
) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow())
    await paused(flowyard, workflow.id)
    (item,) = (await flowyard.approvals.pending()).items

    with pytest.raises(InvalidInput) as caught:
        await flowyard.approvals.decide(item.id, decision, output=output, by=ANA)  # type: ignore[arg-type]

    assert caught.value.field == field
    assert (await flowyard.approvals.context(item.id)).status == "PENDING"


async def test_deadline_settings_round_trip_through_the_saved_definition(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(
        name="Newsletter", definition=review_flow(deadline=90, on_deadline="reject")
    )

    current = (await flowyard.workflows.definition(workflow.id)).node("review")
    await paused(flowyard, workflow.id)
    frozen = (await flowyard.workflows.version_definition(workflow.id, 1)).node("review")

    for node in (current, frozen):
        assert (node.approval_deadline_seconds, node.on_deadline) == (90, "reject")


@pytest.mark.parametrize(
    ("policy", "status", "output"),
    [("approve", RunStatus.COMPLETED, "sent: robots"), ("reject", RunStatus.FAILED, None)],
)
async def test_a_passed_deadline_applies_the_nodes_policy(
    flowyard: Flowyard, clock: Clock, policy: str, status: RunStatus, output: Any
) -> None:
    workflow = await flowyard.workflows.create(
        name="Newsletter", definition=review_flow(deadline=600, on_deadline=policy)
    )
    run_id = await paused(flowyard, workflow.id)
    clock.advance(599)
    assert await flowyard.executor.sweep_deadlines() == 0

    clock.advance(1)
    assert await flowyard.executor.sweep_deadlines() == 1

    run = await ended(flowyard, run_id)
    assert (run.status, run.output) == (status, output)
    (item,) = await flowyard.store.get_approvals(run_id)
    assert (item.decided_by, item.decided_at) == (DEADLINE_DECIDER, clock.at)
    assert "no decision by the deadline" in (item.reason or "")


async def test_a_passed_deadline_that_waits_leaves_the_run_paused(flowyard: Flowyard, clock: Clock) -> None:
    workflow = await flowyard.workflows.create(name="Newsletter", definition=review_flow(deadline=60))
    run_id = await paused(flowyard, workflow.id)
    clock.advance(3600)

    assert await flowyard.executor.sweep_deadlines() == 0

    assert (await flowyard.runs.get(run_id)).status == RunStatus.PAUSED
    (item,) = (await flowyard.approvals.pending()).items
    assert item.deadline_at is not None and item.deadline_at < clock.at


async def test_two_processes_sweeping_decide_a_deadline_once(flowyard: Flowyard, clock: Clock, tmp_path: Path) -> None:
    other = await open_flowyard(str(flowyard.db.engine.url.render_as_string(hide_password=False)), tmp_path, clock)
    try:
        workflow = await flowyard.workflows.create(
            name="Newsletter", definition=review_flow(deadline=5, on_deadline="approve")
        )
        run_id = await paused(flowyard, workflow.id)
        clock.advance(10)

        decided = [await flowyard.executor.sweep_deadlines(), await other.executor.sweep_deadlines()]

        assert sorted(decided) == [0, 1]
        await ended(flowyard, run_id)
        await other.executor.wait(run_id, timeout=10)
        assert (await flowyard.runs.get(run_id)).status == RunStatus.COMPLETED
    finally:
        await other.close()


def test_json_changes_list_added_removed_and_changed_paths() -> None:
    before = {"title": "a", "tags": ["x", "y"], "meta": {"n": 1, "ok": True}, "gone": 1}
    after = {"title": "a", "tags": ["x", "z", "w"], "meta": {"n": 1, "ok": 1}, "new key": None}

    changes = ApprovalService.changes(before, after)

    assert [(c.path, c.kind, c.before, c.after) for c in changes] == [
        ("$.tags[1]", "changed", "y", "z"),
        ("$.tags[2]", "added", MISSING, "w"),
        ("$.meta.ok", "changed", True, 1),
        ("$.gone", "removed", 1, MISSING),
        ('$["new key"]', "added", MISSING, None),
    ]
    assert ApprovalService.changes(before, before) == []
    assert ApprovalService.text_diff(before, before) == ""
    assert [(c.path, c.kind) for c in ApprovalService.changes("draft", {"text": "draft"})] == [("$", "changed")]
