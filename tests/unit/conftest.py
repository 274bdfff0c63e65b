"""Engine fixtures: the real executor over the in-memory store, with the default saved agents."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from app import clock
from app.agents.registry import KINDS
from app.engine.executor import Executor
from app.engine.memory import InMemoryRunStore
from app.engine.model import EdgeSpec, NodeSpec, RunRecord, RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord
from tests.servers import LocalServer

DEFAULT_AGENTS = ("transform", "http", "branch", "approval", "delay")


@pytest.fixture
def store() -> InMemoryRunStore:
    store = InMemoryRunStore()
    for kind in DEFAULT_AGENTS:
        store.put_agent(AgentRecord(kind, kind, kind))
    return store


class Slept:
    """Stands in for `clock.sleep`: returns at once, adding up the seconds it was asked to wait."""

    def __init__(self) -> None:
        self.seconds = 0.0

    async def __call__(self, seconds: float) -> None:
        self.seconds += seconds
        await asyncio.sleep(0)


@pytest.fixture
def slept() -> Slept:
    return Slept()


@pytest.fixture
async def executor(store: InMemoryRunStore, slept: Slept) -> AsyncIterator[Executor]:
    """The executor, its retry waits counted in `slept` rather than waited out."""
    async with httpx.AsyncClient() as http:
        executor = Executor(store, kinds=KINDS, http=http, lease_seconds=5, recovery_interval=60, sleep=slept)
        yield executor
        await executor.stop()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


_numbers = itertools.count(1)

Starter = Callable[..., Any]


@pytest.fixture
def start(store: InMemoryRunStore, executor: Executor) -> Starter:
    """start(definition, payload) stores the definition and a QUEUED run, submits it, returns the run id."""

    async def start_run(
        definition: WorkflowDefinition, payload: Any = None, *, session_id: str | None = None, until: str | None = None
    ) -> str:
        number = next(_numbers)
        workflow_id, run_id = f"wf-{number}", f"wr-{number}"
        store.put_definition(workflow_id, 1, definition)
        now = clock.now()
        run = RunRecord(
            run_id, workflow_id, 1, RunStatus.QUEUED, payload, session_id=session_id, created_at=now, until=until
        )
        await store.create_run(run)
        executor.submit(run_id)
        return run_id

    return start_run


def chain(*steps: tuple[str, str] | NodeSpec) -> WorkflowDefinition:
    """A definition whose steps (agent id, action) run one after another as s1 → s2 → …"""
    nodes = [
        step if isinstance(step, NodeSpec) else NodeSpec(key=f"s{i}", agent_id=step[0], action=step[1], step_order=i)
        for i, step in enumerate(steps, start=1)
    ]
    edges = [EdgeSpec(source=a.key, target=b.key) for a, b in itertools.pairwise(nodes)]
    return WorkflowDefinition(nodes=nodes, edges=edges)
