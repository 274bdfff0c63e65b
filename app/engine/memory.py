"""An in-memory `RunStore`: for unit tests and for measuring the engine without a database.

It keeps the same contract as the SQL store (the contract suite runs against both), including
lease fencing, so tests that use it exercise the real engine semantics.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from app.engine.exceptions import Conflict, LeaseLost, NotFound
from app.engine.model import (
    AgentStep,
    AgentStepStatus,
    Approval,
    ApprovalStatus,
    CallbackDelivery,
    CallbackState,
    NodeRunRecord,
    NodeStatus,
    RunRecord,
    RunStatus,
    WorkflowDefinition,
)
from app.engine.store import AgentRecord, LeaseInfo, LeaseRenewal

__all__ = ["InMemoryRunStore"]

_DRIVABLE = (RunStatus.QUEUED, RunStatus.RUNNING)


class InMemoryRunStore:
    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self.leases: dict[str, tuple[str, datetime]] = {}
        self.nodes: dict[str, dict[str, NodeRunRecord]] = {}
        self.approvals: dict[str, list[Approval]] = {}
        self.agent_steps: dict[tuple[str, str, int], AgentStep] = {}
        self.definitions: dict[tuple[str, int], WorkflowDefinition] = {}
        self.agents: dict[str, AgentRecord] = {}
        self.callback_claims: dict[str, tuple[str, datetime]] = {}
        self.deliveries: dict[str, list[CallbackDelivery]] = {}

    # --- set-up helpers (not part of the protocol) ---------------------------------------------------
    def put_definition(self, workflow_id: str, version: int, definition: WorkflowDefinition) -> None:
        self.definitions[(workflow_id, version)] = definition.model_copy(deep=True)

    def put_agent(self, agent: AgentRecord) -> None:
        self.agents[agent.id] = agent

    # --- reading ---------------------------------------------------------------------------------
    async def get_run(self, run_id: str) -> RunRecord | None:
        run = self.runs.get(run_id)
        return copy.deepcopy(run) if run else None

    async def get_definition(self, workflow_id: str, version: int) -> WorkflowDefinition | None:
        definition = self.definitions.get((workflow_id, version))
        return definition.model_copy(deep=True) if definition else None

    async def get_agents(self, agent_ids: Collection[str]) -> dict[str, AgentRecord]:
        return {i: self.agents[i] for i in agent_ids if i in self.agents}

    async def get_node_runs(self, run_id: str) -> list[NodeRunRecord]:
        """In step order (no step order counts as 0), then by key: the order every store returns."""
        nodes = sorted(self.nodes.get(run_id, {}).values(), key=lambda n: (n.step_order or 0, n.node_key))
        return [copy.deepcopy(n) for n in nodes]

    async def get_approvals(self, run_id: str) -> list[Approval]:
        return [copy.deepcopy(a) for a in self.approvals.get(run_id, [])]

    async def get_agent_steps(self, run_id: str, node_key: str | None = None) -> list[AgentStep]:
        steps = [
            step
            for (run, key, _), step in self.agent_steps.items()
            if run == run_id and (node_key is None or key == node_key)
        ]
        return [copy.deepcopy(s) for s in sorted(steps, key=lambda s: (s.node_key, s.seq))]

    async def due_approvals(self, *, now: datetime, limit: int) -> list[Approval]:
        due = [
            a
            for run_approvals in self.approvals.values()
            for a in run_approvals
            if a.status == ApprovalStatus.PENDING
            and a.on_deadline != "wait"
            and a.deadline_at is not None
            and a.deadline_at <= now
        ]
        due.sort(key=lambda a: (a.deadline_at or now, a.id))
        return [copy.deepcopy(a) for a in due[:limit]]

    # --- creating and commanding ------------------------------------------------------------------
    async def create_run(self, run: RunRecord) -> None:
        if run.id in self.runs:
            raise Conflict(f"run '{run.id}' exists already")
        self.runs[run.id] = replace(copy.deepcopy(run), updated_at=run.updated_at or run.created_at)

    def _run(self, run_id: str) -> RunRecord:
        run = self.runs.get(run_id)
        if run is None:
            raise NotFound("run", run_id)
        return run

    async def decide_approval(
        self,
        run_id: str,
        node_key: str | None,
        *,
        approved: bool,
        output: Any,
        decided_by: str | None,
        reason: str | None,
        now: datetime,
    ) -> Approval:
        run = self._run(run_id)
        if run.status is not RunStatus.PAUSED:
            raise Conflict(f"run '{run_id}' is {run.status.value}, not PAUSED")
        pending = [a for a in self.approvals.get(run_id, []) if a.status == ApprovalStatus.PENDING]
        if node_key is not None:
            pending = [a for a in pending if a.node_key == node_key]
        if not pending:
            where = f" at step '{node_key}'" if node_key else ""
            raise Conflict(f"run '{run_id}' has no pending approval{where}")
        nodes = self.nodes[run_id]
        pending.sort(key=lambda a: (nodes[a.node_key].step_order or 0, a.created_at or now))
        approval = pending[0]
        node = nodes[approval.node_key]
        approval.decided_by, approval.decided_at, approval.reason = decided_by, now, reason
        node.finished_at = now
        if approved:
            approval.status, approval.output = ApprovalStatus.APPROVED, output
            node.status, node.output = NodeStatus.COMPLETED, output
        else:
            approval.status = ApprovalStatus.REJECTED
            node.status, node.error = NodeStatus.FAILED, f"rejected: {reason or 'no reason given'}"
        if approval.resumes:  # the step runs again and reads the decision
            node.status, node.output, node.error, node.finished_at = NodeStatus.PENDING, None, None, None
        run.status, run.updated_at = RunStatus.QUEUED, now
        return copy.deepcopy(approval)

    async def request_cancel(self, run_id: str, *, now: datetime) -> RunRecord:
        run = self._run(run_id)
        if run.status.is_terminal:
            raise Conflict(f"run '{run_id}' has already ended ({run.status.value})")
        lease = self.leases.get(run_id)
        if lease is None or lease[1] <= now or run.status is RunStatus.PAUSED:
            for node in self.nodes.get(run_id, {}).values():
                if not node.status.is_terminal:
                    node.status, node.finished_at = NodeStatus.CANCELLED, now
            for approval in self.approvals.get(run_id, []):
                if approval.status == ApprovalStatus.PENDING:
                    approval.status, approval.decided_at = ApprovalStatus.CANCELLED, now
            run.status, run.error, run.updated_at, run.finished_at = RunStatus.CANCELLED, "cancelled", now, now
            self.leases.pop(run_id, None)
            self._callback_due(run, now)
        else:
            run.cancel_requested = True
        return copy.deepcopy(run)

    async def reset_for_rerun(self, run_id: str, *, now: datetime) -> RunRecord:
        run = self._run(run_id)
        if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
            raise Conflict(
                "only a FAILED or CANCELLED run can be re-run from where it stopped;"
                f" run '{run_id}' is {run.status.value}"
            )
        nodes = self.nodes.setdefault(run_id, {})
        for key in [k for k, n in nodes.items() if n.status is not NodeStatus.COMPLETED]:
            del nodes[key]
            for entry in [e for e in self.agent_steps if e[0] == run_id and e[1] == key]:
                del self.agent_steps[entry]
        run.status, run.error, run.output, run.finished_at, run.updated_at = RunStatus.QUEUED, None, None, None, now
        run.cancel_requested = False
        run.callback_state, run.callback_attempts, run.callback_due_at = None, 0, None
        self.callback_claims.pop(run_id, None)
        return copy.deepcopy(run)

    # --- leases ----------------------------------------------------------------------------------
    async def acquire_lease(
        self, run_id: str, owner: str, *, until: datetime, now: datetime, steal_from: str | None = None
    ) -> bool:
        run = self.runs.get(run_id)
        if run is None or run.status not in _DRIVABLE:
            return False
        lease = self.leases.get(run_id)
        if lease is not None and lease[1] > now and lease[0] not in (owner, steal_from):
            return False
        self.leases[run_id] = (owner, until)
        return True

    async def renew_leases(self, owner: str, *, until: datetime) -> LeaseRenewal:
        held: set[str] = set()
        cancel: set[str] = set()
        for run_id, (holder, _) in list(self.leases.items()):
            if holder == owner and self.runs[run_id].status in _DRIVABLE:
                self.leases[run_id] = (owner, until)
                held.add(run_id)
                if self.runs[run_id].cancel_requested:
                    cancel.add(run_id)
        return LeaseRenewal(held, cancel)

    async def release_lease(self, run_id: str, owner: str) -> None:
        lease = self.leases.get(run_id)
        if lease is not None and lease[0] == owner:
            del self.leases[run_id]

    async def runs_to_drive(self, *, limit: int) -> list[LeaseInfo]:
        runs = sorted((r for r in self.runs.values() if r.status in _DRIVABLE), key=lambda r: r.created_at or 0)
        infos = []
        for run in runs[:limit]:
            owner, expires = self.leases.get(run.id, (None, None))
            infos.append(LeaseInfo(run.id, owner, expires))
        return infos

    # --- progress -------------------------------------------------------------------------------
    def _fence(self, run_id: str, owner: str) -> RunRecord:
        lease = self.leases.get(run_id)
        if lease is None or lease[0] != owner:
            raise LeaseLost(run_id)
        return self.runs[run_id]

    async def start_run(self, run_id: str, owner: str, *, now: datetime) -> None:
        run = self._fence(run_id, owner)
        run.status, run.updated_at = RunStatus.RUNNING, now
        run.started_at = run.started_at or now

    async def save_node(self, owner: str, node: NodeRunRecord, *, now: datetime) -> None:
        run = self._fence(node.run_id, owner)
        # The run is touched before the node is looked at, as the SQL store's fencing update does.
        run.updated_at = now
        if node.step_order is not None and node.status is not NodeStatus.SKIPPED:
            run.current_step_order = node.step_order
        nodes = self.nodes.setdefault(node.run_id, {})
        existing = nodes.get(node.node_key)
        if existing is None or existing.status is not NodeStatus.COMPLETED:
            nodes[node.node_key] = copy.deepcopy(node)

    async def save_agent_steps(self, owner: str, steps: Sequence[AgentStep], *, now: datetime) -> None:
        for step in steps:
            self._fence(step.run_id, owner)
        for step in steps:
            key = (step.run_id, step.node_key, step.seq)
            existing = self.agent_steps.get(key)
            if existing is None or existing.status is not AgentStepStatus.COMPLETED:
                self.agent_steps[key] = copy.deepcopy(step)

    async def save_waiting_node(self, owner: str, node: NodeRunRecord, approval: Approval, *, now: datetime) -> None:
        await self.save_nodes(owner, [node], approvals=[approval], now=now)

    async def save_nodes(
        self, owner: str, nodes: Sequence[NodeRunRecord], *, approvals: Sequence[Approval] = (), now: datetime
    ) -> None:
        for node in nodes:
            self._fence(node.run_id, owner)
        for approval in approvals:
            self._fence(approval.run_id, owner)
        for node in nodes:
            await self.save_node(owner, node, now=now)
        for approval in approvals:
            self.runs[approval.run_id].updated_at = now
            self.approvals.setdefault(approval.run_id, []).append(
                replace(approval, created_at=approval.created_at or now)
            )

    async def finish_run(
        self, run_id: str, owner: str, *, status: RunStatus, output: Any, error: str | None, now: datetime
    ) -> None:
        run = self._fence(run_id, owner)
        run.status, run.output, run.error, run.updated_at = status, copy.deepcopy(output), error, now
        if status.is_terminal:
            run.finished_at = now
            self._callback_due(run, now)
        self.leases.pop(run_id, None)

    # --- callbacks --------------------------------------------------------------------------------
    def _callback_due(self, run: RunRecord, now: datetime) -> None:
        if run.callback_url:
            run.callback_state, run.callback_attempts, run.callback_due_at = CallbackState.PENDING, 0, now
            self.callback_claims.pop(run.id, None)

    async def claim_callbacks(self, owner: str, *, now: datetime, until: datetime, limit: int) -> list[RunRecord]:
        due = sorted(
            (
                r
                for r in self.runs.values()
                if r.callback_state is CallbackState.PENDING and r.callback_due_at and r.callback_due_at <= now
            ),
            key=lambda r: (r.callback_due_at or now, r.id),
        )
        claimed: list[RunRecord] = []
        for run in due:
            if len(claimed) >= limit:
                break
            claim = self.callback_claims.get(run.id)
            if claim is not None and claim[1] > now:
                continue
            self.callback_claims[run.id] = (owner, until)
            claimed.append(copy.deepcopy(run))
        return claimed

    async def record_callback_attempt(
        self, owner: str, delivery: CallbackDelivery, *, state: CallbackState, next_due_at: datetime | None
    ) -> bool:
        run = self.runs.get(delivery.run_id)
        if run is None:
            return False
        self.deliveries.setdefault(run.id, []).append(copy.deepcopy(delivery))
        claim = self.callback_claims.get(run.id)
        if claim is None or claim[0] != owner:
            return False
        del self.callback_claims[run.id]
        run.callback_state, run.callback_attempts, run.callback_due_at = state, delivery.attempt, next_due_at
        return True

    async def release_callback(self, run_id: str, owner: str) -> None:
        claim = self.callback_claims.get(run_id)
        if claim is not None and claim[0] == owner:
            del self.callback_claims[run_id]

    async def get_callback_deliveries(self, run_id: str) -> list[CallbackDelivery]:
        return [copy.deepcopy(d) for d in self.deliveries.get(run_id, [])]
