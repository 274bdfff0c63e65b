"""Approval deadlines in the engine: an approval gets its node's deadline, and the sweep applies the node's
policy once the deadline has passed (approve the proposal, reject it, or keep waiting). The clock is a test
clock moved by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.agents.registry import KINDS
from app.engine import deadlines
from app.engine.executor import Executor
from app.engine.memory import InMemoryRunStore
from app.engine.model import NodeSpec, RunRecord, RunStatus, WorkflowDefinition
from tests.unit.conftest import chain


class Clock:
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
async def executor(store: InMemoryRunStore, clock: Clock) -> AsyncIterator[Executor]:
    async with httpx.AsyncClient() as http:
        executor = Executor(store, kinds=KINDS, http=http, lease_seconds=5, recovery_interval=3600, now=clock)
        yield executor
        await executor.stop()


def reviewed(*, deadline: float | None, policy: Any = "wait") -> WorkflowDefinition:
    return chain(
        ("transform", "draft about {{ input }}"),
        NodeSpec(
            key="s2",
            agent_id="approval",
            step_order=2,
            approval_deadline_seconds=deadline,
            on_deadline=policy,
        ),
        ("transform", "sent: {{ input }}"),
    )


async def paused_run(store: InMemoryRunStore, executor: Executor, clock: Clock, definition: WorkflowDefinition) -> str:
    store.put_definition("wf-1", 1, definition)
    await store.create_run(RunRecord("wr-1", "wf-1", 1, RunStatus.QUEUED, "robots", created_at=clock()))
    executor.submit("wr-1")
    run = await executor.wait("wr-1", timeout=5)
    assert run is not None and run.status is RunStatus.PAUSED
    return "wr-1"


async def test_an_approval_gets_the_deadline_of_its_node(
    store: InMemoryRunStore, executor: Executor, clock: Clock
) -> None:
    run_id = await paused_run(store, executor, clock, reviewed(deadline=90, policy="reject"))

    (approval,) = await store.get_approvals(run_id)

    assert (approval.deadline_at, approval.on_deadline) == (clock.at + timedelta(seconds=90), "reject")


async def test_approve_on_deadline_approves_the_proposal_as_it_stands(
    store: InMemoryRunStore, executor: Executor, clock: Clock
) -> None:
    run_id = await paused_run(store, executor, clock, reviewed(deadline=60, policy="approve"))
    clock.advance(59.9)
    assert await executor.sweep_deadlines() == 0

    clock.advance(0.1)
    assert await executor.sweep_deadlines() == 1

    run = await executor.wait(run_id, timeout=5)
    assert run is not None and (run.status, run.output) == (RunStatus.COMPLETED, "sent: draft about robots")
    (approval,) = await store.get_approvals(run_id)
    assert (approval.status, approval.output, approval.decided_by) == (
        "APPROVED",
        "draft about robots",
        deadlines.DEADLINE_DECIDER,
    )
    assert approval.decided_at == clock.at


async def test_reject_on_deadline_fails_the_run_and_says_why(
    store: InMemoryRunStore, executor: Executor, clock: Clock
) -> None:
    run_id = await paused_run(store, executor, clock, reviewed(deadline=60, policy="reject"))
    clock.advance(61)

    assert await executor.sweep_deadlines() == 1

    run = await executor.wait(run_id, timeout=5)
    assert run is not None and run.status is RunStatus.FAILED
    assert "no decision by the deadline" in (run.error or "")
    (approval,) = await store.get_approvals(run_id)
    assert (approval.status, approval.decided_by) == ("REJECTED", deadlines.DEADLINE_DECIDER)


async def test_wait_on_deadline_keeps_the_run_paused(store: InMemoryRunStore, executor: Executor, clock: Clock) -> None:
    run_id = await paused_run(store, executor, clock, reviewed(deadline=60, policy="wait"))
    clock.advance(86_400)

    assert await executor.sweep_deadlines() == 0

    run = await store.get_run(run_id)
    assert run is not None and run.status is RunStatus.PAUSED
    (approval,) = await store.get_approvals(run_id)
    assert approval.status == "PENDING"


async def test_an_approval_without_deadline_is_never_swept(
    store: InMemoryRunStore, executor: Executor, clock: Clock
) -> None:
    await paused_run(store, executor, clock, reviewed(deadline=None, policy="approve"))
    clock.advance(10 * 365 * 86_400)

    assert await executor.sweep_deadlines() == 0


async def test_a_deadline_decided_by_a_person_first_is_left_alone(
    store: InMemoryRunStore, executor: Executor, clock: Clock
) -> None:
    run_id = await paused_run(store, executor, clock, reviewed(deadline=60, policy="reject"))
    await executor.decide(run_id, output="fine as it is", decided_by="ana")
    await executor.wait(run_id, timeout=5)
    clock.advance(120)

    assert await executor.sweep_deadlines() == 0

    (approval,) = await store.get_approvals(run_id)
    assert (approval.status, approval.decided_by) == ("APPROVED", "ana")


async def test_a_sweep_that_loses_the_race_moves_on(store: InMemoryRunStore, executor: Executor, clock: Clock) -> None:
    """Another process decided the approval between this sweep reading it and deciding it."""
    run_id = await paused_run(store, executor, clock, reviewed(deadline=60, policy="approve"))
    clock.advance(61)
    due = await store.due_approvals(now=clock(), limit=10)
    await store.decide_approval(
        run_id, "s2", approved=False, output=None, decided_by="other", reason="first", now=clock()
    )

    async def stale_store_due(*, now: datetime, limit: int) -> list[Any]:
        return due

    store.due_approvals = stale_store_due  # type: ignore[method-assign]
    decided = await deadlines.sweep(store, executor.decide, now=clock())

    assert decided == []
    (approval,) = await store.get_approvals(run_id)
    assert approval.decided_by == "other"


def test_a_node_refuses_an_unknown_deadline_policy() -> None:
    with pytest.raises(ValueError, match="on_deadline"):
        NodeSpec(key="r", agent_id="approval", on_deadline="escalate")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="approval_deadline_seconds"):
        NodeSpec(key="r", agent_id="approval", approval_deadline_seconds=0)
