"""The run store contract (`app.engine.store.RunStore`), held against every store.

Each test runs three times: on `InMemoryRunStore`, on `SqlRunStore` over a fresh SQLite file and
on `SqlRunStore` over a fresh PostgreSQL database (see `conftest.py`). Times are passed in
explicitly, so nothing here depends on the wall clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.engine.exceptions import Conflict, LeaseLost, NotFound
from app.engine.model import (
    Approval,
    EdgeSpec,
    NodeRunRecord,
    NodeSpec,
    NodeStatus,
    Position,
    RunRecord,
    RunStatus,
    Trigger,
    WorkflowDefinition,
)
from app.engine.store import AgentRecord, LeaseInfo, RunStore
from tests.storage.stores import Seed

T0 = datetime(2030, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)
ME = "host-a:101:aaaaaa"
OTHER = "host-b:202:bbbbbb"
RUN = "wr-0000000000000001"
ENDED = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]
NOT_DRIVABLE = [RunStatus.PAUSED, *ENDED]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_run(run_id: str = RUN, *, status: RunStatus = RunStatus.QUEUED, created_at: datetime = T0) -> RunRecord:
    return RunRecord(
        id=run_id,
        workflow_id="wf-briefing",
        workflow_version=1,
        status=status,
        input={"topic": "ai"},
        session_id="session-1",
        created_at=created_at,
        updated_at=created_at,
    )


def node(
    key: str, status: NodeStatus, *, step_order: int | None = 1, run_id: str = RUN, **fields: Any
) -> NodeRunRecord:
    return NodeRunRecord(run_id=run_id, node_key=key, status=status, step_order=step_order, **fields)


def approval_for(key: str, *, created_at: datetime, run_id: str = RUN) -> Approval:
    return Approval(
        id=f"ap-{key}", run_id=run_id, node_key=key, proposal={"draft": f"proposal of {key}"}, created_at=created_at
    )


async def running_run(store: RunStore, run_id: str = RUN) -> None:
    """A run `ME` took at T0 (lease until +30 s) and started at +1 s."""
    await store.create_run(new_run(run_id))
    assert await store.acquire_lease(run_id, ME, until=at(30), now=T0)
    await store.start_run(run_id, ME, now=at(1))


async def paused_run(store: RunStore, *waiting: tuple[str, int | None]) -> None:
    """A run whose `draft` completed and whose `waiting` (key, step order) nodes wait for approval, in that order."""
    await running_run(store)
    await store.save_node(ME, node("draft", NodeStatus.COMPLETED, output="draft text"), now=at(2))
    for number, (key, step_order) in enumerate(waiting):
        now = at(3 + number)
        waiting_node = node(key, NodeStatus.WAITING_APPROVAL, step_order=step_order, output="proposal")
        await store.save_waiting_node(ME, waiting_node, approval_for(key, created_at=now), now=now)
    await store.finish_run(RUN, ME, status=RunStatus.PAUSED, output=None, error=None, now=at(10))


async def ended_run(store: RunStore, status: RunStatus) -> None:
    """A run that ended with `status` after `draft` completed, `polish` stopped and `publish` was skipped."""
    await running_run(store)
    await store.save_node(ME, node("draft", NodeStatus.COMPLETED, output="draft text"), now=at(2))
    stopped = NodeStatus.FAILED if status is RunStatus.FAILED else NodeStatus.CANCELLED
    await store.save_node(ME, node("polish", stopped, step_order=2, error="boom"), now=at(3))
    await store.save_node(ME, node("publish", NodeStatus.SKIPPED, step_order=3), now=at(4))
    await store.finish_run(RUN, ME, status=status, output={"partial": True}, error="it ended", now=at(5))


async def run_of(store: RunStore, run_id: str = RUN) -> RunRecord:
    run = await store.get_run(run_id)
    assert run is not None
    return run


async def nodes_of(store: RunStore) -> dict[str, NodeRunRecord]:
    return {n.node_key: n for n in await store.get_node_runs(RUN)}


def approve(store: RunStore, node_key: str | None) -> Awaitable[Approval]:
    """Ana approves `node_key` (the earliest pending approval when None) with output "ok", at +20 s."""
    return store.decide_approval(RUN, node_key, approved=True, output="ok", decided_by="ana", reason=None, now=at(20))


# --- creating and reading runs -------------------------------------------------------------------


async def test_get_run_returns_every_field_as_created(store: RunStore) -> None:
    run = RunRecord(
        id=RUN,
        workflow_id="wf-briefing",
        workflow_version=7,
        status=RunStatus.FAILED,
        input={"topic": "ai"},
        session_id="session-42",
        trigger=Trigger.SCHEDULE,
        output={"summary": "half done"},
        error="node 'polish' failed: boom",
        current_step_order=2,
        callback_url="https://example.test/hook?x=1",
        created_at=T0,
        updated_at=at(5),
        started_at=at(1),
        finished_at=at(5),
        cancel_requested=True,
    )
    await store.create_run(run)

    assert await store.get_run(RUN) == run


async def test_get_run_returns_a_sub_workflow_runs_parent_and_chain(store: RunStore) -> None:
    run = new_run()
    run.trigger, run.parent_run_id, run.parent_node_key = Trigger.WORKFLOW, "wr-parent", "enrich"
    run.chain = ("wf-outer", "wf-middle")
    await store.create_run(run)

    assert await store.get_run(RUN) == run


async def test_get_run_returns_timezone_aware_utc_datetimes(store: RunStore) -> None:
    await running_run(store)

    run = await run_of(store)

    for moment in (run.created_at, run.updated_at, run.started_at):
        assert moment is not None
        assert moment.utcoffset() == timedelta(0)
    assert (run.created_at, run.started_at) == (T0, at(1))


@pytest.mark.parametrize(
    "payload",
    [
        "plain text",
        'ünïcödé ✓ "quoted"',
        "",
        {"topic": "ai", "tags": ["a", "b"], "nested": {"ratio": 1.5, "ok": True, "nothing": None}},
        [1, "two", None, {"three": 3}],
        42,
        3.25,
        True,
        None,
    ],
    ids=["str", "unicode", "empty-str", "dict", "list", "int", "float", "bool", "none"],
)
async def test_create_run_keeps_json_input_of_any_type(store: RunStore, payload: Any) -> None:
    run = new_run()
    run.input = payload
    await store.create_run(run)

    stored = (await run_of(store)).input

    assert stored == payload
    assert type(stored) is type(payload)


async def test_get_run_returns_none_for_an_unknown_id(store: RunStore) -> None:
    assert await store.get_run("wr-nothing") is None


async def test_create_run_with_an_existing_id_raises_conflict(store: RunStore) -> None:
    await store.create_run(new_run())

    with pytest.raises(Conflict):
        await store.create_run(new_run(created_at=at(60)))
    assert (await run_of(store)).created_at == T0


# --- definitions and agents ----------------------------------------------------------------------

BRANCHING = WorkflowDefinition(
    nodes=[
        NodeSpec(
            key="route", agent_id="router", config={"default": "small"}, step_order=1, position=Position(x=10, y=20)
        ),
        NodeSpec(key="shout", agent_id="transform", action="{{ input | upper }}", step_order=2, input_mapping={"x": 1}),
        NodeSpec(key="whisper", agent_id="transform", action="{{ input }}", needs_approval=True, timeout_seconds=2.5),
    ],
    edges=[
        EdgeSpec(source="route", target="shout", source_handle="big"),
        EdgeSpec(source="route", target="whisper", source_handle="small", condition="{{ input }}"),
    ],
)


async def test_get_definition_returns_the_published_version(store: RunStore, seed: Seed) -> None:
    seed.workflow("wf-briefing", 1, WorkflowDefinition(nodes=[NodeSpec(key="only", agent_id="transform")]))
    seed.workflow("wf-briefing", 2, BRANCHING)

    assert await store.get_definition("wf-briefing", 2) == BRANCHING


async def test_get_definition_returns_none_for_an_unknown_version(store: RunStore, seed: Seed) -> None:
    seed.workflow("wf-briefing", 1, BRANCHING)

    assert await store.get_definition("wf-briefing", 2) is None
    assert await store.get_definition("wf-other", 1) is None


async def test_get_agents_returns_only_the_agents_that_exist(store: RunStore, seed: Seed) -> None:
    transform = AgentRecord("transform", "transform", "Transform", {}, "Renders templates")
    router = AgentRecord("router", "branch", "Router", {"outcomes": [{"handle": "big", "when": "{{ input > 9 }}"}]})
    seed.agent(transform)
    seed.agent(router)

    found = await store.get_agents(["transform", "router", "ghost"])

    assert found == {"transform": transform, "router": router}


async def test_get_agents_of_no_ids_returns_nothing(store: RunStore, seed: Seed) -> None:
    seed.agent(AgentRecord("transform", "transform", "Transform", {}))

    assert await store.get_agents([]) == {}


# --- leases --------------------------------------------------------------------------------------


async def test_acquire_lease_takes_a_free_queued_run(store: RunStore) -> None:
    await store.create_run(new_run())

    assert await store.acquire_lease(RUN, ME, until=at(30), now=T0)
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(30))]


async def test_acquire_lease_refuses_a_run_another_owner_holds(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert not await store.acquire_lease(RUN, ME, until=at(60), now=at(29))
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, OTHER, at(30))]


async def test_acquire_lease_takes_a_run_whose_lease_expired(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(61), now=at(31))
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(61))]


async def test_acquire_lease_takes_a_run_whose_lease_expires_right_now(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(60), now=at(30))


async def test_acquire_lease_takes_a_run_from_the_owner_named_in_steal_from(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(40), now=at(10), steal_from=OTHER)
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(40))]


async def test_acquire_lease_with_steal_from_someone_else_refuses_the_holders_run(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    assert not await store.acquire_lease(RUN, ME, until=at(40), now=at(10), steal_from="host-c:303:cccccc")


async def test_acquire_lease_again_extends_the_holders_lease(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    assert await store.acquire_lease(RUN, ME, until=at(50), now=at(20))
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(50))]


@pytest.mark.parametrize("status", NOT_DRIVABLE, ids=str)
async def test_acquire_lease_refuses_a_run_that_is_not_queued_or_running(store: RunStore, status: RunStatus) -> None:
    await store.create_run(new_run(status=status))

    assert not await store.acquire_lease(RUN, ME, until=at(30), now=T0)


async def test_acquire_lease_refuses_an_unknown_run(store: RunStore) -> None:
    assert not await store.acquire_lease("wr-nothing", ME, until=at(30), now=T0)


async def test_renew_leases_returns_the_runs_the_owner_holds(store: RunStore) -> None:
    for run_id in ("wr-mine-1", "wr-mine-2", "wr-theirs"):
        await store.create_run(new_run(run_id))
    await store.acquire_lease("wr-mine-1", ME, until=at(30), now=T0)
    await store.acquire_lease("wr-mine-2", ME, until=at(30), now=T0)
    await store.acquire_lease("wr-theirs", OTHER, until=at(30), now=T0)

    renewal = await store.renew_leases(ME, until=at(60))

    assert renewal.held == {"wr-mine-1", "wr-mine-2"}
    assert renewal.cancel_requested == set()


async def test_renew_leases_extends_only_the_owners_leases(store: RunStore) -> None:
    await store.create_run(new_run("wr-mine", created_at=T0))
    await store.create_run(new_run("wr-theirs", created_at=at(1)))
    await store.acquire_lease("wr-mine", ME, until=at(30), now=T0)
    await store.acquire_lease("wr-theirs", OTHER, until=at(30), now=T0)

    await store.renew_leases(ME, until=at(60))

    assert await store.runs_to_drive(limit=10) == [
        LeaseInfo("wr-mine", ME, at(60)),
        LeaseInfo("wr-theirs", OTHER, at(30)),
    ]


async def test_renew_leases_leaves_out_a_run_another_owner_took_over(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)
    await store.acquire_lease(RUN, OTHER, until=at(70), now=at(40))

    renewal = await store.renew_leases(ME, until=at(80))

    assert renewal.held == set()


async def test_renew_leases_reports_runs_someone_asked_to_cancel(store: RunStore) -> None:
    await running_run(store, "wr-cancel-me")
    await running_run(store, "wr-carry-on")
    await store.request_cancel("wr-cancel-me", now=at(5))

    renewal = await store.renew_leases(ME, until=at(60))

    assert renewal.held == {"wr-cancel-me", "wr-carry-on"}
    assert renewal.cancel_requested == {"wr-cancel-me"}


async def test_release_lease_frees_the_run_for_another_owner(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    await store.release_lease(RUN, ME)

    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, None, None)]
    assert await store.acquire_lease(RUN, OTHER, until=at(40), now=at(10))


async def test_release_lease_by_someone_who_does_not_hold_it_changes_nothing(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    await store.release_lease(RUN, OTHER)

    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(30))]


async def test_runs_to_drive_lists_queued_and_running_runs_oldest_first(store: RunStore) -> None:
    statuses = [RunStatus.QUEUED, RunStatus.PAUSED, RunStatus.RUNNING, *ENDED, RunStatus.QUEUED]
    for number, status in enumerate(statuses):
        await store.create_run(new_run(f"wr-{number}-{status.value.lower()}", status=status, created_at=at(-number)))

    drive = await store.runs_to_drive(limit=10)

    assert [info.run_id for info in drive] == ["wr-6-queued", "wr-2-running", "wr-0-queued"]


async def test_runs_to_drive_shows_each_lease_holder_and_expiry(store: RunStore) -> None:
    await store.create_run(new_run("wr-held", created_at=T0))
    await store.create_run(new_run("wr-free", created_at=at(1)))
    await store.acquire_lease("wr-held", OTHER, until=at(30), now=T0)

    drive = await store.runs_to_drive(limit=10)

    assert drive == [LeaseInfo("wr-held", OTHER, at(30)), LeaseInfo("wr-free", None, None)]


async def test_runs_to_drive_returns_at_most_limit_runs(store: RunStore) -> None:
    for number in range(5):
        await store.create_run(new_run(f"wr-{number}", created_at=at(number)))

    drive = await store.runs_to_drive(limit=2)

    assert [info.run_id for info in drive] == ["wr-0", "wr-1"]


# --- fencing: progress is written only by the lease holder ---------------------------------------

FencedWrite = Callable[[RunStore, str], Awaitable[None]]
FENCED_WRITES: dict[str, FencedWrite] = {
    "start_run": lambda store, owner: store.start_run(RUN, owner, now=at(45)),
    "save_node": lambda store, owner: store.save_node(owner, node("draft", NodeStatus.RUNNING), now=at(45)),
    "save_waiting_node": lambda store, owner: store.save_waiting_node(
        owner, node("review", NodeStatus.WAITING_APPROVAL), approval_for("review", created_at=at(45)), now=at(45)
    ),
    "save_nodes": lambda store, owner: store.save_nodes(
        owner,
        [node("draft", NodeStatus.COMPLETED), node("review", NodeStatus.WAITING_APPROVAL, step_order=2)],
        approvals=[approval_for("review", created_at=at(45))],
        now=at(45),
    ),
    "finish_run": lambda store, owner: store.finish_run(
        RUN, owner, status=RunStatus.COMPLETED, output="done", error=None, now=at(45)
    ),
}


@pytest.mark.parametrize("write", FENCED_WRITES.values(), ids=FENCED_WRITES.keys())
async def test_fenced_write_by_a_non_holder_raises_lease_lost(store: RunStore, write: FencedWrite) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, OTHER, until=at(30), now=T0)

    with pytest.raises(LeaseLost):
        await write(store, ME)


@pytest.mark.parametrize("write", FENCED_WRITES.values(), ids=FENCED_WRITES.keys())
async def test_fenced_write_on_an_unleased_run_raises_lease_lost(store: RunStore, write: FencedWrite) -> None:
    await store.create_run(new_run())

    with pytest.raises(LeaseLost):
        await write(store, ME)


@pytest.mark.parametrize("write", FENCED_WRITES.values(), ids=FENCED_WRITES.keys())
async def test_fenced_write_after_losing_the_lease_changes_nothing(store: RunStore, write: FencedWrite) -> None:
    await running_run(store)
    await store.acquire_lease(RUN, OTHER, until=at(70), now=at(40))
    before = (await store.get_run(RUN), await store.get_node_runs(RUN), await store.get_approvals(RUN))

    with pytest.raises(LeaseLost):
        await write(store, ME)

    assert (await store.get_run(RUN), await store.get_node_runs(RUN), await store.get_approvals(RUN)) == before


# --- progress --------------------------------------------------------------------------------------


async def test_start_run_marks_the_run_running_from_now(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)

    await store.start_run(RUN, ME, now=at(1))

    run = await run_of(store)
    assert (run.status, run.started_at, run.updated_at) == (RunStatus.RUNNING, at(1), at(1))


async def test_start_run_again_keeps_the_first_start_time(store: RunStore) -> None:
    await running_run(store)
    await store.acquire_lease(RUN, OTHER, until=at(90), now=at(60))

    await store.start_run(RUN, OTHER, now=at(61))

    run = await run_of(store)
    assert (run.started_at, run.updated_at) == (at(1), at(61))


async def test_start_run_with_a_non_utc_clock_records_the_same_instant(store: RunStore) -> None:
    await store.create_run(new_run())
    await store.acquire_lease(RUN, ME, until=at(30), now=T0)
    in_berlin = at(1).astimezone(timezone(timedelta(hours=2)))

    await store.start_run(RUN, ME, now=in_berlin)

    run = await run_of(store)
    assert (run.started_at, run.updated_at) == (at(1), at(1))


async def test_save_node_stores_every_field_of_a_new_node_run(store: RunStore) -> None:
    await running_run(store)
    record = NodeRunRecord(
        run_id=RUN,
        node_key="route",
        status=NodeStatus.COMPLETED,
        attempt=2,
        input={"amount": 12, "tags": ["x"], "note": "ünïcödé ✓"},
        output=[1, "two", None],
        error=None,
        handles=["big"],
        started_at=at(2),
        finished_at=at(3),
        usage={"input_tokens": 10, "output_tokens": 5},
        step_order=4,
    )

    await store.save_node(ME, record, now=at(3))

    assert await store.get_node_runs(RUN) == [record]


async def test_save_node_again_updates_the_node_run(store: RunStore) -> None:
    await running_run(store)
    await store.save_node(ME, node("draft", NodeStatus.RUNNING, attempt=1, started_at=at(2)), now=at(2))

    finished = node("draft", NodeStatus.FAILED, attempt=1, error="boom", started_at=at(2), finished_at=at(3))
    await store.save_node(ME, finished, now=at(3))

    assert await store.get_node_runs(RUN) == [finished]


async def test_save_node_never_overwrites_a_completed_node(store: RunStore) -> None:
    await running_run(store)
    completed = node("draft", NodeStatus.COMPLETED, attempt=1, output="first", finished_at=at(2))
    await store.save_node(ME, completed, now=at(2))

    await store.save_node(ME, node("draft", NodeStatus.RUNNING, attempt=2, started_at=at(3)), now=at(3))

    assert await store.get_node_runs(RUN) == [completed]


async def test_save_node_over_a_completed_node_still_touches_the_run(store: RunStore) -> None:
    """The node is left alone, but the run is updated as for any save (the SQL fence does it before the upsert)."""
    await running_run(store)
    await store.save_node(ME, node("draft", NodeStatus.COMPLETED, step_order=1, output="first"), now=at(2))
    await store.save_node(ME, node("polish", NodeStatus.RUNNING, step_order=2), now=at(3))

    await store.save_node(ME, node("draft", NodeStatus.RUNNING, step_order=1, attempt=2), now=at(4))

    run = await run_of(store)
    assert (run.current_step_order, run.updated_at) == (1, at(4))


async def test_save_node_moves_the_runs_current_step_and_update_time(store: RunStore) -> None:
    await running_run(store)

    await store.save_node(ME, node("polish", NodeStatus.RUNNING, step_order=2), now=at(3))

    run = await run_of(store)
    assert (run.current_step_order, run.updated_at) == (2, at(3))


async def test_save_node_of_a_skipped_node_keeps_the_current_step(store: RunStore) -> None:
    await running_run(store)
    await store.save_node(ME, node("draft", NodeStatus.COMPLETED, step_order=1), now=at(2))

    await store.save_node(ME, node("publish", NodeStatus.SKIPPED, step_order=3), now=at(3))

    assert (await run_of(store)).current_step_order == 1


async def test_save_waiting_node_stores_the_node_and_a_pending_approval(store: RunStore) -> None:
    await running_run(store)
    waiting = node("review", NodeStatus.WAITING_APPROVAL, step_order=2, output="proposal", finished_at=at(3))
    approval = approval_for("review", created_at=at(3))

    await store.save_waiting_node(ME, waiting, approval, now=at(3))

    assert await store.get_node_runs(RUN) == [waiting]
    assert await store.get_approvals(RUN) == [approval]
    assert (await store.get_approvals(RUN))[0].status == "PENDING"


async def test_save_nodes_stores_every_node_and_approval_at_once(store: RunStore) -> None:
    await running_run(store)
    drafted = node("draft", NodeStatus.COMPLETED, output="draft text", finished_at=at(3))
    waiting = node("review", NodeStatus.WAITING_APPROVAL, step_order=2, output="proposal", finished_at=at(3))
    approval = approval_for("review", created_at=at(3))

    await store.save_nodes(ME, [drafted, waiting], approvals=[approval], now=at(3))

    assert await nodes_of(store) == {"draft": drafted, "review": waiting}
    assert await store.get_approvals(RUN) == [approval]


async def test_save_nodes_moves_the_current_step_as_saving_each_in_turn_would(store: RunStore) -> None:
    await running_run(store)
    batch = [
        node("draft", NodeStatus.COMPLETED, step_order=1),
        node("polish", NodeStatus.RUNNING, step_order=2),
        node("publish", NodeStatus.SKIPPED, step_order=3),
    ]

    await store.save_nodes(ME, batch, now=at(3))

    run = await run_of(store)
    assert (run.current_step_order, run.updated_at) == (2, at(3))


async def test_save_nodes_never_overwrites_a_completed_node(store: RunStore) -> None:
    await running_run(store)
    completed = node("draft", NodeStatus.COMPLETED, output="first")
    await store.save_node(ME, completed, now=at(2))

    await store.save_nodes(
        ME, [node("draft", NodeStatus.RUNNING, attempt=2), node("polish", NodeStatus.RUNNING)], now=at(3)
    )

    assert (await nodes_of(store))["draft"] == completed


async def test_save_nodes_across_runs_writes_nothing_when_one_lease_is_lost(store: RunStore) -> None:
    await running_run(store, "wr-held")
    await running_run(store, "wr-lost")
    await store.acquire_lease("wr-lost", OTHER, until=at(70), now=at(40))
    batch = [
        node("draft", NodeStatus.COMPLETED, run_id="wr-held"),
        node("draft", NodeStatus.COMPLETED, run_id="wr-lost"),
    ]

    with pytest.raises(LeaseLost):
        await store.save_nodes(ME, batch, now=at(41))

    assert await store.get_node_runs("wr-held") == []
    assert await store.get_node_runs("wr-lost") == []
    assert (await run_of(store, "wr-held")).updated_at == at(1)


@pytest.mark.parametrize(
    ("status", "output", "error"),
    [
        (RunStatus.COMPLETED, {"text": "Draft: AI NEWS"}, None),
        (RunStatus.FAILED, None, "node 'polish' failed: boom"),
        (RunStatus.CANCELLED, None, "cancelled"),
    ],
    ids=["COMPLETED", "FAILED", "CANCELLED"],
)
async def test_finish_run_records_the_outcome(
    store: RunStore, status: RunStatus, output: Any, error: str | None
) -> None:
    await running_run(store)

    await store.finish_run(RUN, ME, status=status, output=output, error=error, now=at(9))

    run = await run_of(store)
    assert (run.status, run.output, run.error) == (status, output, error)
    assert (run.finished_at, run.updated_at) == (at(9), at(9))


async def test_finish_run_paused_leaves_the_run_unfinished(store: RunStore) -> None:
    await running_run(store)

    await store.finish_run(RUN, ME, status=RunStatus.PAUSED, output=None, error=None, now=at(9))

    run = await run_of(store)
    assert (run.status, run.finished_at, run.updated_at) == (RunStatus.PAUSED, None, at(9))


async def test_finish_run_releases_the_lease(store: RunStore) -> None:
    await running_run(store)

    await store.finish_run(RUN, ME, status=RunStatus.PAUSED, output=None, error=None, now=at(9))

    assert (await store.renew_leases(ME, until=at(60))).held == set()
    with pytest.raises(LeaseLost):
        await store.save_node(ME, node("draft", NodeStatus.RUNNING), now=at(10))


async def test_finish_run_takes_the_run_off_the_list_to_drive(store: RunStore) -> None:
    await running_run(store)

    await store.finish_run(RUN, ME, status=RunStatus.COMPLETED, output="done", error=None, now=at(9))

    assert await store.runs_to_drive(limit=10) == []


# --- approvals -------------------------------------------------------------------------------------


async def test_decide_approval_approve_completes_the_node_with_the_output(store: RunStore) -> None:
    await paused_run(store, ("review", 2))

    await store.decide_approval(
        RUN, "review", approved=True, output={"text": "edited"}, decided_by="ana", reason=None, now=at(20)
    )

    review = (await nodes_of(store))["review"]
    assert (review.status, review.output, review.finished_at) == (NodeStatus.COMPLETED, {"text": "edited"}, at(20))


async def test_decide_approval_approve_records_the_decision(store: RunStore) -> None:
    await paused_run(store, ("review", 2))

    decided = await store.decide_approval(
        RUN, "review", approved=True, output={"text": "edited"}, decided_by="ana", reason="fine", now=at(20)
    )

    assert (decided.status, decided.output, decided.decided_by, decided.decided_at) == (
        "APPROVED",
        {"text": "edited"},
        "ana",
        at(20),
    )
    assert await store.get_approvals(RUN) == [decided]


async def test_decide_approval_queues_the_run_again(store: RunStore) -> None:
    await paused_run(store, ("review", 2))

    await approve(store, "review")

    run = await run_of(store)
    assert (run.status, run.updated_at) == (RunStatus.QUEUED, at(20))
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, None, None)]


async def test_decide_approval_reject_fails_the_node_with_the_reason(store: RunStore) -> None:
    await paused_run(store, ("review", 2))

    decided = await store.decide_approval(
        RUN, "review", approved=False, output=None, decided_by="bo", reason="too long", now=at(20)
    )

    review = (await nodes_of(store))["review"]
    assert (review.status, review.error) == (NodeStatus.FAILED, "rejected: too long")
    assert (decided.status, decided.reason, decided.decided_by) == ("REJECTED", "too long", "bo")
    assert (await run_of(store)).status is RunStatus.QUEUED


async def test_decide_approval_without_node_key_picks_the_earliest_step(store: RunStore) -> None:
    await paused_run(store, ("legal", 3), ("review", 2))

    decided = await approve(store, None)

    assert decided.node_key == "review"


async def test_decide_approval_without_node_key_breaks_a_tie_by_creation_time(store: RunStore) -> None:
    await paused_run(store, ("legal", 2), ("review", 2))

    decided = await approve(store, None)

    assert decided.node_key == "legal"


async def test_decide_approval_without_node_key_counts_a_node_without_step_order_first(store: RunStore) -> None:
    await paused_run(store, ("review", 1), ("legal", None))

    decided = await approve(store, None)

    assert decided.node_key == "legal"


async def test_decide_approval_on_a_run_that_is_not_paused_raises_conflict(store: RunStore) -> None:
    await running_run(store)

    with pytest.raises(Conflict):
        await approve(store, None)


async def test_decide_approval_at_a_node_that_waits_for_nothing_raises_conflict(store: RunStore) -> None:
    await paused_run(store, ("review", 2))

    with pytest.raises(Conflict):
        await approve(store, "draft")
    assert (await run_of(store)).status is RunStatus.PAUSED


async def test_decide_approval_of_an_unknown_run_raises_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound):
        await store.decide_approval("wr-nothing", None, approved=True, output=1, decided_by=None, reason=None, now=T0)


async def test_decide_approval_a_second_time_raises_conflict(store: RunStore) -> None:
    await paused_run(store, ("review", 2), ("legal", 3))
    await approve(store, "review")
    assert await store.acquire_lease(RUN, ME, until=at(60), now=at(21))
    await store.finish_run(RUN, ME, status=RunStatus.PAUSED, output=None, error=None, now=at(22))

    with pytest.raises(Conflict):
        await store.decide_approval(
            RUN, "review", approved=False, output=None, decided_by="bo", reason="no", now=at(23)
        )
    assert [a.status for a in await store.get_approvals(RUN)] == ["APPROVED", "PENDING"]


# --- cancelling ----------------------------------------------------------------------------------


async def test_request_cancel_cancels_an_unleased_queued_run_at_once(store: RunStore) -> None:
    await store.create_run(new_run())

    cancelled = await store.request_cancel(RUN, now=at(5))

    assert (cancelled.status, cancelled.finished_at) == (RunStatus.CANCELLED, at(5))
    assert await store.get_run(RUN) == cancelled
    assert await store.runs_to_drive(limit=10) == []


async def test_request_cancel_cancels_a_paused_run_and_its_unfinished_nodes(store: RunStore) -> None:
    await paused_run(store, ("review", 2))

    cancelled = await store.request_cancel(RUN, now=at(20))

    nodes = await nodes_of(store)
    assert cancelled.status is RunStatus.CANCELLED
    assert {k: n.status for k, n in nodes.items()} == {"draft": NodeStatus.COMPLETED, "review": NodeStatus.CANCELLED}
    assert nodes["review"].finished_at == at(20)


async def test_request_cancel_of_a_paused_run_cancels_its_pending_approvals(store: RunStore) -> None:
    await paused_run(store, ("review", 2))

    await store.request_cancel(RUN, now=at(20))

    [approval] = await store.get_approvals(RUN)
    assert (approval.status, approval.decided_at) == ("CANCELLED", at(20))


async def test_request_cancel_of_a_leased_running_run_only_flags_it(store: RunStore) -> None:
    await running_run(store)
    await store.save_node(ME, node("draft", NodeStatus.RUNNING), now=at(2))

    flagged = await store.request_cancel(RUN, now=at(5))

    assert (flagged.status, flagged.cancel_requested, flagged.finished_at) == (RunStatus.RUNNING, True, None)
    assert (await nodes_of(store))["draft"].status is NodeStatus.RUNNING
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, ME, at(30))]


async def test_request_cancel_of_a_running_run_whose_lease_expired_cancels_it_at_once(store: RunStore) -> None:
    await running_run(store)
    await store.save_node(ME, node("draft", NodeStatus.RUNNING), now=at(2))

    cancelled = await store.request_cancel(RUN, now=at(31))

    assert cancelled.status is RunStatus.CANCELLED
    assert (await nodes_of(store))["draft"].status is NodeStatus.CANCELLED


@pytest.mark.parametrize("status", ENDED, ids=str)
async def test_request_cancel_of_an_ended_run_raises_conflict(store: RunStore, status: RunStatus) -> None:
    await ended_run(store, status)

    with pytest.raises(Conflict):
        await store.request_cancel(RUN, now=at(20))
    assert (await run_of(store)).status is status


async def test_request_cancel_of_an_unknown_run_raises_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound):
        await store.request_cancel("wr-nothing", now=T0)


# --- re-running ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.CANCELLED], ids=str)
async def test_reset_for_rerun_keeps_only_the_completed_nodes(store: RunStore, status: RunStatus) -> None:
    await ended_run(store, status)

    await store.reset_for_rerun(RUN, now=at(20))

    nodes = await store.get_node_runs(RUN)
    assert [(n.node_key, n.status, n.output) for n in nodes] == [("draft", NodeStatus.COMPLETED, "draft text")]


@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.CANCELLED], ids=str)
async def test_reset_for_rerun_queues_the_run_with_its_outcome_cleared(store: RunStore, status: RunStatus) -> None:
    await ended_run(store, status)

    reset = await store.reset_for_rerun(RUN, now=at(20))

    assert (reset.status, reset.output, reset.error, reset.finished_at) == (RunStatus.QUEUED, None, None, None)
    assert (reset.updated_at, reset.started_at, reset.cancel_requested) == (at(20), at(1), False)
    assert await store.get_run(RUN) == reset
    assert await store.runs_to_drive(limit=10) == [LeaseInfo(RUN, None, None)]


async def test_reset_for_rerun_of_a_completed_run_raises_conflict(store: RunStore) -> None:
    await ended_run(store, RunStatus.COMPLETED)

    with pytest.raises(Conflict):
        await store.reset_for_rerun(RUN, now=at(20))
    assert len(await store.get_node_runs(RUN)) == 3


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED], ids=str)
async def test_reset_for_rerun_of_an_active_run_raises_conflict(store: RunStore, status: RunStatus) -> None:
    await store.create_run(new_run(status=status))

    with pytest.raises(Conflict):
        await store.reset_for_rerun(RUN, now=at(20))
    assert (await run_of(store)).status is status


async def test_reset_for_rerun_of_an_unknown_run_raises_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound):
        await store.reset_for_rerun("wr-nothing", now=T0)
