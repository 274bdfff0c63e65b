"""The run store on SQL: satisfies the engine's `RunStore` protocol for SQLite and PostgreSQL.

Written with SQLAlchemy Core on the hot path (one node step is two short transactions), and
without importing the engine's protocol: the engine's plain records are the shared vocabulary.
Every write that advances a run first touches the run row *where this owner holds the lease*,
in the same transaction, so a process that lost its lease cannot write over its successor.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.engine.exceptions import Conflict, LeaseLost, NotFound
from app.engine.model import (
    AgentStep,
    AgentStepStatus,
    Approval,
    ApprovalStatus,
    NodeRunRecord,
    NodeStatus,
    RunRecord,
    RunStatus,
    WorkflowDefinition,
)
from app.engine.store import AgentRecord, LeaseInfo, LeaseRenewal
from storage.callback_store import CallbackRows
from storage.db import Database
from storage.models import agent_steps, approvals, node_runs, runs, versions
from storage.run_rows import (
    DRIVABLE,
    Statements,
    callback_due_values,
    definition_from_json,
    row_to_agent_step,
    row_to_approval,
    row_to_node_run,
    row_to_run,
    sqlite_save_nodes,
    sum_run_tokens,
)

__all__ = ["SqlRunStore"]


class SqlRunStore(CallbackRows):
    """The engine's `RunStore` on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine
        dialect = self.engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._sql = Statements(self._insert)
        self._sqlite = dialect == "sqlite"
        upsert = self._insert(agent_steps)
        columns = [c.name for c in agent_steps.columns if c.name not in ("run_id", "node_key", "seq")]
        self._upsert_agent_step = upsert.on_conflict_do_update(
            index_elements=[agent_steps.c.run_id, agent_steps.c.node_key, agent_steps.c.seq],
            set_={name: upsert.excluded[name] for name in columns},
            where=agent_steps.c.status != AgentStepStatus.COMPLETED.value,
        )

    # --- reading -------------------------------------------------------------------------------
    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self.db.run(self._get_run, run_id)

    def _get_run(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._sql.get_run, {"b_run_id": run_id}).first()
        return row_to_run(row) if row else None

    async def get_definition(self, workflow_id: str, version: int) -> WorkflowDefinition | None:
        return await self.db.run(self._get_definition, workflow_id, version)

    def _get_definition(self, workflow_id: str, version: int) -> WorkflowDefinition | None:
        with self.engine.connect() as conn:
            data = conn.execute(
                sa.select(versions.c.definition).where(
                    versions.c.workflow_id == workflow_id, versions.c.version == version
                )
            ).scalar()
        return definition_from_json(data) if data is not None else None

    async def get_agents(self, agent_ids: Collection[str]) -> dict[str, AgentRecord]:
        return await self.db.run(self._get_agents, list(agent_ids))

    def _get_agents(self, agent_ids: Sequence[str]) -> dict[str, AgentRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._sql.get_agents, {"b_ids": list(agent_ids)}).all()
        return {r.id: AgentRecord(r.id, r.kind, r.name, r.config or {}, r.description) for r in rows}

    async def get_node_runs(self, run_id: str) -> list[NodeRunRecord]:
        return await self.db.run(self._get_node_runs, run_id)

    def _get_node_runs(self, run_id: str) -> list[NodeRunRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._sql.get_node_runs, {"b_run_id": run_id}).all()
        return [row_to_node_run(r) for r in rows]

    async def get_approvals(self, run_id: str) -> list[Approval]:
        return await self.db.run(self._get_approvals, run_id)

    def _get_approvals(self, run_id: str) -> list[Approval]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(approvals).where(approvals.c.run_id == run_id).order_by(approvals.c.created_at)
            ).all()
        return [row_to_approval(r) for r in rows]

    async def get_agent_steps(self, run_id: str, node_key: str | None = None) -> list[AgentStep]:
        return await self.db.run(self._get_agent_steps, run_id, node_key)

    def _get_agent_steps(self, run_id: str, node_key: str | None) -> list[AgentStep]:
        query = sa.select(agent_steps).where(agent_steps.c.run_id == run_id)
        if node_key is not None:
            query = query.where(agent_steps.c.node_key == node_key)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(agent_steps.c.node_key, agent_steps.c.seq)).all()
        return [row_to_agent_step(r) for r in rows]

    async def due_approvals(self, *, now: datetime, limit: int) -> list[Approval]:
        return await self.db.run(self._due_approvals, now, limit)

    def _due_approvals(self, now: datetime, limit: int) -> list[Approval]:
        at = sa.literal(now, approvals.c.deadline_at.type)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(approvals)
                .where(
                    approvals.c.status == ApprovalStatus.PENDING.value,
                    approvals.c.deadline_at <= at,
                    approvals.c.on_deadline.in_(["approve", "reject"]),
                )
                .order_by(approvals.c.deadline_at, approvals.c.id)
                .limit(limit)
            ).all()
        return [row_to_approval(r) for r in rows]

    # --- creating and commanding ---------------------------------------------------------------
    async def create_run(self, run: RunRecord) -> None:
        await self.db.run(self._create_run, run)

    def _create_run(self, run: RunRecord) -> None:
        # Every field of the record is stored, so `get_run` returns what was created (as in memory). Only a
        # clash on the id is a Conflict: any other integrity error (a missing created_at) is a bug to surface.
        statement = (
            self._insert(runs)
            .values(
                id=run.id,
                workflow_id=run.workflow_id,
                workflow_version=run.workflow_version,
                session_id=run.session_id,
                trigger=run.trigger.value,
                started_by=run.started_by,
                status=run.status.value,
                input=run.input,
                output=run.output,
                error=run.error,
                current_step_order=run.current_step_order,
                callback_url=run.callback_url,
                created_at=run.created_at,
                updated_at=run.updated_at or run.created_at,
                started_at=run.started_at,
                finished_at=run.finished_at,
                cancel_requested=run.cancel_requested,
                callback_state=run.callback_state.value if run.callback_state else None,
                callback_attempts=run.callback_attempts,
                callback_due_at=run.callback_due_at,
                parent_run_id=run.parent_run_id,
                parent_node_key=run.parent_node_key,
                chain=list(run.chain) or None,
                until_node=run.until,
            )
            .on_conflict_do_nothing(index_elements=[runs.c.id])
            .returning(runs.c.id)
        )
        with self.engine.begin() as conn:
            if conn.execute(statement).first() is None:
                raise Conflict(f"run '{run.id}' exists already")

    def _locked_run(self, conn: sa.Connection, run_id: str) -> Any:
        query = sa.select(runs).where(runs.c.id == run_id)
        if self.engine.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound("run", run_id)
        return row

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
        return await self.db.run(self._decide, run_id, node_key, approved, output, decided_by, reason, now)

    def _decide(
        self,
        run_id: str,
        node_key: str | None,
        approved: bool,
        output: Any,
        decided_by: str | None,
        reason: str | None,
        now: datetime,
    ) -> Approval:
        with self.engine.begin() as conn:
            run = self._locked_run(conn, run_id)
            if run.status != RunStatus.PAUSED.value:
                raise Conflict(f"run '{run_id}' is {run.status}, not PAUSED")
            # A node without a step order counts as step 0 everywhere: SQLite sorts NULL first, PostgreSQL last.
            query = (
                sa.select(approvals, node_runs.c.step_order)
                .join(
                    node_runs,
                    sa.and_(node_runs.c.run_id == approvals.c.run_id, node_runs.c.node_key == approvals.c.node_key),
                )
                .where(approvals.c.run_id == run_id, approvals.c.status == ApprovalStatus.PENDING.value)
                .order_by(sa.func.coalesce(node_runs.c.step_order, 0), approvals.c.created_at)
            )
            if node_key is not None:
                query = query.where(approvals.c.node_key == node_key)
            pending = conn.execute(query).first()
            if pending is None:
                where = f" at step '{node_key}'" if node_key else ""
                raise Conflict(f"run '{run_id}' has no pending approval{where}")
            claimed = conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == RunStatus.PAUSED.value)
                .values(status=RunStatus.QUEUED.value, updated_at=now)
            ).rowcount
            if claimed != 1:
                raise Conflict(f"run '{run_id}' was decided by someone else just now")
            if approved:
                decision = {"status": ApprovalStatus.APPROVED.value, "output": output}
                node_values = {"status": NodeStatus.COMPLETED.value, "output": output, "finished_at": now}
            else:
                decision = {"status": ApprovalStatus.REJECTED.value, "output": None}
                error = f"rejected: {reason or 'no reason given'}"
                node_values = {"status": NodeStatus.FAILED.value, "error": error, "finished_at": now}
            if (pending.extra or {}).get("resume"):  # the step runs again and reads the decision
                node_values = {"status": NodeStatus.PENDING.value, "output": None, "error": None, "finished_at": None}
            conn.execute(
                approvals.update()
                .where(approvals.c.id == pending.id)
                .values(decided_by=decided_by, decided_at=now, reason=reason, **decision)
            )
            conn.execute(
                node_runs.update()
                .where(node_runs.c.run_id == run_id, node_runs.c.node_key == pending.node_key)
                .values(**node_values)
            )
            row = conn.execute(sa.select(approvals).where(approvals.c.id == pending.id)).one()
        return row_to_approval(row)

    async def request_cancel(self, run_id: str, *, now: datetime) -> RunRecord:
        return await self.db.run(self._request_cancel, run_id, now)

    def _request_cancel(self, run_id: str, now: datetime) -> RunRecord:
        with self.engine.begin() as conn:
            run = self._locked_run(conn, run_id)
            if RunStatus(run.status).is_terminal:
                raise Conflict(f"run '{run_id}' has already ended ({run.status})")
            free = run.lease_owner is None or run.lease_expires_at is None or run.lease_expires_at <= now
            if free or run.status == RunStatus.PAUSED.value:
                done = conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id, runs.c.status == run.status)
                    .values(
                        status=RunStatus.CANCELLED.value,
                        error="cancelled",
                        updated_at=now,
                        finished_at=now,
                        lease_owner=None,
                        lease_expires_at=None,
                        **callback_due_values(now),
                    )
                ).rowcount
                if done != 1:
                    raise Conflict(f"run '{run_id}' changed while cancelling; try again")
                conn.execute(
                    node_runs.update()
                    .where(
                        node_runs.c.run_id == run_id,
                        node_runs.c.status.in_(
                            [NodeStatus.PENDING.value, NodeStatus.RUNNING.value, NodeStatus.WAITING_APPROVAL.value]
                        ),
                    )
                    .values(status=NodeStatus.CANCELLED.value, finished_at=now)
                )
                conn.execute(
                    approvals.update()
                    .where(approvals.c.run_id == run_id, approvals.c.status == ApprovalStatus.PENDING.value)
                    .values(status=ApprovalStatus.CANCELLED.value, decided_at=now)
                )
            else:
                conn.execute(runs.update().where(runs.c.id == run_id).values(cancel_requested=True))
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()
        return row_to_run(row)

    async def reset_for_rerun(self, run_id: str, *, now: datetime) -> RunRecord:
        return await self.db.run(self._reset_for_rerun, run_id, now)

    def _reset_for_rerun(self, run_id: str, now: datetime) -> RunRecord:
        with self.engine.begin() as conn:
            run = self._locked_run(conn, run_id)
            if run.status not in (RunStatus.FAILED.value, RunStatus.CANCELLED.value):
                raise Conflict(
                    "only a FAILED or CANCELLED run can be re-run from where it stopped;"
                    f" run '{run_id}' is {run.status}"
                )
            done = conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == run.status)
                .values(
                    status=RunStatus.QUEUED.value,
                    error=None,
                    output=None,
                    finished_at=None,
                    updated_at=now,
                    cancel_requested=False,
                    callback_state=None,
                    callback_attempts=0,
                    callback_due_at=None,
                    callback_claimed_by=None,
                    callback_claim_expires_at=None,
                )
            ).rowcount
            if done != 1:
                raise Conflict(f"run '{run_id}' changed meanwhile; try again")
            unfinished = sa.select(node_runs.c.node_key).where(
                node_runs.c.run_id == run_id, node_runs.c.status != NodeStatus.COMPLETED.value
            )
            conn.execute(
                agent_steps.delete().where(agent_steps.c.run_id == run_id, agent_steps.c.node_key.in_(unfinished))
            )
            conn.execute(
                node_runs.delete().where(node_runs.c.run_id == run_id, node_runs.c.status != NodeStatus.COMPLETED.value)
            )
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()
        return row_to_run(row)

    # --- leases ---------------------------------------------------------------------------------
    async def acquire_lease(
        self, run_id: str, owner: str, *, until: datetime, now: datetime, steal_from: str | None = None
    ) -> bool:
        return await self.db.run(self._acquire, run_id, owner, until, now, steal_from)

    def _acquire(self, run_id: str, owner: str, until: datetime, now: datetime, steal_from: str | None) -> bool:
        params = {"b_run_id": run_id, "b_owner": owner, "b_until": until, "b_now": now, "b_steal": steal_from or owner}
        with self.engine.begin() as conn:
            count = conn.execute(self._sql.acquire, params).rowcount
        return count == 1

    async def renew_leases(self, owner: str, *, until: datetime) -> LeaseRenewal:
        return await self.db.run(self._renew, owner, until)

    def _renew(self, owner: str, until: datetime) -> LeaseRenewal:
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.lease_owner == owner, runs.c.status.in_(DRIVABLE))
                .values(lease_expires_at=until)
            )
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.cancel_requested).where(
                    runs.c.lease_owner == owner, runs.c.status.in_(DRIVABLE)
                )
            ).all()
        return LeaseRenewal({r.id for r in rows}, {r.id for r in rows if r.cancel_requested})

    async def release_lease(self, run_id: str, owner: str) -> None:
        await self.db.run(self._release, run_id, owner)

    def _release(self, run_id: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    async def runs_to_drive(self, *, limit: int) -> list[LeaseInfo]:
        return await self.db.run(self._runs_to_drive, limit)

    def _runs_to_drive(self, limit: int) -> list[LeaseInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.lease_owner, runs.c.lease_expires_at)
                .where(runs.c.status.in_(DRIVABLE))
                .order_by(runs.c.created_at)
                .limit(limit)
            ).all()
        return [LeaseInfo(r.id, r.lease_owner, r.lease_expires_at) for r in rows]

    # --- progress (fenced) --------------------------------------------------------------------------
    async def start_run(self, run_id: str, owner: str, *, now: datetime) -> None:
        await self.db.run(self._start_run, run_id, owner, now)

    def _start_run(self, run_id: str, owner: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            if conn.execute(self._sql.start_run, {"b_run_id": run_id, "b_owner": owner, "b_now": now}).rowcount != 1:
                raise LeaseLost(run_id)

    async def save_node(self, owner: str, node: NodeRunRecord, *, now: datetime) -> None:
        await self.db.run(self._save_nodes, owner, [node], [], now)

    async def save_agent_steps(self, owner: str, steps: Sequence[AgentStep], *, now: datetime) -> None:
        await self.db.run(self._save_agent_steps, owner, list(steps), now)

    def _save_agent_steps(self, owner: str, steps: list[AgentStep], now: datetime) -> None:
        if not steps:
            return
        statement = self._upsert_agent_step
        with self.engine.begin() as conn:
            for run_id in {s.run_id for s in steps}:
                params = {"b_run_id": run_id, "b_owner": owner, "b_now": now, "b_step": None}
                if conn.execute(self._sql.fence_step, params).rowcount != 1:
                    raise LeaseLost(run_id)
            conn.execute(
                statement,
                [
                    {
                        "run_id": s.run_id,
                        "node_key": s.node_key,
                        "seq": s.seq,
                        "kind": s.kind,
                        "status": s.status.value,
                        "turn": s.turn,
                        "call_id": s.call_id,
                        "tool": s.tool,
                        "arguments": s.arguments,
                        "result": s.result,
                        "text": s.text,
                        "error": s.error,
                        "usage": s.usage,
                        "approval_id": s.approval_id,
                        "started_at": s.started_at,
                        "finished_at": s.finished_at,
                    }
                    for s in steps
                ],
            )

    async def save_waiting_node(self, owner: str, node: NodeRunRecord, approval: Approval, *, now: datetime) -> None:
        await self.db.run(self._save_nodes, owner, [node], [approval], now)

    async def save_nodes(
        self, owner: str, nodes: Sequence[NodeRunRecord], *, approvals: Sequence[Approval] = (), now: datetime
    ) -> None:
        await self.db.run(self._save_nodes, owner, list(nodes), list(approvals), now)

    def _save_nodes(self, owner: str, nodes: list[NodeRunRecord], new_approvals: list[Approval], now: datetime) -> None:
        """The hot path: statements are built once (`_statements`), so a step costs little more than its commit."""
        if not nodes and not new_approvals:
            return
        fence, upsert, add_approval = self._sql.fence_step, self._sql.upsert_node, self._sql.add_approval
        steps: dict[str, int | None] = {}
        for node in nodes:
            steps.setdefault(node.run_id, None)
            if node.step_order is not None and node.status is not NodeStatus.SKIPPED:
                steps[node.run_id] = node.step_order
        for approval in new_approvals:
            steps.setdefault(approval.run_id, None)
        spent = {n.run_id for n in nodes if n.usage}
        with self.engine.begin() as conn:
            if self._sqlite:
                sqlite_save_nodes(conn, owner, steps, nodes, now)
                nodes = []
            for run_id, step in steps.items():
                if self._sqlite:
                    break
                params = {"b_run_id": run_id, "b_owner": owner, "b_now": now, "b_step": step}
                if conn.execute(fence, params).rowcount != 1:
                    raise LeaseLost(run_id)
            if nodes:
                conn.execute(
                    upsert,
                    [
                        {
                            "run_id": n.run_id,
                            "node_key": n.node_key,
                            "status": n.status.value,
                            "attempt": n.attempt,
                            "step_order": n.step_order,
                            "input": n.input,
                            "output": n.output,
                            "error": n.error,
                            "handles": n.handles,
                            "usage": n.usage,
                            "started_at": n.started_at,
                            "finished_at": n.finished_at,
                        }
                        for n in nodes
                    ],
                )
            if new_approvals:
                conn.execute(
                    add_approval,
                    [
                        {
                            "id": a.id,
                            "run_id": a.run_id,
                            "node_key": a.node_key,
                            "status": a.status,
                            "proposal": a.proposal,
                            "created_at": a.created_at or now,
                            "deadline_at": a.deadline_at,
                            "on_deadline": a.on_deadline,
                            "extra": a.extra or None,
                        }
                        for a in new_approvals
                    ],
                )
            for run_id in spent:
                sum_run_tokens(conn, run_id)

    async def finish_run(
        self, run_id: str, owner: str, *, status: RunStatus, output: Any, error: str | None, now: datetime
    ) -> None:
        await self.db.run(self._finish_run, run_id, owner, status, output, error, now)

    def _finish_run(
        self, run_id: str, owner: str, status: RunStatus, output: Any, error: str | None, now: datetime
    ) -> None:
        params = {
            "b_run_id": run_id,
            "b_owner": owner,
            "b_status": status.value,
            "b_output": output,
            "b_error": error,
            "b_now": now,
            "b_finished": now if status.is_terminal else None,
        }
        statement = self._sql.end_run if status.is_terminal else self._sql.finish_run
        with self.engine.begin() as conn:
            if conn.execute(statement, params).rowcount != 1:
                raise LeaseLost(run_id)
