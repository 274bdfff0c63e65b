"""The `workflow` kind in the engine: what it hands the runner, and that waiting on a child holds no slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app import clock
from app.agents.base import AgentServices
from app.agents.registry import KINDS
from app.engine.executor import Executor
from app.engine.memory import InMemoryRunStore
from app.engine.model import NodeSpec, RunRecord, RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord
from tests.unit.conftest import chain


class FakeRunner:
    """Records each call and answers with the child input, once `release` is set."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def run(
        self, workflow_id: str, input: Any, *, parent_run_id: str, node_key: str, chain: tuple[str, ...]
    ) -> Any:
        self.calls.append(
            {"workflow_id": workflow_id, "input": input, "parent": parent_run_id, "node": node_key, "chain": chain}
        )
        await self.release.wait()
        return {"child_got": input}


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
async def one_slot(store: InMemoryRunStore, runner: FakeRunner) -> AsyncIterator[Executor]:
    """An executor with one global execution slot and the fake runner."""
    store.put_agent(AgentRecord("workflow", "workflow", "Workflow"))
    async with httpx.AsyncClient() as http:
        executor = Executor(
            store,
            kinds=KINDS,
            http=http,
            lease_seconds=5,
            recovery_interval=60,
            global_concurrency=1,
            services=AgentServices(workflows=runner),
        )
        yield executor
        await executor.stop()


async def _start(
    store: InMemoryRunStore, executor: Executor, run_id: str, definition: WorkflowDefinition, payload: Any, **kw: Any
) -> None:
    workflow_id = f"wf-{run_id}"
    store.put_definition(workflow_id, 1, definition)
    run = RunRecord(run_id, workflow_id, 1, RunStatus.QUEUED, payload, created_at=clock.now(), **kw)
    await store.create_run(run)
    executor.submit(run_id)


def _sub(action: str = "", workflow_id: str = "wf-child") -> NodeSpec:
    return NodeSpec(key="sub", agent_id="workflow", action=action, config={"workflow_id": workflow_id}, step_order=1)


async def test_workflow_step_hands_the_runner_its_step_and_chain(
    store: InMemoryRunStore, one_slot: Executor, runner: FakeRunner
) -> None:
    await _start(store, one_slot, "wr-nested", WorkflowDefinition(nodes=[_sub()]), "hi", chain=("wf-top",))

    run = await one_slot.wait("wr-nested", timeout=5)

    assert run is not None and run.status is RunStatus.COMPLETED
    assert run.output == {"child_got": "hi"}
    assert runner.calls == [
        {
            "workflow_id": "wf-child",
            "input": "hi",
            "parent": "wr-nested",
            "node": "sub",
            "chain": ("wf-top", "wf-wr-nested"),
        }
    ]


async def test_workflow_step_with_an_action_sends_it_rendered(
    store: InMemoryRunStore, one_slot: Executor, runner: FakeRunner
) -> None:
    definition = WorkflowDefinition(nodes=[_sub(action="{{ input.customer }}")])
    await _start(store, one_slot, "wr-action", definition, {"customer": {"id": 7}})

    run = await one_slot.wait("wr-action", timeout=5)

    assert run is not None and run.output == {"child_got": {"id": 7}}


async def test_waiting_on_a_child_holds_no_execution_slot(
    store: InMemoryRunStore, one_slot: Executor, runner: FakeRunner
) -> None:
    runner.release.clear()
    await _start(store, one_slot, "wr-waiting", WorkflowDefinition(nodes=[_sub()]), "x")
    await _start(store, one_slot, "wr-other", chain(("transform", "{{ input }}!")), "free")

    other = await one_slot.wait("wr-other", timeout=5)
    runner.release.set()
    waiting = await one_slot.wait("wr-waiting", timeout=5)

    assert other is not None and other.output == "free!"
    assert waiting is not None and waiting.status is RunStatus.COMPLETED


async def test_workflow_step_without_a_runner_fails_clearly(store: InMemoryRunStore, executor: Executor) -> None:
    store.put_agent(AgentRecord("workflow", "workflow", "Workflow"))
    await _start(store, executor, "wr-alone", WorkflowDefinition(nodes=[_sub()]), "x")

    run = await executor.wait("wr-alone", timeout=5)

    assert run is not None and run.status is RunStatus.FAILED
    assert "can only run inside Flowyard's executor" in (run.error or "")
