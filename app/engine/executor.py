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
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from app import clock, periodic
from app.engine import deadlines, leases, mapping, recovery
from app.engine.attempts import NodeAttempts, Outcome, total_tokens
from app.engine.events import Event, EventBus, InProcessEventBus
from app.engine.exceptions import LeaseLost, MappingError, WorkflowInvalid
from app.engine.kinds import AgentKind, AgentServices, Kinds, build
from app.engine.model import Approval, EdgeSpec, NodeRunRecord, NodeStatus, RunRecord, RunStatus, WorkflowDefinition
from app.engine.plan import Plan, agents_fingerprint, effective_config, validate
from app.engine.state import RunState
from app.engine.store import RunStore

__all__ = ["Executor"]

log = logging.getLogger("flowyard.executor")

PLAN_CACHE_SIZE = 256


@dataclass
class _Writes:
    """Node records (and approvals) waiting to be stored together in the driver's next transaction."""

    nodes: list[NodeRunRecord] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)

    def add(self, node: NodeRunRecord, approval: Approval | None = None) -> None:
        self.nodes.append(copy.copy(node))
        if approval is not None:
            self.approvals.append(approval)

    def take(self) -> tuple[list[NodeRunRecord], list[Approval]]:
        nodes, approvals = self.nodes, self.approvals
        self.nodes, self.approvals = [], []
        return nodes, approvals


class _Cancelled(Exception):
    """Raised inside a driver when the run was cancelled (not when the process shuts down)."""


