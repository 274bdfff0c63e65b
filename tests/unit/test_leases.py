"""Ownership: one process drives a run at a time; a run whose owner died is taken up and finished."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import timedelta

import httpx

from app import clock
from app.agents.registry import KINDS
from app.engine.executor import Executor
from app.engine.memory import InMemoryRunStore
from app.engine.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from tests.servers import LocalServer
from tests.unit.conftest import chain


async def _orphan(store: InMemoryRunStore, server: LocalServer, owner: str, *, expires_in: float) -> str:
    """A run left behind mid-way by `owner`: step 1 completed, step 2 was in flight."""
    definition = chain(("http", f"POST {server.url}/first"), ("http", f"POST {server.url}/second"))
    store.put_definition("wf-orphan", 1, definition)
    now = clock.now()
    await store.create_run(RunRecord("wr-orphan", "wf-orphan", 1, RunStatus.QUEUED, {"n": 1}, created_at=now))
    assert await store.acquire_lease("wr-orphan", owner, until=now + timedelta(seconds=60), now=now)
    await store.start_run("wr-orphan", owner, now=now)
    done = NodeRunRecord("wr-orphan", "s1", NodeStatus.COMPLETED, attempt=1, output={"kept": True}, step_order=1)
    flying = NodeRunRecord("wr-orphan", "s2", NodeStatus.RUNNING, attempt=1, step_order=2)
    await store.save_nodes(owner, [done, flying], now=now)
    store.leases["wr-orphan"] = (owner, now + timedelta(seconds=expires_in))
    return "wr-orphan"


async def test_run_with_expired_lease_is_finished_without_repeating_completed_steps(
    store: InMemoryRunStore, executor: Executor, server: LocalServer
) -> None:
    run_id = await _orphan(store, server, "elsewhere:1:aaaaaa", expires_in=-1)

    taken = await executor.recover_once()
    run = await executor.wait(run_id, timeout=10)
    nodes = {n.node_key: n for n in await store.get_node_runs(run_id)}

    assert taken == 1
    assert run is not None and run.status is RunStatus.COMPLETED
    assert server.calls_to("/first") == []
    assert len(server.calls_to("/second")) == 1
    assert nodes["s1"].output == {"kept": True}
    assert nodes["s2"].attempt == 2


async def test_run_held_by_a_live_owner_is_left_alone(
    store: InMemoryRunStore, executor: Executor, server: LocalServer
) -> None:
    run_id = await _orphan(store, server, "elsewhere:1:aaaaaa", expires_in=60)

    taken = await executor.recover_once()

    assert taken == 0
    assert not executor.is_driving(run_id)


async def test_run_of_a_dead_process_on_this_host_is_taken_at_once(
    store: InMemoryRunStore, executor: Executor, server: LocalServer
) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead_pid = int(finished.stdout)
    assert dead_pid != os.getpid()
    run_id = await _orphan(store, server, f"{socket.gethostname()}:{dead_pid}:bbbbbb", expires_in=60)

    await executor.recover_once()
    run = await executor.wait(run_id, timeout=10)

    assert run is not None and run.status is RunStatus.COMPLETED
    assert server.calls_to("/first") == []


async def test_two_executors_never_drive_the_same_run(store: InMemoryRunStore, server: LocalServer) -> None:
    store.put_definition("wf-x", 1, chain(("http", f"POST {server.url}/once")))
    await store.create_run(RunRecord("wr-x", "wf-x", 1, RunStatus.QUEUED, {}, created_at=clock.now()))
    async with httpx.AsyncClient() as http:
        first, second = Executor(store, kinds=KINDS, http=http), Executor(store, kinds=KINDS, http=http)
        first.submit("wr-x")
        second.submit("wr-x")
        await asyncio.gather(first.wait("wr-x", timeout=10), second.wait("wr-x", timeout=10))

    assert len(server.calls_to("/once")) == 1
    assert (await store.get_run("wr-x")).status is RunStatus.COMPLETED  # type: ignore[union-attr]


async def test_executor_that_lost_its_lease_stops_writing(
    store: InMemoryRunStore, executor: Executor, server: LocalServer
) -> None:
    store.put_definition("wf-y", 1, chain(("delay", "0.3"), ("http", f"POST {server.url}/after")))
    await store.create_run(RunRecord("wr-y", "wf-y", 1, RunStatus.QUEUED, {}, created_at=clock.now()))
    executor.submit("wr-y")
    await asyncio.sleep(0.1)
    store.leases["wr-y"] = ("usurper:1:cccccc", clock.now() + timedelta(seconds=60))

    await executor.wait("wr-y", timeout=10)
    run = await store.get_run("wr-y")

    assert run is not None and run.status is RunStatus.RUNNING
    assert server.calls_to("/after") == []
    assert store.leases["wr-y"][0] == "usurper:1:cccccc"
