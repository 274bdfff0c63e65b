"""The run store contract for approval deadlines (`RunStore.due_approvals`), on every store.

An approval keeps the deadline and policy it was created with; `due_approvals` returns the pending
ones whose deadline has passed and whose policy acts on it, earliest deadline first.
"""

from __future__ import annotations

from typing import Any

from app.engine.model import Approval, NodeStatus, RunStatus
from app.engine.store import RunStore
from tests.storage.contract import ME, RUN, at, new_run, node, running_run


def approval(key: str, *, run_id: str = RUN, deadline: float | None, policy: Any = "wait") -> Approval:
    return Approval(
        id=f"ap-{run_id}-{key}",
        run_id=run_id,
        node_key=key,
        proposal={"draft": key},
        created_at=at(3),
        deadline_at=at(deadline) if deadline is not None else None,
        on_deadline=policy,
    )


async def paused_with(store: RunStore, *approvals: Approval, run_id: str = RUN) -> None:
    if run_id == RUN:
        await running_run(store)
    else:
        await store.create_run(new_run(run_id))
        assert await store.acquire_lease(run_id, ME, until=at(30), now=at(0))
    for item in approvals:
        waiting = node(item.node_key, NodeStatus.WAITING_APPROVAL, run_id=run_id, output=item.proposal)
        await store.save_waiting_node(ME, waiting, item, now=at(3))
    await store.finish_run(run_id, ME, status=RunStatus.PAUSED, output=None, error=None, now=at(4))


async def test_an_approval_keeps_its_deadline_and_policy(store: RunStore) -> None:
    await paused_with(store, approval("review", deadline=60, policy="reject"))

    (stored,) = await store.get_approvals(RUN)

    assert (stored.deadline_at, stored.on_deadline) == (at(60), "reject")


async def test_an_approval_without_deadline_waits_by_default(store: RunStore) -> None:
    await paused_with(store, approval("review", deadline=None))

    (stored,) = await store.get_approvals(RUN)

    assert (stored.deadline_at, stored.on_deadline) == (None, "wait")


async def test_due_approvals_are_the_passed_ones_that_act_earliest_first(store: RunStore) -> None:
    await paused_with(
        store,
        approval("late", deadline=120, policy="approve"),
        approval("early", deadline=60, policy="reject"),
        approval("future", deadline=600, policy="approve"),
        approval("patient", deadline=30, policy="wait"),
        approval("open", deadline=None, policy="approve"),
    )

    due = await store.due_approvals(now=at(120), limit=10)

    assert [(a.node_key, a.on_deadline, a.proposal) for a in due] == [
        ("early", "reject", {"draft": "early"}),
        ("late", "approve", {"draft": "late"}),
    ]
    assert [a.node_key for a in await store.due_approvals(now=at(120), limit=1)] == ["early"]
    assert await store.due_approvals(now=at(59), limit=10) == []


async def test_a_decided_approval_is_no_longer_due(store: RunStore) -> None:
    await paused_with(store, approval("review", deadline=60, policy="approve"))
    await store.decide_approval(RUN, "review", approved=True, output="ok", decided_by="ana", reason=None, now=at(61))

    assert await store.due_approvals(now=at(120), limit=10) == []


async def test_due_approvals_span_runs(store: RunStore) -> None:
    await paused_with(store, approval("review", deadline=60, policy="approve"))
    await paused_with(store, approval("review", run_id="wr-2", deadline=50, policy="reject"), run_id="wr-2")

    due = await store.due_approvals(now=at(100), limit=10)

    assert [(a.run_id, a.node_key) for a in due] == [("wr-2", "review"), (RUN, "review")]