class Executor(NodeAttempts):
    """Drives runs stored in `store`. Call `start()` once the event loop runs, `stop()` at shutdown."""

    def __init__(
        self,
        store: RunStore,
        *,
        kinds: Kinds,
        http: httpx.AsyncClient,
        bus: EventBus | None = None,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        run_concurrency: int = 8,
        global_concurrency: int = 64,
        recovery_interval: float = 5.0,
        now: Callable[[], datetime] = clock.now,
        services: AgentServices | None = None,
        sleep: clock.Sleep = clock.sleep,
    ) -> None:
        self.store = store
        self.kinds = kinds
        self._sleep = sleep  # between a node's attempts (tests pass a sleep that does not wait)
        self.http = http
        self.services = services or AgentServices()
        self.bus: EventBus = bus or InProcessEventBus()
        self.owner = owner or leases.default_owner()
        self.lease = timedelta(seconds=lease_seconds)
        self.run_concurrency = run_concurrency
        self.recovery_interval = recovery_interval
        self._now = now
        self._slots = asyncio.Semaphore(global_concurrency)
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._held: set[str] = set()
        self._cancelling: set[str] = set()
        self._again: set[str] = set()
        self._stopping = False
        self._loops: list[asyncio.Task[None]] = []
        self._definitions: dict[tuple[str, int], WorkflowDefinition] = {}
        self._plans: dict[tuple[str, int], tuple[str, Plan, dict[str, AgentKind]]] = {}
        self._tokens: dict[str, int] = {}  # tokens used so far by each run driven here (token budgets)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take up runs left unfinished (by this host's dead processes or expired leases), then keep watch."""
        await self.recover_once()
        loops = {
            "flowyard-lease": (self.lease.total_seconds() / 3, self._renew),
            "flowyard-recovery": (self.recovery_interval, self.recover_once),
            "flowyard-deadlines": (self.recovery_interval, self.sweep_deadlines),
        }
        self._loops = [
            asyncio.create_task(periodic.every(seconds, job, logger=log), name=name)
            for name, (seconds, job) in loops.items()
        ]

    async def stop(self) -> None:
        """Stop driving: leases are released so another process can continue the runs at once."""
        self._stopping = True
        for task in self._loops:
            task.cancel()
        drivers = list(self._drivers.values())
        for task in drivers:
            task.cancel()
        await asyncio.gather(*self._loops, *drivers, return_exceptions=True)
        self._loops = []

    # --- commands -------------------------------------------------------------------------------

    def submit(self, run_id: str, *, steal_from: str | None = None) -> None:
        """Drive `run_id` in this process. If a driver is still winding down (it just paused the run, say),
        the run is looked at again as soon as that driver ends, so a quick resume is never missed."""
        if run_id in self._drivers:
            self._again.add(run_id)
            return
        task = asyncio.create_task(self._drive(run_id, steal_from), name=f"run {run_id}")
        self._drivers[run_id] = task
        task.add_done_callback(lambda done: self._forget(run_id, done))

    def _forget(self, run_id: str, task: asyncio.Task[None]) -> None:
        """Drop a finished driver, even one cancelled before it ever ran (its own clean-up never happened)."""
        if self._drivers.get(run_id) is task:
            del self._drivers[run_id]
            self._held.discard(run_id)

    def is_driving(self, run_id: str) -> bool:
        return run_id in self._drivers

    async def wait(self, run_id: str, *, timeout: float | None = None) -> RunRecord | None:
        """Wait until this process stops driving `run_id` (it ended, paused or moved), then read it."""

        async def drivers_done() -> None:
            while (task := self._drivers.get(run_id)) is not None:
                await asyncio.shield(task)

        await asyncio.wait_for(drivers_done(), timeout)
        return await self.store.get_run(run_id)

    async def cancel(self, run_id: str) -> RunRecord:
        """Cancel a run: at once when nobody drives it, else its driver stops its nodes and records it."""
        record = await self.store.request_cancel(run_id, now=self._now())
        task = self._drivers.get(run_id)
        if task is not None and run_id in self._held:
            # Only a driver that holds the lease is stopped here. One that has not taken it yet finds the run
            # cancelled (or flagged, which `_execute` honours) and ends by itself: cancelling a task that never
            # started would skip its clean-up.
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
        found = await recovery.orphans(self.store, self.owner, driving=self._drivers, now=self._now())
        for orphan in found:
            self.submit(orphan.run_id, steal_from=orphan.steal_from)
        return len(found)

    async def sweep_deadlines(self) -> int:
        """Decide the approvals whose deadline passed, by their node's policy. Returns how many were decided."""
        return len(await deadlines.sweep(self.store, self.decide, now=self._now()))

    async def _renew(self) -> None:
        check = await leases.renew(self.store, self.owner, set(self._held), until=self._now() + self.lease)
        for run_id in check.lost:
            log.warning("lost the lease of run %s; another process continues it", run_id)
            task = self._drivers.get(run_id)
            if task is not None:
                task.cancel()
        for run_id in check.cancel_requested:
            task = self._drivers.get(run_id)
            if task is not None and run_id not in self._cancelling:
                self._cancelling.add(run_id)
                task.cancel()

    # --- driving a run --------------------------------------------------------------------------

    async def _drive(self, run_id: str, steal_from: str | None) -> None:
        try:
            now = self._now()
            if not await self.store.acquire_lease(
                run_id, self.owner, until=now + self.lease, now=now, steal_from=steal_from
            ):
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
            self._tokens.pop(run_id, None)
            self._drivers.pop(run_id, None)
            if run_id in self._again and not self._stopping:
                self._again.discard(run_id)
                self.submit(run_id)
            self._again.discard(run_id)

    async def _fail_run_quietly(self, run_id: str, error: str) -> None:
        with contextlib.suppress(Exception):
            await self.store.finish_run(
                run_id, self.owner, status=RunStatus.FAILED, output=None, error=error, now=self._now()
            )
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
            await self.store.finish_run(
                run_id, self.owner, status=RunStatus.CANCELLED, output=None, error="cancelled", now=now
            )
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
        prepared = await self._plan_for(run)
        if isinstance(prepared, str):
            await self._end(run, RunStatus.FAILED, error=prepared)
            return
        plan, agents = prepared
        stored = await self.store.get_node_runs(run_id)
        state = RunState(plan, stored)
        self._tokens[run_id] = sum(total_tokens(n.usage) for n in stored)

        await self.store.start_run(run_id, self.owner, now=self._now())
        run.status = RunStatus.RUNNING
        self._publish(run, RunStatus.RUNNING.value)
        await self._loop(run, plan, agents, state)

    async def _plan_for(self, run: RunRecord) -> tuple[Plan, dict[str, AgentKind]] | str:
        """The validated plan of the run's workflow version and its configured agents, or why it cannot run.

        A version's definition never changes, so it is read and parsed once per process; the plan is
        rebuilt only when the saved agents it uses have changed since.
        """
        version = (run.workflow_id, run.workflow_version)
        definition = self._definitions.get(version)
        if definition is None:
            definition = await self.store.get_definition(*version)
            if definition is None:
                return f"workflow version {run.workflow_version} is missing"
            self._definitions[version] = definition
            if len(self._definitions) > PLAN_CACHE_SIZE:
                self._definitions.pop(next(iter(self._definitions)))
        agents_by_id = await self.store.get_agents({n.agent_id for n in definition.nodes})
        fingerprint = agents_fingerprint(agents_by_id)
        cached = self._plans.get(version)
        if cached is not None and cached[0] == fingerprint:
            return cached[1], cached[2]
        problems = validate(definition, agents_by_id, self.kinds)
        if problems:
            return str(WorkflowInvalid(problems))
        plan = Plan.of(definition)
        agents: dict[str, AgentKind] = {}
        for key, node in plan.nodes.items():
            saved = agents_by_id[node.agent_id]
            agents[key] = build(self.kinds, saved.kind, effective_config(node, saved))
        self._plans[version] = (fingerprint, plan, agents)
        if len(self._plans) > PLAN_CACHE_SIZE:
            self._plans.pop(next(iter(self._plans)))
        return plan, agents

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
        """Schedule until nothing can run. Each round's writes (results in, starts out) are one transaction."""
        render_condition = self._condition_renderer(run, state)
        running: dict[asyncio.Task[Outcome], str] = {}
        writes = _Writes()
        failure: str | None = next(
            (
                f"step '{k}' failed: {state.errors.get(k, 'failed')}"
                for k, s in state.status.items()
                if s is NodeStatus.FAILED
            ),
            None,
        )
        if run.until is not None:
            self._skip_beyond(run, plan, state, writes)
        try:
            while failure is None:
                with mapping.metered():  # the conditions checked in one round share one template budget
                    step = state.advance(render_condition)
                now = self._now()
                for key in step.skipped:
                    writes.add(_skipped(run, plan, key, now))
                for key, error in step.failed.items():
                    writes.add(
                        NodeRunRecord(run.id, key, NodeStatus.FAILED, error=error, started_at=now, finished_at=now)
                    )
                    failure = failure or f"step '{key}' failed: {error}"
                starting: list[tuple[str, NodeRunRecord, dict[str, Any]]] = []
                for key in step.ready:
                    if failure is not None or len(running) + len(starting) >= self.run_concurrency:
                        state.requeue(key)
                        continue
                    record, context = self._prepare(run, plan, state, key, now)
                    state.settle(key, record.status)
                    writes.add(record)
                    if record.status is NodeStatus.FAILED:
                        failure = f"step '{key}' failed: {record.error}"
                    elif record.status is NodeStatus.RUNNING:
                        starting.append((key, record, context))
                await self._flush(run, writes)
                if failure is not None:
                    break
                for key, record, context in starting:
                    task = asyncio.create_task(self._run_node(run, plan, state, agents[key], key, record, context))
                    running[task] = key
                if not running:
                    if state.has_candidates:  # steps ended without a task (skipped, turned off): go on after them
                        continue
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    key = running.pop(task)
                    outcome = task.result()
                    writes.add(outcome.record, outcome.approval)
                    if outcome.record.status is NodeStatus.COMPLETED:
                        state.outputs[key] = outcome.record.output
                        state.handles[key] = outcome.record.handles
                    elif outcome.record.status is NodeStatus.FAILED and failure is None:
                        failure = f"step '{key}' failed: {outcome.record.error}"
                    state.settle(key, outcome.record.status)
        finally:
            if running:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
        if failure is not None:
            now = self._now()
            for key in running.values():
                writes.add(NodeRunRecord(run.id, key, NodeStatus.CANCELLED, finished_at=now))
        await self._flush(run, writes)
        if failure is not None:
            await self._end(run, RunStatus.FAILED, error=failure)
        elif state.count(NodeStatus.WAITING_APPROVAL):
            await self._end(run, RunStatus.PAUSED)
        else:
            await self._end(run, RunStatus.COMPLETED, output=state.final_output(run.until))

    def _skip_beyond(self, run: RunRecord, plan: Plan, state: RunState, writes: _Writes) -> None:
        """“Run up to here”: every step that the run's `until` step does not depend on is skipped."""
        wanted, now = plan.upstream(run.until) if run.until in plan.nodes else frozenset(), self._now()
        for key in plan.order:
            if key not in wanted and state.status[key] is NodeStatus.PENDING:
                state.settle(key, NodeStatus.SKIPPED)
                writes.add(_skipped(run, plan, key, now))

    def _prepare(
        self, run: RunRecord, plan: Plan, state: RunState, key: str, now: datetime
    ) -> tuple[NodeRunRecord, dict[str, Any]]:
        """The RUNNING record of a node about to start (or FAILED, when its input mapping fails) and its context."""
        node = plan.nodes[key]
        with mapping.metered():  # the conditions of the edges into the step share one template budget
            node_input = state.input_for(key, run.input, self._condition_renderer(run, state))
        context = mapping.build_context(
            input=node_input,
            payload=run.input,
            outputs=state.outputs,
            run_id=run.id,
            session_id=run.session_id,
            workflow_id=run.workflow_id,
        )
        if key not in state.started:  # a step a decision sent back to work goes on in the same attempt
            state.attempts[key] += 1
        record = NodeRunRecord(
            run.id,
            key,
            NodeStatus.RUNNING,
            attempt=state.attempts[key],
            input=node_input,
            started_at=state.started.pop(key, now),
            step_order=node.step_order if node.step_order is not None else plan.position(key),
            usage=state.usage.pop(key, None),
        )
        if node.disabled:  # no mapping, no work, no approval: what came in goes on
            record.status, record.output, record.finished_at = NodeStatus.COMPLETED, node_input, now
            state.outputs[key], state.handles[key] = node_input, None
            return record, context
        if node.input_mapping is not None:
            try:
                context["input"] = record.input = mapping.render_value(node.input_mapping, context, node=key)
            except MappingError as exc:
                record.status, record.error, record.finished_at = NodeStatus.FAILED, f"input mapping: {exc}", now
        return record, context

    async def _flush(self, run: RunRecord, writes: _Writes) -> None:
        if not writes.nodes:
            return
        nodes, approvals = writes.take()
        await self.store.save_nodes(self.owner, nodes, approvals=approvals, now=self._now())
        by_node = {a.node_key: a.id for a in approvals}
        for node in nodes:
            data = {"approval": by_node[node.node_key]} if node.node_key in by_node else {}
            self._publish(run, node.status.value, node_key=node.node_key, data=data)

    async def _end(self, run: RunRecord, status: RunStatus, *, output: Any = None, error: str | None = None) -> None:
        await self.store.finish_run(run.id, self.owner, status=status, output=output, error=error, now=self._now())
        run.status = status
        self._held.discard(run.id)
        data: dict[str, Any] = {"error": error} if error else {}
        self._publish(run, status.value, data=data)

    def _publish(
        self, run: RunRecord, status: str, *, node_key: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        self.bus.publish(Event(run.id, run.workflow_id, status, self._now(), node_key, data or {}))


def _skipped(run: RunRecord, plan: Plan, key: str, now: datetime) -> NodeRunRecord:
    """A step that will not run in this run, in its place among the others."""
    order = plan.nodes[key].step_order
    return NodeRunRecord(
        run.id, key, NodeStatus.SKIPPED, finished_at=now, step_order=order if order is not None else plan.position(key)
    )
