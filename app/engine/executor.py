"""The executor: drives runs to their end, node by node, under a lease.

One `Executor` per process. `submit(run_id)` starts driving a run if this process can take its
lease; ready nodes run concurrently (bounded per run and per process); every node's result is
written to the store before any successor starts; a run that waits for approval is stored as
PAUSED and dropped from memory until a decision queues it again. Background loops renew the
leases of the runs held here and take up runs whose owner died, which is what lets any number of
processes (web or worker) share one database safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from app import clock
from app.agents import registry
from app.agents.base import AgentContext, AgentKind, AgentResult
from app.engine import mapping
from app.engine.events import Event, EventBus, InProcessEventBus
from app.engine.exceptions import AgentError, LeaseLost, MappingError, NodeError, NodeTimeout, WorkflowInvalid
from app.engine.model import Approval, EdgeSpec, NodeRunRecord, NodeStatus, RunRecord, RunStatus
from app.engine.plan import Plan, effective_config, validate
from app.engine.state import RunState
from app.engine.store import RunStore

__all__ = ["Executor", "default_owner"]

log = logging.getLogger("flowyard.executor")

MAX_BACKOFF_SECONDS = 300.0


def default_owner() -> str:
    """This process's lease owner id: host, pid and a random part (two executors in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _owner_process_is_gone(owner: str) -> bool:
    """True when `owner` names a process on this host that no longer exists: its runs can be taken now."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class _Outcome:
    key: str
    status: NodeStatus
    output: Any = None
    error: str | None = None


class _Cancelled(Exception):
    """Raised inside a driver when the run was cancelled (not when the process shuts down)."""


class Executor:
    """Drives runs stored in `store`. Call `start()` once the event loop runs, `stop()` at shutdown."""

    def __init__(
        self,
        store: RunStore,
        *,
        http: httpx.AsyncClient,
        bus: EventBus | None = None,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        run_concurrency: int = 8,
        global_concurrency: int = 64,
        recovery_interval: float = 5.0,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.store = store
        self.http = http
        self.bus: EventBus = bus or InProcessEventBus()
        self.owner = owner or default_owner()
        self.lease = timedelta(seconds=lease_seconds)
        self.run_concurrency = run_concurrency
        self.recovery_interval = recovery_interval
        self._now = now
        self._slots = asyncio.Semaphore(global_concurrency)
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._held: set[str] = set()
        self._cancelling: set[str] = set()
        self._loops: list[asyncio.Task[None]] = []

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take up runs left unfinished (by this host's dead processes or expired leases), then keep watch."""
        await self.recover_once()
        self._loops = [
            asyncio.create_task(self._every(self.lease.total_seconds() / 3, self._renew), name="flowyard-lease"),
            asyncio.create_task(self._every(self.recovery_interval, self.recover_once), name="flowyard-recovery"),
        ]

    async def stop(self) -> None:
        """Stop driving: leases are released so another process can continue the runs at once."""
        for task in self._loops:
            task.cancel()
        drivers = list(self._drivers.values())
        for task in drivers:
            task.cancel()
        await asyncio.gather(*self._loops, *drivers, return_exceptions=True)
        self._loops = []

    async def _every(self, seconds: float, job: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.exception("background job %s failed; trying again in %.1f s", job.__name__, seconds)

    # --- commands -------------------------------------------------------------------------------

    def submit(self, run_id: str, *, steal_from: str | None = None) -> None:
        """Drive `run_id` in this process, unless it is driven here already."""
        if run_id not in self._drivers:
            self._drivers[run_id] = asyncio.create_task(self._drive(run_id, steal_from), name=f"run {run_id}")

    def is_driving(self, run_id: str) -> bool:
        return run_id in self._drivers

    async def wait(self, run_id: str, *, timeout: float | None = None) -> RunRecord | None:
        """Wait until this process stops driving `run_id` (it ended, paused or moved), then read it."""
        task = self._drivers.get(run_id)
        if task is not None:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        return await self.store.get_run(run_id)

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel a run: at once when nobody drives it, else its driver stops its nodes and records it."""
        record = await self.store.request_cancel(run_id, now=self._now())
        task = self._drivers.get(run_id)
        if task is not None:
            self._cancelling.add(run_id)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
            return await self.store.get_run(run_id) or record
        if record.status is RunStatus.CANCELLED:
            self._publish(record, record.status.value)
        return record

    async def decide(
        self,
        run_id: str,
        node_key: str | None = None,
        *,
        approved: bool = True,
        output: Any = None,
        decided_by: str | None = None,
        reason: str | None = None,
    ) -> Approval:
        """Approve (with `output`) or reject the pending approval of a paused run, and carry on."""
        approval = await self.store.decide_approval(
            run_id, node_key, approved=approved, output=output, decided_by=decided_by, reason=reason, now=self._now()
        )
        run = await self.store.get_run(run_id)
        if run is not None:
            self._publish(run, approval.status, node_key=approval.node_key, data={"approval": approval.id})
            self.submit(run_id)
        return approval

    async def rerun_failed(self, run_id: str) -> RunRecord:
        """Queue a failed or cancelled run again from its unfinished nodes, keeping completed outputs."""
        record = await self.store.reset_for_rerun(run_id, now=self._now())
        self._publish(record, record.status.value)
        self.submit(run_id)
        return record

    async def recover_once(self) -> int:
        """Submit every queued or running run nobody (alive) holds. Returns how many were taken up."""
        now = self._now()
        taken = 0
        for info in await self.store.runs_to_drive(limit=1000):
            if info.run_id in self._drivers:
                continue
            steal = None
            if info.owner and info.owner != self.owner and info.expires_at and info.expires_at > now:
                if not _owner_process_is_gone(info.owner):
                    continue
                steal = info.owner
            self.submit(info.run_id, steal_from=steal)
            taken += 1
        return taken

    async def _renew(self) -> None:
        renewal = await self.store.renew_leases(self.owner, until=self._now() + self.lease)
        for run_id in list(self._held - renewal.held):
            log.warning("lost the lease of run %s; another process continues it", run_id)
            task = self._drivers.get(run_id)
            if task is not None:
                task.cancel()
        for run_id in renewal.cancel_requested & self._held:
            task = self._drivers.get(run_id)
            if task is not None and run_id not in self._cancelling:
                self._cancelling.add(run_id)
                task.cancel()

    # --- driving a run --------------------------------------------------------------------------

    async def _drive(self, run_id: str, steal_from: str | None) -> None:
        try:
            now = self._now()
            if not await self.store.acquire_lease(run_id, self.owner, until=now + self.lease, now=now, steal_from=steal_from):
                return
            self._held.add(run_id)
            try:
                await self._execute(run_id)
            except LeaseLost:
                log.warning("run %s: lease lost mid-run; its new owner continues it", run_id)
            except asyncio.CancelledError:
                if run_id in self._cancelling:
                    await asyncio.shield(self._finish_cancelled(run_id))
                else:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(self.store.release_lease(run_id, self.owner))
                    raise
            except Exception as exc:
                log.exception("run %s failed inside the engine", run_id)
                await self._fail_run_quietly(run_id, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._held.discard(run_id)
            self._cancelling.discard(run_id)
            self._drivers.pop(run_id, None)

    async def _fail_run_quietly(self, run_id: str, error: str) -> None:
        with contextlib.suppress(Exception):
            await self.store.finish_run(run_id, self.owner, status=RunStatus.FAILED, output=None, error=error, now=self._now())
            run = await self.store.get_run(run_id)
            if run is not None:
                self._publish(run, RunStatus.FAILED.value, data={"error": error})

    async def _finish_cancelled(self, run_id: str) -> None:
        now = self._now()
        for node in await self.store.get_node_runs(run_id):
            if node.status in (NodeStatus.RUNNING, NodeStatus.PENDING, NodeStatus.WAITING_APPROVAL):
                node.status = NodeStatus.CANCELLED
                node.finished_at = now
                with contextlib.suppress(LeaseLost):
                    await self.store.save_node(self.owner, node, now=now)
        with contextlib.suppress(LeaseLost):
            await self.store.finish_run(run_id, self.owner, status=RunStatus.CANCELLED, output=None, error="cancelled", now=now)
        run = await self.store.get_run(run_id)
        if run is not None:
            self._publish(run, RunStatus.CANCELLED.value)

    async def _execute(self, run_id: str) -> None:
        run = await self.store.get_run(run_id)
        if run is None or run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            await self.store.release_lease(run_id, self.owner)
            return
        if run.cancel_requested:
            self._cancelling.add(run_id)
            raise asyncio.CancelledError
        definition = await self.store.get_definition(run.workflow_id, run.workflow_version)
        if definition is None:
            await self._end(run, RunStatus.FAILED, error=f"workflow version {run.workflow_version} is missing")
            return
        agents_by_id = await self.store.get_agents({n.agent_id for n in definition.nodes})
        problems = validate(definition, agents_by_id)
        if problems:
            await self._end(run, RunStatus.FAILED, error=str(WorkflowInvalid(problems)))
            return
        plan = Plan.of(definition)
        agents: dict[str, AgentKind] = {}
        for key, node in plan.nodes.items():
            saved = agents_by_id[node.agent_id]
            agents[key] = registry.build(saved.kind, effective_config(node, saved))
        state = RunState(plan, await self.store.get_node_runs(run_id))

        await self.store.start_run(run_id, self.owner, now=self._now())
        run.status = RunStatus.RUNNING
        self._publish(run, RunStatus.RUNNING.value)
        await self._loop(run, plan, agents, state)

    def _condition_renderer(self, run: RunRecord, state: RunState) -> Callable[[EdgeSpec, Any], Any]:
        def render(edge: EdgeSpec, source_output: Any) -> Any:
            context = mapping.build_context(
                input=source_output,
                payload=run.input,
                outputs=state.outputs,
                run_id=run.id,
                session_id=run.session_id,
                workflow_id=run.workflow_id,
            )
            return mapping.render(edge.condition or "", context, node=edge.target)

        return render

    async def _loop(self, run: RunRecord, plan: Plan, agents: dict[str, AgentKind], state: RunState) -> None:
        render_condition = self._condition_renderer(run, state)
        running: dict[asyncio.Task[_Outcome], str] = {}
        failure: str | None = next(
            (f"node '{k}' failed: {state.errors.get(k, 'failed')}" for k, s in state.status.items() if s is NodeStatus.FAILED),
            None,
        )
        try:
            while failure is None:
                step = state.advance(render_condition)
                now = self._now()
                for key in step.skipped:
                    await self._save(run, NodeRunRecord(run.id, key, NodeStatus.SKIPPED, finished_at=now), now)
                for key, error in step.failed.items():
                    await self._save(run, NodeRunRecord(run.id, key, NodeStatus.FAILED, error=error, finished_at=now), now)
                    failure = f"node '{key}' failed: {error}"
                if failure is not None:
                    break
                for key in step.ready:
                    if len(running) >= self.run_concurrency:
                        break
                    state.status[key] = NodeStatus.RUNNING
                    node_input = state.input_for(key, run.input, render_condition)
                    task = asyncio.create_task(self._run_node(run, plan, state, agents[key], key, node_input))
                    running[task] = key
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    key = running.pop(task)
                    outcome = task.result()
                    state.status[key] = outcome.status
                    if outcome.status is NodeStatus.COMPLETED:
                        state.outputs[key] = outcome.output
                    elif outcome.status is NodeStatus.FAILED and failure is None:
                        failure = f"node '{key}' failed: {outcome.error}"
        finally:
            if running:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
        if failure is not None:
            if running:
                now = self._now()
                for key in running.values():
                    await self._save(run, NodeRunRecord(run.id, key, NodeStatus.CANCELLED, finished_at=now), now)
            await self._end(run, RunStatus.FAILED, error=failure)
        elif state.count(NodeStatus.WAITING_APPROVAL):
            await self._end(run, RunStatus.PAUSED)
        else:
            await self._end(run, RunStatus.COMPLETED, output=state.final_output())

    async def _save(self, run: RunRecord, node: NodeRunRecord, now: datetime) -> None:
        await self.store.save_node(self.owner, node, now=now)
        self._publish(run, node.status.value, node_key=node.node_key)

    async def _end(self, run: RunRecord, status: RunStatus, *, output: Any = None, error: str | None = None) -> None:
        await self.store.finish_run(run.id, self.owner, status=status, output=output, error=error, now=self._now())
        run.status = status
        self._held.discard(run.id)
        data: dict[str, Any] = {"error": error} if error else {}
        self._publish(run, status.value, data=data)

    def _publish(self, run: RunRecord, status: str, *, node_key: str | None = None, data: dict[str, Any] | None = None) -> None:
        self.bus.publish(Event(run.id, run.workflow_id, status, self._now(), node_key, data or {}))

    # --- one node ---------------------------------------------------------------------------------

    async def _run_node(
        self, run: RunRecord, plan: Plan, state: RunState, agent: AgentKind, key: str, node_input: Any
    ) -> _Outcome:
        """Every attempt of one node; the result is stored before this returns."""
        node = plan.nodes[key]
        step_order = node.step_order if node.step_order is not None else plan.order.index(key) + 1
        context = mapping.build_context(
            input=node_input,
            payload=run.input,
            outputs=state.outputs,
            run_id=run.id,
            session_id=run.session_id,
            workflow_id=run.workflow_id,
        )
        record = NodeRunRecord(run.id, key, NodeStatus.RUNNING, input=node_input, step_order=step_order)
        if node.input_mapping is not None:
            try:
                context["input"] = record.input = mapping.render_value(node.input_mapping, context, node=key)
            except MappingError as exc:
                record.attempt = state.attempts[key] = state.attempts[key] + 1
                record.status, record.error = NodeStatus.FAILED, f"input mapping: {exc}"
                record.started_at = record.finished_at = self._now()
                await self._save(run, record, record.finished_at)
                return _Outcome(key, NodeStatus.FAILED, error=record.error)
        attempts = node.retries + 1
        for number in range(1, attempts + 1):
            record.attempt = state.attempts[key] = state.attempts[key] + 1
            record.started_at = self._now()
            record.status, record.error, record.finished_at = NodeStatus.RUNNING, None, None
            try:
                await self._save(run, record, record.started_at)
                result = await self._attempt(run, node.timeout_seconds, agent, key, node.action, context)
            except NodeError as exc:
                record.error = str(exc)
                record.finished_at = self._now()
                if not exc.retryable or number == attempts:
                    record.status = NodeStatus.FAILED
                    await self._save(run, record, record.finished_at)
                    return _Outcome(key, NodeStatus.FAILED, error=record.error)
                await self._save(run, record, record.finished_at)
                delay = min(node.retry_backoff_seconds * 2 ** (number - 1), MAX_BACKOFF_SECONDS)
                await asyncio.sleep(delay)
                continue
            record.output, record.handles, record.usage = result.output, result.handles, result.usage
            record.finished_at = self._now()
            if result.wait_for_approval or node.needs_approval:
                record.status = NodeStatus.WAITING_APPROVAL
                approval = Approval(
                    id=f"ap-{secrets.token_hex(8)}",
                    run_id=run.id,
                    node_key=key,
                    proposal=result.output,
                    created_at=record.finished_at,
                )
                await self.store.save_waiting_node(self.owner, record, approval, now=record.finished_at)
                self._publish(run, record.status.value, node_key=key, data={"approval": approval.id})
                return _Outcome(key, NodeStatus.WAITING_APPROVAL)
            record.status = NodeStatus.COMPLETED
            state.handles[key] = result.handles
            await self._save(run, record, record.finished_at)
            return _Outcome(key, NodeStatus.COMPLETED, output=result.output)
        raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover

    async def _attempt(
        self, run: RunRecord, timeout: float | None, agent: AgentKind, key: str, action: str, context: dict[str, Any]
    ) -> AgentResult:
        ctx = AgentContext(
            run_id=run.id,
            node_key=key,
            action=action,
            input=context["input"],
            mapping_context=context,
            http=self.http,
            session_id=run.session_id,
            workflow_id=run.workflow_id,
        )
        async with self._slots:
            try:
                async with asyncio.timeout(timeout):
                    value = await agent.run(ctx)
            except TimeoutError:
                raise NodeTimeout(timeout or 0, node=key, run_id=run.id) from None
            except (NodeError, asyncio.CancelledError):
                raise
            except ValidationError as exc:
                raise AgentError(str(exc), retryable=False, node=key, run_id=run.id) from None
            except Exception as exc:
                raise AgentError(f"{type(exc).__name__}: {exc}", node=key, run_id=run.id) from None
        return value if isinstance(value, AgentResult) else AgentResult(output=value)
