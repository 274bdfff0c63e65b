"""Batches on SQL: a batch, its rows, and the runs its rows start.

A row's status in the table says only where the row stands before it has a run (PENDING, INVALID,
CANCELLED) or that it has one (STARTED); once it has a run, the run's status is the row's status,
so progress is one GROUP BY over rows joined to their runs and cannot drift from what ran. A row's
run is created in the same transaction that points the row at it, on the condition that the row is
still pending: a row is never started twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.engine.model import RunRecord
from app.models.batches import BatchItemPublic, BatchPublic
from storage.models import batch_rows as rows
from storage.models import batches, runs, workflows

__all__ = [
    "ACTIVE",
    "acquire_lease",
    "active_runs",
    "cancel",
    "counts",
    "finish_if_done",
    "get_batch",
    "insert_batch",
    "list_batches",
    "list_rows",
    "pending_rows",
    "release_lease",
    "retry_failed",
    "run_statuses",
    "running_batches",
    "sample_outputs",
    "start_rows",
]


ACTIVE = ("QUEUED", "RUNNING", "PAUSED")
RETRYABLE = ("FAILED", "CANCELLED")

# A row's status: its run's, else its own (a STARTED row whose run was pruned away counts as failed).
row_status = sa.func.coalesce(
    runs.c.status, sa.case((rows.c.status == "STARTED", sa.literal("FAILED")), else_=rows.c.status)
).label("status")
row_error = sa.func.coalesce(runs.c.error, rows.c.error).label("error")


def _batch_query() -> sa.Select[Any]:
    return sa.select(batches, workflows.c.name.label("workflow_name")).join(
        workflows, workflows.c.id == batches.c.workflow_id
    )


def _record(row: Any) -> BatchPublic:
    return BatchPublic.model_validate(
        {
            **row._mapping,
            "mapping": dict(row.mapping or {}),
            "output_fields": list(row.output_fields) if row.output_fields is not None else None,
            "columns": list(row.columns or []),
        }
    )


# --- creating and reading -------------------------------------------------------------------------


def insert_batch(conn: sa.Connection, *, batch: dict[str, Any], items: Sequence[dict[str, Any]]) -> None:
    """Write a batch and all its rows (keys: row_index, raw, input, status, error) in the caller's transaction."""
    conn.execute(batches.insert().values(**batch))
    size = 2000
    for start in range(0, len(items), size):
        conn.execute(
            rows.insert(), [{"batch_id": batch["id"], "run_id": None, **i} for i in items[start : start + size]]
        )


def get_batch(conn: sa.Connection, batch_id: str) -> BatchPublic | None:
    row = conn.execute(_batch_query().where(batches.c.id == batch_id)).first()
    return _record(row) if row else None


def list_batches(conn: sa.Connection, *, workflow_id: str | None, limit: int) -> list[BatchPublic]:
    query = _batch_query()
    if workflow_id is not None:
        query = query.where(batches.c.workflow_id == workflow_id)
    query = query.order_by(batches.c.created_at.desc(), batches.c.id.desc()).limit(limit)
    return [_record(r) for r in conn.execute(query)]


