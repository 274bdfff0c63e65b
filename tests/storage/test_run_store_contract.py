"""The run store contract (`app.engine.store.RunStore`), held against every store: creating and reading
runs, the definitions and agents they use, and the progress a run's lease holder writes.

Each test runs three times: on `InMemoryRunStore`, on `SqlRunStore` over a fresh SQLite file and
on `SqlRunStore` over a fresh PostgreSQL database (see `conftest.py`). Times are passed in
explicitly, so nothing here depends on the wall clock. The runs and nodes they start from are in `contract.py`.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest

from app.engine.exceptions import Conflict, LeaseLost
from app.engine.model import (
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
from app.engine.store import AgentRecord, RunStore
from tests.storage.contract import (
    ME,
    OTHER,
    RUN,
    T0,
    approval_for,
    at,
    new_run,
    node,
    nodes_of,
    run_of,
    running_run,
)
from tests.storage.stores import Seed

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
        error="step 'polish' failed: boom",
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
        (RunStatus.FAILED, None, "step 'polish' failed: boom"),
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
