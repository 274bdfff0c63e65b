"""The run store on SQL: satisfies the engine's `RunStore` protocol for SQLite and PostgreSQL.

Written with SQLAlchemy Core on the hot path (one node step is two short transactions), and
without importing the engine's protocol: the engine's plain records are the shared vocabulary.
Every write that advances a run first touches the run row *where this owner holds the lease*,
in the same transaction, so a process that lost its lease cannot write over its successor.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.engine.exceptions import Conflict, LeaseLost, NotFound
from app.engine.model import (
    Approval,
    CallbackDelivery,
    CallbackState,
    EdgeSpec,
    NodeRunRecord,
    NodeSpec,
    NodeStatus,
    RunRecord,
    RunStatus,
    Trigger,
    WorkflowDefinition,
)
from app.engine.store import AgentRecord, LeaseInfo, LeaseRenewal
from storage.db import Database
from storage.models import AgentRow, ApprovalRow, CallbackDeliveryRow, NodeRunRow, RunRow, WorkflowVersionRow

__all__ = ["SqlRunStore", "row_to_approval", "row_to_node_run", "row_to_run"]

runs = RunRow.__table__  # type: ignore[attr-defined]
node_runs = NodeRunRow.__table__  # type: ignore[attr-defined]
approvals = ApprovalRow.__table__  # type: ignore[attr-defined]
versions = WorkflowVersionRow.__table__  # type: ignore[attr-defined]
agents = AgentRow.__table__  # type: ignore[attr-defined]
deliveries = CallbackDeliveryRow.__table__  # type: ignore[attr-defined]

_DRIVABLE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
_NODE_COLUMNS = (
    "status",
    "attempt",
    "step_order",
    "input",
    "output",
    "error",
    "handles",
    "usage",
    "started_at",
    "finished_at",
)


def row_to_run(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        workflow_id=row.workflow_id,
        workflow_version=row.workflow_version,
        status=RunStatus(row.status),
        input=row.input,
        session_id=row.session_id,
        trigger=Trigger(row.trigger),
        output=row.output,
        error=row.error,
        current_step_order=row.current_step_order,
        callback_url=row.callback_url,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        cancel_requested=bool(row.cancel_requested),
        callback_state=CallbackState(row.callback_state) if row.callback_state else None,
        callback_attempts=row.callback_attempts,
        callback_due_at=row.callback_due_at,
        parent_run_id=row.parent_run_id,
        parent_node_key=row.parent_node_key,
        chain=tuple(row.chain or ()),
    )


def _callback_due_values(now: Any) -> dict[str, Any]:
    """The SET values that make a run's callback PENDING and due `now` when it has a URL, in the same UPDATE."""
    if isinstance(now, datetime):
        now = sa.literal(now, runs.c.callback_due_at.type)
    has_url = runs.c.callback_url.is_not(None)
    return {
        "callback_state": sa.case((has_url, CallbackState.PENDING.value), else_=runs.c.callback_state),
        "callback_attempts": sa.case((has_url, 0), else_=runs.c.callback_attempts),
        "callback_due_at": sa.case((has_url, now), else_=runs.c.callback_due_at),
        "callback_claimed_by": None,
        "callback_claim_expires_at": None,
    }


def row_to_node_run(row: Any) -> NodeRunRecord:
    return NodeRunRecord(
        run_id=row.run_id,
        node_key=row.node_key,
        status=NodeStatus(row.status),
        attempt=row.attempt,
        input=row.input,
        output=row.output,
        error=row.error,
        handles=row.handles,
        started_at=row.started_at,
        finished_at=row.finished_at,
        usage=row.usage,
        step_order=row.step_order,
    )


def row_to_approval(row: Any) -> Approval:
    return Approval(
        id=row.id,
        run_id=row.run_id,
        node_key=row.node_key,
        proposal=row.proposal,
        status=row.status,
        output=row.output,
        decided_by=row.decided_by,
        reason=row.reason,
        created_at=row.created_at,
        decided_at=row.decided_at,
        deadline_at=row.deadline_at,
        on_deadline=row.on_deadline,
    )