def counts(conn: sa.Connection, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Rows per status of each batch, counted from the rows' runs."""
    found: dict[str, dict[str, int]] = {b: {} for b in batch_ids}
    if not batch_ids:
        return found
    query = (
        sa.select(rows.c.batch_id, row_status, sa.func.count())
        .select_from(rows.outerjoin(runs, runs.c.id == rows.c.run_id))
        .where(rows.c.batch_id.in_(list(batch_ids)))
        .group_by(rows.c.batch_id, row_status)
    )
    for batch_id, status, count in conn.execute(query):
        found[batch_id][status] = int(count)
    return found


def list_rows(
    conn: sa.Connection, batch_id: str, *, status: str | None = None, after: int = -1, offset: int = 0, limit: int = 50
) -> list[BatchItemPublic]:
    """Rows in file order (those past row `after`), with their run's status, error and output."""
    query = (
        sa.select(rows.c.row_index, rows.c.raw, rows.c.input, rows.c.run_id, row_status, row_error, runs.c.output)
        .select_from(rows.outerjoin(runs, runs.c.id == rows.c.run_id))
        .where(rows.c.batch_id == batch_id, rows.c.row_index > after)
    )
    if status is not None:
        query = query.where(row_status == status)
    query = query.order_by(rows.c.row_index).offset(offset).limit(limit)
    return [BatchItemPublic.model_validate({**r._mapping, "index": r.row_index}) for r in conn.execute(query)]


def sample_outputs(conn: sa.Connection, batch_id: str, *, limit: int) -> list[Any]:
    """The outputs of the batch's first completed runs, in file order."""
    query = (
        sa.select(runs.c.output)
        .select_from(rows.join(runs, runs.c.id == rows.c.run_id))
        .where(rows.c.batch_id == batch_id, runs.c.status == "COMPLETED")
        .order_by(rows.c.row_index)
        .limit(limit)
    )
    return [r.output for r in conn.execute(query)]


# --- driving ----------------------------------------------------------------------------------------


def running_batches(conn: sa.Connection) -> list[tuple[str, str | None, datetime | None]]:
    """(id, lease owner, lease expiry) of every batch still running."""
    query = sa.select(batches.c.id, batches.c.lease_owner, batches.c.lease_expires_at).where(
        batches.c.status == "RUNNING"
    )
    return [(r.id, r.lease_owner, r.lease_expires_at) for r in conn.execute(query.order_by(batches.c.created_at))]


def acquire_lease(conn: sa.Connection, batch_id: str, *, owner: str, now: datetime, until: datetime) -> bool:
    """Take (or renew) the right to start the running batch's rows; False when another live owner has it."""
    at = sa.literal(now, batches.c.lease_expires_at.type)
    free = sa.or_(batches.c.lease_owner.is_(None), batches.c.lease_owner == owner, batches.c.lease_expires_at < at)
    result = conn.execute(
        batches.update()
        .where(batches.c.id == batch_id, batches.c.status == "RUNNING", free)
        .values(lease_owner=owner, lease_expires_at=until)
    )
    return result.rowcount == 1


def release_lease(conn: sa.Connection, batch_id: str, *, owner: str) -> None:
    conn.execute(
        batches.update()
        .where(batches.c.id == batch_id, batches.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def pending_rows(conn: sa.Connection, batch_id: str, *, limit: int) -> list[tuple[int, Any]]:
    """(index, input) of the first rows still waiting for a run."""
    query = (
        sa.select(rows.c.row_index, rows.c.input)
        .where(rows.c.batch_id == batch_id, rows.c.status == "PENDING")
        .order_by(rows.c.row_index)
        .limit(limit)
    )
    return [(r.row_index, r.input) for r in conn.execute(query)]


def _run_values(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "session_id": run.session_id,
        "trigger": run.trigger.value,
        "status": run.status.value,
        "input": run.input,
        "created_at": run.created_at,
        "updated_at": run.updated_at or run.created_at,
        "cancel_requested": False,
        "callback_attempts": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
    }


def start_rows(conn: sa.Connection, batch_id: str, started: Iterable[tuple[int, RunRecord]]) -> list[str]:
    """Point each row that is still pending at its new run and store those runs; returns their ids.

    A row another process started meanwhile is left alone and its run is not created.
    """
    claimed: list[RunRecord] = []
    for index, run in started:
        result = conn.execute(
            rows.update()
            .where(rows.c.batch_id == batch_id, rows.c.row_index == index, rows.c.status == "PENDING")
            .values(run_id=run.id, status="STARTED", error=None)
        )
        if result.rowcount == 1:
            claimed.append(run)
    if claimed:
        conn.execute(runs.insert(), [_run_values(r) for r in claimed])
    return [r.id for r in claimed]


def active_runs(conn: sa.Connection, batch_id: str) -> list[str]:
    """Ids of the batch's runs that have not ended (queued, running or paused)."""
    query = (
        sa.select(runs.c.id)
        .select_from(rows.join(runs, runs.c.id == rows.c.run_id))
        .where(rows.c.batch_id == batch_id, rows.c.status == "STARTED", runs.c.status.in_(ACTIVE))
    )
    return [r.id for r in conn.execute(query)]


def run_statuses(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    return {r.id: r.status for r in conn.execute(sa.select(runs.c.id, runs.c.status).where(runs.c.id.in_(run_ids)))}


def finish_if_done(conn: sa.Connection, batch_id: str, *, now: datetime) -> bool:
    """Mark the running batch FINISHED when no row waits and no run of it is active; True if it was."""
    pending = sa.exists().where(rows.c.batch_id == batch_id, rows.c.status == "PENDING")
    active = (
        sa.exists()
        .select_from(rows.join(runs, runs.c.id == rows.c.run_id))
        .where(rows.c.batch_id == batch_id, rows.c.status == "STARTED", runs.c.status.in_(ACTIVE))
    )
    result = conn.execute(
        batches.update()
        .where(batches.c.id == batch_id, batches.c.status == "RUNNING", ~pending, ~active)
        .values(status="FINISHED", finished_at=now, lease_owner=None, lease_expires_at=None)
    )
    return result.rowcount == 1


def cancel(conn: sa.Connection, batch_id: str, *, now: datetime) -> list[str] | None:
    """Stop the running batch: its waiting rows become CANCELLED. Returns the runs still active (to cancel),
    or None when the batch was not running."""
    result = conn.execute(
        batches.update()
        .where(batches.c.id == batch_id, batches.c.status == "RUNNING")
        .values(status="CANCELLED", finished_at=now, lease_owner=None, lease_expires_at=None)
    )
    if result.rowcount != 1:
        return None
    conn.execute(
        rows.update()
        .where(rows.c.batch_id == batch_id, rows.c.status == "PENDING")
        .values(status="CANCELLED", error="the batch was cancelled")
    )
    return active_runs(conn, batch_id)


def retry_failed(conn: sa.Connection, batch_id: str) -> int:
    """Make the rows whose run failed or was cancelled (and those cancelled before they ran) pending again,
    and the batch RUNNING. Returns how many rows will run again."""
    ended = (
        sa.select(runs.c.id).where(runs.c.id == rows.c.run_id, runs.c.status.in_(RETRYABLE)).correlate(rows).exists()
    )
    orphaned = ~sa.select(runs.c.id).where(runs.c.id == rows.c.run_id).correlate(rows).exists()
    again = sa.or_(rows.c.status == "CANCELLED", sa.and_(rows.c.status == "STARTED", sa.or_(ended, orphaned)))
    result = conn.execute(
        rows.update().where(rows.c.batch_id == batch_id, again).values(status="PENDING", run_id=None, error=None)
    )
    count = int(result.rowcount)
    if count:
        conn.execute(
            batches.update()
            .where(batches.c.id == batch_id)
            .values(status="RUNNING", finished_at=None, lease_owner=None, lease_expires_at=None)
        )
    return count
