"""The run store contract, held against every store: deciding approvals, cancelling runs and resetting
an ended run to run again.

Each test runs three times: on `InMemoryRunStore`, on `SqlRunStore` over a fresh SQLite file and
on `SqlRunStore` over a fresh PostgreSQL database (see `conftest.py`). Times are passed in
explicitly, so nothing here depends on the wall clock. The runs and nodes they start from are in `contract.py`.
"""

from __future__ import annotations

import pytest

from app.engine.exceptions import Conflict, NotFound
from app.engine.model import (
    NodeStatus,
    RunStatus,
)
from app.engine.store import LeaseInfo, RunStore
from tests.storage.contract import (
    ENDED,
    ME,
    RUN,
    T0,
    approve,
    at,
    ended_run,
    new_run,
    node,
    nodes_of,
    paused_run,
    run_of,
    running_run,
)

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
