"""The run store's SQL vocabulary: its tables, row ↔ record conversions and the statements built once.

Shared by `storage.run_store` (runs, steps, leases, approvals) and `storage.callback_store` (callbacks).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.engine.exceptions import LeaseLost
from app.engine.model import (
    AgentStep,
    AgentStepStatus,
    Approval,
    CallbackState,
    EdgeSpec,
    NodeRunRecord,
    NodeSpec,
    NodeStatus,
    Note,
    RunRecord,
    RunStatus,
    Trigger,
    WorkflowDefinition,
)
from storage.models import (
    agents,
    approvals,
    node_runs,
    runs,
)

__all__ = [
    "DRIVABLE",
    "Statements",
    "callback_due_values",
    "definition_from_json",
    "row_to_agent_step",
    "row_to_approval",
    "row_to_node_run",
    "row_to_run",
    "sqlite_save_nodes",
    "sum_run_tokens",
]


DRIVABLE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
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
        started_by=row.started_by,
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
        until=row.until_node,
    )


def callback_due_values(now: Any) -> dict[str, Any]:
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
        extra=row.extra or {},
    )


def row_to_agent_step(row: Any) -> AgentStep:
    return AgentStep(
        run_id=row.run_id,
        node_key=row.node_key,
        seq=row.seq,
        kind=row.kind,
        status=AgentStepStatus(row.status),
        turn=row.turn,
        call_id=row.call_id,
        tool=row.tool,
        arguments=row.arguments,
        result=row.result,
        text=row.text,
        error=row.error,
        usage=row.usage,
        approval_id=row.approval_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def definition_from_json(data: dict[str, Any]) -> WorkflowDefinition:
    return WorkflowDefinition(
        nodes=[NodeSpec.model_validate(n) for n in data.get("nodes", [])],
        edges=[EdgeSpec.model_validate(e) for e in data.get("edges", [])],
        notes=[Note.model_validate(n) for n in data.get("notes") or []],
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


def sqlite_save_nodes(
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


def sum_run_tokens(conn: sa.Connection, run_id: str) -> None:
    """Keep the run's token totals: the sum over its node runs' usage (a run has few nodes; JSON stays in Python)."""
    totals = dict.fromkeys(_TOKEN_FIELDS, 0)
    for (usage,) in conn.execute(sa.select(node_runs.c.usage).where(node_runs.c.run_id == run_id)):
        for name in _TOKEN_FIELDS:
            value = usage.get(name) if isinstance(usage, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                totals[name] += value
    conn.execute(runs.update().where(runs.c.id == run_id).values(**totals))


class Statements:
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
                runs.c.status.in_(DRIVABLE),
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
        self.end_run = self.finish_run.values(**callback_due_values(now))
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
