"""The runs, nodes and instants the run store contract tests (`test_run_store_*contract.py`) build on.

Times are fixed offsets from `T0`, so nothing depends on the wall clock.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.engine.model import (
    Approval,
    NodeRunRecord,
    NodeStatus,
    RunRecord,
    RunStatus,
)
from app.engine.store import RunStore

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