def definition_from_json(data: dict[str, Any]) -> WorkflowDefinition:
    return WorkflowDefinition(
        nodes=[NodeSpec.model_validate(n) for n in data.get("nodes", [])],
        edges=[EdgeSpec.model_validate(e) for e in data.get("edges", [])],
    )


_SQLITE_FENCE = (
    "UPDATE runs SET updated_at = ?, current_step_order = coalesce(?, current_step_order)"
    " WHERE id = ? AND lease_owner = ?"
)
_SQLITE_UPSERT = (
    "INSERT INTO node_runs (run_id, node_key, status, attempt, step_order, input, output, error, handles, usage,"
    " started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (run_id, node_key) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _NODE_COLUMNS)
    + " WHERE node_runs.status != 'COMPLETED'"
)


def _sqlite_time(value: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime (through `UTCDateTime`) would store for `value`."""
    if value is None:
        return None
    if value.tzinfo is None:  # naive times are UTC throughout storage, never local time
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_save_nodes(
    conn: sa.Connection, owner: str, steps: dict[str, int | None], nodes: list[NodeRunRecord], now: datetime
) -> None:
    """`save_nodes` on SQLite through the driver: the same rows SQLAlchemy writes, at a third of the cost.

    This is the one statement pair every node step executes; SQLAlchemy's per-statement work costs
    more than SQLite's commit here, so the hot path speaks to the driver with the same SQL and the
    same stored formats (JSON text, naive-UTC timestamps), and the contract suite holds it to that.
    """
    cursor = conn.connection.cursor()
    try:
        stamp = _sqlite_time(now)
        for run_id, step in steps.items():
            cursor.execute(_SQLITE_FENCE, (stamp, step, run_id, owner))
            if cursor.rowcount != 1:
                raise LeaseLost(run_id)
        if nodes:
            dumps = json.dumps
            cursor.executemany(
                _SQLITE_UPSERT,
                [
                    (
                        n.run_id,
                        n.node_key,
                        n.status.value,
                        n.attempt,
                        n.step_order,
                        dumps(n.input),
                        dumps(n.output),
                        n.error,
                        dumps(n.handles),
                        dumps(n.usage),
                        _sqlite_time(n.started_at),
                        _sqlite_time(n.finished_at),
                    )
                    for n in nodes
                ],
            )
    finally:
        cursor.close()


_TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _sum_run_tokens(conn: sa.Connection, run_id: str) -> None:
    """Keep the run's token totals: the sum over its node runs' usage (a run has few nodes; JSON stays in Python)."""
    totals = dict.fromkeys(_TOKEN_FIELDS, 0)
    for (usage,) in conn.execute(sa.select(node_runs.c.usage).where(node_runs.c.run_id == run_id)):
        for name in _TOKEN_FIELDS:
            value = usage.get(name) if isinstance(usage, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                totals[name] += value
    conn.execute(runs.update().where(runs.c.id == run_id).values(**totals))


class _Statements:
    """The statements a run executes on every step, built once: SQLAlchemy then only binds and runs them.

    (Building an UPDATE costs more than executing it; a prebuilt one halves a step's database time.)
    """

    def __init__(self, insert: Any) -> None:
        b = sa.bindparam
        run_id: Any = b("b_run_id")
        owner: Any = b("b_owner")
        now: Any = b("b_now", type_=runs.c.updated_at.type)
        mine = (runs.c.id == run_id, runs.c.lease_owner == owner)
        self.get_run = sa.select(runs).where(runs.c.id == run_id)
        self.get_agents = sa.select(agents).where(agents.c.id.in_(b("b_ids", expanding=True)))
        self.get_node_runs = (
            sa.select(node_runs)
            .where(node_runs.c.run_id == run_id)
            .order_by(sa.func.coalesce(node_runs.c.step_order, 0), node_runs.c.node_key)
        )
        self.acquire = (
            runs.update()
            .where(
                runs.c.id == run_id,
                runs.c.status.in_(_DRIVABLE),
                sa.or_(
                    runs.c.lease_owner.is_(None),
                    runs.c.lease_expires_at <= now,
                    runs.c.lease_owner == owner,
                    runs.c.lease_owner == b("b_steal"),
                ),
            )
            .values(lease_owner=owner, lease_expires_at=b("b_until", type_=runs.c.lease_expires_at.type))
        )
        self.start_run = (
            runs.update()
            .where(*mine)
            .values(status=RunStatus.RUNNING.value, updated_at=now, started_at=sa.func.coalesce(runs.c.started_at, now))
        )
        self.finish_run = (
            runs.update()
            .where(*mine)
            .values(
                status=b("b_status"),
                output=b("b_output", type_=runs.c.output.type),
                error=b("b_error"),
                updated_at=now,
                finished_at=sa.func.coalesce(b("b_finished", type_=runs.c.finished_at.type), runs.c.finished_at),
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        self.end_run = self.finish_run.values(**_callback_due_values(now))
        self.fence_step = (
            runs.update()
            .where(*mine)
            .values(
                updated_at=now,
                current_step_order=sa.func.coalesce(b("b_step", type_=sa.Integer), runs.c.current_step_order),
            )
        )
        upsert = insert(node_runs)
        self.upsert_node = upsert.on_conflict_do_update(
            index_elements=[node_runs.c.run_id, node_runs.c.node_key],
            set_={name: upsert.excluded[name] for name in _NODE_COLUMNS},
            where=node_runs.c.status != NodeStatus.COMPLETED.value,
        )
        self.add_approval = approvals.insert()


class SqlRunStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine
        dialect = self.engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._sql = _Statements(self._insert)
        self._sqlite = dialect == "sqlite"

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

    async def due_approvals(self, *, now: datetime, limit: int) -> list[Approval]:
        return await self.db.run(self._due_approvals, now, limit)

    def _due_approvals(self, now: datetime, limit: int) -> list[Approval]:
        at = sa.literal(now, approvals.c.deadline_at.type)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(approvals)
                .where(
                    approvals.c.status == "PENDING",
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
                .where(approvals.c.run_id == run_id, approvals.c.status == "PENDING")
                .order_by(sa.func.coalesce(node_runs.c.step_order, 0), approvals.c.created_at)
            )
            if node_key is not None:
                query = query.where(approvals.c.node_key == node_key)
            pending = conn.execute(query).first()
            if pending is None:
                where = f" at node '{node_key}'" if node_key else ""
                raise Conflict(f"run '{run_id}' has no pending approval{where}")
            claimed = conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.status == RunStatus.PAUSED.value)
                .values(status=RunStatus.QUEUED.value, updated_at=now)
            ).rowcount
            if claimed != 1:
                raise Conflict(f"run '{run_id}' was decided by someone else just now")
            if approved:
                decision = {"status": "APPROVED", "output": output}
                node_values = {"status": NodeStatus.COMPLETED.value, "output": output, "finished_at": now}
            else:
                decision = {"status": "REJECTED", "output": None}
                error = f"rejected: {reason or 'no reason given'}"
                node_values = {"status": NodeStatus.FAILED.value, "error": error, "finished_at": now}
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
                        **_callback_due_values(now),
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
                    .where(approvals.c.run_id == run_id, approvals.c.status == "PENDING")
                    .values(status="CANCELLED", decided_at=now)
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
                .where(runs.c.lease_owner == owner, runs.c.status.in_(_DRIVABLE))
                .values(lease_expires_at=until)
            )
            rows = conn.execute(
                sa.select(runs.c.id, runs.c.cancel_requested).where(
                    runs.c.lease_owner == owner, runs.c.status.in_(_DRIVABLE)
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
                .where(runs.c.status.in_(_DRIVABLE))
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
                _sqlite_save_nodes(conn, owner, steps, nodes, now)
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
                        }
                        for a in new_approvals
                    ],
                )
            for run_id in spent:
                _sum_run_tokens(conn, run_id)

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

    # --- callbacks ----------------------------------------------------------------------------------------
    async def claim_callbacks(self, owner: str, *, now: datetime, until: datetime, limit: int) -> list[RunRecord]:
        return await self.db.run(self._claim_callbacks, owner, now, until, limit)

    def _claim_callbacks(self, owner: str, now: datetime, until: datetime, limit: int) -> list[RunRecord]:
        claimable = (
            runs.c.callback_state == CallbackState.PENDING.value,
            runs.c.callback_due_at <= now,
            sa.or_(runs.c.callback_claimed_by.is_(None), runs.c.callback_claim_expires_at <= now),
        )
        with self.engine.connect() as conn:
            candidates = (
                conn.execute(
                    sa.select(runs.c.id).where(*claimable).order_by(runs.c.callback_due_at, runs.c.id).limit(limit)
                )
                .scalars()
                .all()
            )
        claimed: list[RunRecord] = []
        for run_id in candidates:
            # One short transaction per run: the conditional UPDATE is the claim, so of two processes racing
            # for the same callback exactly one sees a row changed (PostgreSQL re-checks the WHERE after locking).
            with self.engine.begin() as conn:
                taken = conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id, *claimable)
                    .values(callback_claimed_by=owner, callback_claim_expires_at=until)
                ).rowcount
                if taken == 1:
                    claimed.append(row_to_run(conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()))
        return claimed

    async def record_callback_attempt(
        self, owner: str, delivery: CallbackDelivery, *, state: CallbackState, next_due_at: datetime | None
    ) -> bool:
        return await self.db.run(self._record_callback_attempt, owner, delivery, state, next_due_at)

    def _record_callback_attempt(
        self, owner: str, delivery: CallbackDelivery, state: CallbackState, next_due_at: datetime | None
    ) -> bool:
        with self.engine.begin() as conn:
            held = conn.execute(
                runs.update()
                .where(runs.c.id == delivery.run_id, runs.c.callback_claimed_by == owner)
                .values(
                    callback_state=state.value,
                    callback_attempts=delivery.attempt,
                    callback_due_at=next_due_at,
                    callback_claimed_by=None,
                    callback_claim_expires_at=None,
                )
            ).rowcount
            if held == 1 or conn.execute(sa.select(runs.c.id).where(runs.c.id == delivery.run_id)).first():
                # (a run deleted meanwhile took its attempts with it: nothing to keep)
                conn.execute(
                    deliveries.insert().values(
                        run_id=delivery.run_id,
                        url=delivery.url,
                        attempt=delivery.attempt,
                        status_code=delivery.status_code,
                        error=delivery.error,
                        duration_ms=delivery.duration_ms,
                        created_at=delivery.created_at,
                    )
                )
        return held == 1

    async def release_callback(self, run_id: str, owner: str) -> None:
        await self.db.run(self._release_callback, run_id, owner)

    def _release_callback(self, run_id: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.callback_claimed_by == owner)
                .values(callback_claimed_by=None, callback_claim_expires_at=None)
            )

    async def get_callback_deliveries(self, run_id: str) -> list[CallbackDelivery]:
        return await self.db.run(self._get_callback_deliveries, run_id)

    def _get_callback_deliveries(self, run_id: str) -> list[CallbackDelivery]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries).where(deliveries.c.run_id == run_id).order_by(deliveries.c.id)
            ).all()
        return [
            CallbackDelivery(
                run_id=r.run_id,
                url=r.url,
                attempt=r.attempt,
                status_code=r.status_code,
                error=r.error,
                duration_ms=r.duration_ms,
                created_at=r.created_at,
            )
            for r in rows
        ]
