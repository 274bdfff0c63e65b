"""The real executor driving runs stored in PostgreSQL, where every store call goes through a thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app import clock, ids
from app.agents.registry import KINDS
from app.engine.executor import Executor
from app.engine.model import EdgeSpec, NodeSpec, NodeStatus, RunRecord, RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord
from storage.run_store import SqlRunStore
from tests.storage.stores import open_sql_store, seed_for

pytestmark = pytest.mark.postgres

CHAIN = WorkflowDefinition(
    nodes=[
        NodeSpec(key="gather", agent_id="transform", action="{{ input }} news", step_order=1),
        NodeSpec(key="shout", agent_id="transform", action="{{ input | upper }}", step_order=2),
        NodeSpec(key="sign", agent_id="transform", action="Draft: {{ input }}", step_order=3),
    ],
    edges=[EdgeSpec(source="gather", target="shout"), EdgeSpec(source="shout", target="sign")],
)
BRANCH = WorkflowDefinition(
    nodes=[
        NodeSpec(
            key="route",
            agent_id="branch",
            config={"outcomes": [{"handle": "big", "when": "{{ input > 10 }}"}], "default": "small"},
            step_order=1,
        ),
        NodeSpec(key="loud", agent_id="transform", action="{{ input }} is big", step_order=2),
        NodeSpec(key="quiet", agent_id="transform", action="{{ input }} is small", step_order=3),
    ],
    edges=[
        EdgeSpec(source="route", target="loud", source_handle="big"),
        EdgeSpec(source="route", target="quiet", source_handle="small"),
    ],
)
REVIEWED = WorkflowDefinition(
    nodes=[
        NodeSpec(key="draft", agent_id="transform", action="A post about {{ input }}", step_order=1),
        NodeSpec(key="review", agent_id="approval", step_order=2),
        NodeSpec(key="publish", agent_id="transform", action="Published: {{ input }}", step_order=3),
    ],
    edges=[EdgeSpec(source="draft", target="review"), EdgeSpec(source="review", target="publish")],
)


@pytest.fixture
def pg_store(migrated_postgres_url: str) -> Iterator[SqlRunStore]:
    with open_sql_store(migrated_postgres_url) as sql_store:
        seed = seed_for(sql_store)
        for kind in ("transform", "branch", "approval"):
            seed.agent(AgentRecord(kind, kind, kind.title(), {}))
        yield sql_store


@pytest.fixture
async def executor(pg_store: SqlRunStore) -> AsyncIterator[Executor]:
    no_network = httpx.MockTransport(lambda request: httpx.Response(503, text="no network in tests"))
    async with httpx.AsyncClient(transport=no_network) as http:
        executor = Executor(pg_store, kinds=KINDS, http=http, lease_seconds=5, recovery_interval=60)
        await executor.start()
        yield executor
        await executor.stop()


async def run_to_rest(executor: Executor, definition: WorkflowDefinition, payload: Any) -> RunRecord:
    """Publish `definition`, queue a run of it with `payload`, and wait until it ends or pauses."""
    workflow_id = ids.new_workflow_id()
    seed_for(executor.store).workflow(workflow_id, 1, definition)
    now = clock.now()
    run = RunRecord(ids.new_run_id(), workflow_id, 1, RunStatus.QUEUED, payload, created_at=now, updated_at=now)
    await executor.store.create_run(run)
    executor.submit(run.id)
    return await settled(executor, run.id)


async def settled(executor: Executor, run_id: str) -> RunRecord:
    run = await executor.wait(run_id, timeout=10)
    assert run is not None
    return run


async def node_outcomes(executor: Executor, run_id: str) -> dict[str, tuple[NodeStatus, Any]]:
    return {n.node_key: (n.status, n.output) for n in await executor.store.get_node_runs(run_id)}


async def test_chain_of_transforms_feeds_each_output_to_the_next(executor: Executor) -> None:
    run = await run_to_rest(executor, CHAIN, "ai")

    assert (run.status, run.output, run.error) == (RunStatus.COMPLETED, "Draft: AI NEWS", None)
    assert await node_outcomes(executor, run.id) == {
        "gather": (NodeStatus.COMPLETED, "ai news"),
        "shout": (NodeStatus.COMPLETED, "AI NEWS"),
        "sign": (NodeStatus.COMPLETED, "Draft: AI NEWS"),
    }
    assert run.current_step_order == 3


async def test_branch_runs_the_chosen_outcome_and_skips_the_other(executor: Executor) -> None:
    run = await run_to_rest(executor, BRANCH, 42)

    assert (run.status, run.output) == (RunStatus.COMPLETED, "42 is big")
    outcomes = await node_outcomes(executor, run.id)
    assert outcomes["loud"] == (NodeStatus.COMPLETED, "42 is big")
    assert outcomes["quiet"][0] is NodeStatus.SKIPPED


async def test_approval_node_pauses_the_run_with_its_proposal(executor: Executor) -> None:
    run = await run_to_rest(executor, REVIEWED, "storage")

    assert run.status is RunStatus.PAUSED
    [approval] = await executor.store.get_approvals(run.id)
    assert (approval.node_key, approval.status, approval.proposal) == ("review", "PENDING", "A post about storage")
    assert "publish" not in await node_outcomes(executor, run.id)


async def test_approved_run_continues_from_the_approved_output(executor: Executor) -> None:
    paused = await run_to_rest(executor, REVIEWED, "storage")

    await executor.decide(paused.id, approved=True, output="A better post", decided_by="ana")
    run = await settled(executor, paused.id)

    assert (run.status, run.output) == (RunStatus.COMPLETED, "Published: A better post")
    outcomes = await node_outcomes(executor, run.id)
    assert outcomes["draft"] == (NodeStatus.COMPLETED, "A post about storage")
    assert outcomes["review"] == (NodeStatus.COMPLETED, "A better post")


async def test_rejected_run_fails_with_the_reason(executor: Executor) -> None:
    paused = await run_to_rest(executor, REVIEWED, "storage")

    await executor.decide(paused.id, approved=False, reason="off topic", decided_by="bo")
    run = await settled(executor, paused.id)

    assert run.status is RunStatus.FAILED
    assert run.error is not None and "rejected: off topic" in run.error
    assert "publish" not in await node_outcomes(executor, run.id)
