"""Run history at scale: runs across workflows, the approval inbox and pruning.

Every list here pages by keyset on ``(created_at, id)``, newest first, never by OFFSET, so the
hundredth page costs what the first does. The queries are shaped for the indexes that
`storage/models.py` declares for them (see `RunRow` and `ApprovalRow`):

- A filter on statuses and/or triggers is expanded into one branch per (status, trigger) pair,
  each an exact seek on ``(status, trigger, created_at, id)`` (or ``(workflow_id, status,
  trigger, created_at, id)`` with a workflow) that reads at most one page; the branches are
  merged by one small sort. A rare status, an empty combination or a narrow time range is then
  as cheap as the first page: no filter ever makes the database walk rows it does not return.
- Without such a filter a single branch walks ``(created_at)`` or ``(workflow_id, created_at)``.

Results are plain frozen dataclasses; nothing here hands out ORM rows.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.engine.exceptions import InvalidInput
from app.engine.model import ApprovalStatus, CallbackState, RunStatus, Trigger
from app.models.approvals import ApprovalItem, ApprovalPage
from app.models.runs import ActiveCounts, PruneResult, RunPage, RunQuery, RunSummary
from storage.models import approvals, deliveries, node_runs, runs, versions, workflows

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "ApprovalRecord",
    "active_counts",
    "decode_cursor",
    "delete_finished",
    "encode_cursor",
    "find_approval",
    "list_runs",
    "node_titles",
    "pending_approvals",
    "prune_batches",
]


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
FINISHED_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
MAX_PAGE_SIZE = 500
ERROR_SUMMARY_CHARS = 200


# --- the cursor -------------------------------------------------------------------------------------------


def encode_cursor(created_at: datetime, item_id: str) -> str:
    """An opaque position in a newest-first list: the (created_at, id) of the last item shown."""
    raw = json.dumps([_utc(created_at).isoformat(), item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str = "after") -> tuple[datetime, str]:
    """The position `encode_cursor` wrote, or InvalidInput naming `field` for anything else."""
    problem = InvalidInput(field, "not a cursor this list gave out; start again from the first page")
    if not isinstance(cursor, str) or not cursor or len(cursor) > 400:
        raise problem
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_text, item_id = json.loads(raw)
        created_at = datetime.fromisoformat(created_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise problem from None
    if not isinstance(item_id, str) or not item_id or created_at.tzinfo is None:
        raise problem
    return created_at.astimezone(UTC), item_id


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_size(size: int) -> None:
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput("size", f"a page holds 1 to {MAX_PAGE_SIZE} items")


def _before(table: sa.Table, position: tuple[datetime, str]) -> sa.ColumnElement[bool]:
    """Rows strictly after `position` in newest-first order. Written as a range on created_at plus a tie
    rule rather than a row-value comparison, so every database seeks the created_at index with it."""
    created_at, item_id = position
    at = sa.literal(created_at, table.c.created_at.type)
    return sa.and_(
        table.c.created_at <= at,
        sa.or_(table.c.created_at < at, table.c.id < item_id),
    )


# --- runs across workflows --------------------------------------------------------------------------------


def _summary_of_error(error: str | None) -> str | None:
    if not error:
        return None
    line = error.strip().splitlines()[0] if error.strip() else error
    return line if len(line) <= ERROR_SUMMARY_CHARS else line[: ERROR_SUMMARY_CHARS - 1] + "…"


def _run_branches(query: RunQuery, position: tuple[datetime, str] | None, limit: int) -> list[sa.Select[Any]]:
    """One newest-first, limited SELECT of (created_at, id) per (status, trigger) pair the query names."""
    common: list[sa.ColumnElement[bool]] = []
    if query.workflow_id is not None:
        common.append(runs.c.workflow_id == query.workflow_id)
    if query.created_from is not None:
        common.append(runs.c.created_at >= sa.literal(_utc(query.created_from), runs.c.created_at.type))
    if query.created_to is not None:
        common.append(runs.c.created_at < sa.literal(_utc(query.created_to), runs.c.created_at.type))
    if query.text and query.text.strip():
        common.append(_matches(query.text.strip()))
    if position is not None:
        common.append(_before(runs, position))
    base = sa.select(runs.c.created_at, runs.c.id).order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
    if not query.statuses and not query.triggers:
        return [base.where(*common)]
    statuses = list(dict.fromkeys(query.statuses)) or list(RunStatus)
    triggers = list(dict.fromkeys(query.triggers)) or list(Trigger)
    return [
        base.where(*common, runs.c.status == status.value, runs.c.trigger == trigger.value)
        for status, trigger in itertools.product(statuses, triggers)
    ]


def _matches(text: str) -> sa.ColumnElement[bool]:
    """A run whose id or session id is `text`, or whose input or output holds it (in any case).

    JSON is stored with non-ASCII characters, quotes and backslashes escaped, so the text is looked for both
    as typed and as JSON writes it. A search walks the newest-first index until it has a page: quick for
    text that recent runs hold, a scan of the history for text no run holds (narrow it with a time range).
    """
    forms = list(dict.fromkeys([text, json.dumps(text)[1:-1]]))
    found: list[sa.ColumnElement[bool]] = [runs.c.id == text, runs.c.session_id == text]
    for column in (runs.c.input, runs.c.output):
        as_text = sa.cast(column, sa.Text)
        found.extend(as_text.ilike(f"%{_escape_like(form)}%", escape="\\") for form in forms)
    return sa.or_(*found)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_runs(conn: sa.Connection, query: RunQuery, *, after: str | None, size: int) -> RunPage:
    """A page of runs of any workflow matching `query`, newest first, after the cursor `after`."""
    _check_size(size)
    position = decode_cursor(after) if after is not None else None
    branches = _run_branches(query, position, size + 1)
    if len(branches) == 1:
        keys = conn.execute(branches[0]).all()
    else:
        parts = [b.subquery() for b in branches]
        merged = sa.union_all(*(sa.select(part.c.created_at, part.c.id) for part in parts)).subquery()
        keys = conn.execute(
            sa.select(merged.c.created_at, merged.c.id)
            .order_by(merged.c.created_at.desc(), merged.c.id.desc())
            .limit(size + 1)
        ).all()
    more = len(keys) > size
    ids = [row.id for row in keys[:size]]
    if not ids:
        return RunPage([], None)
    rows = conn.execute(
        sa.select(
            runs.c.id,
            runs.c.workflow_id,
            runs.c.workflow_version,
            runs.c.trigger,
            runs.c.status,
            runs.c.error,
            runs.c.created_at,
            runs.c.started_at,
            runs.c.finished_at,
            workflows.c.name.label("workflow_name"),
        )
        .select_from(runs.outerjoin(workflows, workflows.c.id == runs.c.workflow_id))
        .where(runs.c.id.in_(ids))
    ).all()
    by_id = {row.id: row for row in rows}
    items = [_run_summary(by_id[run_id]) for run_id in ids if run_id in by_id]
    next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if more and items else None
    return RunPage(items, next_cursor)


def _run_summary(row: Any) -> RunSummary:
    duration = None
    if row.started_at is not None and row.finished_at is not None:
        duration = max(0.0, (row.finished_at - row.started_at).total_seconds())
    return RunSummary(
        id=row.id,
        workflow_id=row.workflow_id,
        workflow_name=row.workflow_name if row.workflow_name is not None else row.workflow_id,
        workflow_version=row.workflow_version,
        trigger=Trigger(row.trigger),
        status=RunStatus(row.status),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_seconds=duration,
        error=_summary_of_error(row.error),
    )


# --- the header badge -------------------------------------------------------------------------------------


def active_counts(conn: sa.Connection) -> ActiveCounts:
    """Counted on the status indexes: one short range per status, however long the history."""
    counted: dict[str, int] = dict(
        conn.execute(
            sa.select(runs.c.status, sa.func.count())
            .where(runs.c.status.in_([s.value for s in ACTIVE_STATUSES]))
            .group_by(runs.c.status)
        ).all()
    )
    pending = conn.execute(
        sa.select(sa.func.count()).select_from(approvals).where(approvals.c.status == ApprovalStatus.PENDING.value)
    ).scalar_one()
    return ActiveCounts(
        queued=int(counted.get(RunStatus.QUEUED.value, 0)),
        running=int(counted.get(RunStatus.RUNNING.value, 0)),
        paused=int(counted.get(RunStatus.PAUSED.value, 0)),
        pending_approvals=int(pending),
    )


# --- the approval inbox -----------------------------------------------------------------------------------


def pending_approvals(
    conn: sa.Connection, *, after: str | None, size: int, titles: dict[tuple[str, int], dict[str, str]] | None = None
) -> ApprovalPage:
    """Approvals waiting across all workflows, newest first. `titles` caches node names per version."""
    _check_size(size)
    position = decode_cursor(after) if after is not None else None
    where: list[sa.ColumnElement[bool]] = [approvals.c.status == ApprovalStatus.PENDING.value]
    if position is not None:
        where.append(_before(approvals, position))
    rows = conn.execute(
        sa.select(
            approvals.c.id,
            approvals.c.run_id,
            approvals.c.node_key,
            approvals.c.proposal,
            approvals.c.created_at,
            approvals.c.deadline_at,
            approvals.c.on_deadline,
            approvals.c.extra,
            runs.c.workflow_id,
            runs.c.workflow_version,
            workflows.c.name.label("workflow_name"),
        )
        .select_from(
            approvals.join(runs, runs.c.id == approvals.c.run_id).outerjoin(
                workflows, workflows.c.id == runs.c.workflow_id
            )
        )
        .where(*where)
        .order_by(approvals.c.created_at.desc(), approvals.c.id.desc())
        .limit(size + 1)
    ).all()
    more = len(rows) > size
    rows = rows[:size]
    titles = {} if titles is None else titles
    missing = {(r.workflow_id, r.workflow_version) for r in rows} - set(titles)
    titles.update(node_titles(conn, missing))
    items = [
        ApprovalItem(
            id=r.id,
            run_id=r.run_id,
            workflow_id=r.workflow_id,
            workflow_name=r.workflow_name if r.workflow_name is not None else r.workflow_id,
            workflow_version=r.workflow_version,
            node_key=r.node_key,
            node_title=titles.get((r.workflow_id, r.workflow_version), {}).get(r.node_key) or r.node_key,
            waiting_since=r.created_at,
            proposal=r.proposal,
            deadline_at=r.deadline_at,
            on_deadline=r.on_deadline,
            details=_approval_details(r.extra),
        )
        for r in rows
    ]
    next_cursor = encode_cursor(items[-1].waiting_since, items[-1].id) if more and items else None
    return ApprovalPage(items, next_cursor)


def node_titles(conn: sa.Connection, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], dict[str, str]]:
    """Node names by key of each (workflow id, version) in `wanted`."""
    found: dict[tuple[str, int], dict[str, str]] = {}
    for workflow_id, version in wanted:
        definition = conn.execute(
            sa.select(versions.c.definition).where(versions.c.workflow_id == workflow_id, versions.c.version == version)
        ).scalar()
        nodes = (definition or {}).get("nodes", []) if isinstance(definition, dict) else []
        found[(workflow_id, version)] = {
            str(n.get("key")): str(n.get("name") or "") for n in nodes if isinstance(n, dict)
        }
    return found


# --- pruning ----------------------------------------------------------------------------------------------


def _keep_cutoff(conn: sa.Connection, workflow_id: str, keep: int) -> tuple[datetime, str] | None:
    """The (created_at, id) of the `keep`-th newest run of a workflow: older ones may go. None: keep them all."""
    if keep <= 0:
        return None
    row = conn.execute(
        sa.select(runs.c.created_at, runs.c.id)
        .where(runs.c.workflow_id == workflow_id)
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .offset(keep - 1)
        .limit(1)
    ).first()
    return (row.created_at, row.id) if row is not None else None


def prune_batches(
    engine: sa.Engine,
    *,
    now: datetime,
    older_than: timedelta | None,
    keep_per_workflow: int | None,
    workflow_id: str | None,
    statuses: Sequence[RunStatus] = FINISHED_STATUSES,
    batch_size: int = 500,
) -> Iterator[PruneResult]:
    """Delete finished runs (and their node runs, approvals and callback deliveries), one short transaction
    per batch, yielding what each batch deleted.

    A run is deleted when it has finished with one of `statuses`, was created before ``now - older_than``
    (when given) and is not among the `keep_per_workflow` newest runs of its workflow (when given). Active
    runs are never touched.
    """
    if not statuses or any(status not in FINISHED_STATUSES for status in statuses):
        raise InvalidInput("statuses", "only finished runs (COMPLETED, FAILED, CANCELLED) may be pruned")
    if older_than is None and keep_per_workflow is None:
        raise InvalidInput("older_than", "say how old a run must be, or how many runs to keep, before pruning")
    if older_than is not None and older_than < timedelta(0):
        raise InvalidInput("older_than", "must not be negative")
    if keep_per_workflow is not None and keep_per_workflow < 0:
        raise InvalidInput("keep", "must not be negative")
    cutoff_time = _utc(now) - older_than if older_than is not None else None
    plans: list[tuple[str | None, tuple[datetime, str] | None]] = []
    if keep_per_workflow is None:
        plans.append((workflow_id, None))
    else:
        with engine.connect() as conn:
            if workflow_id is not None:
                workflow_ids: Sequence[str] = [workflow_id]
            else:
                workflow_ids = [
                    str(w) for w in conn.execute(sa.select(workflows.c.id).order_by(workflows.c.id)).scalars()
                ]
            for wid in workflow_ids:
                bound = _keep_cutoff(conn, wid, keep_per_workflow)
                if bound is not None or keep_per_workflow == 0:
                    plans.append((wid, bound))
    finished = [status.value for status in statuses]
    for planned_workflow, keep_bound in plans:
        yield from _prune_range(engine, planned_workflow, keep_bound, cutoff_time, batch_size, finished)


def _prune_range(
    engine: sa.Engine,
    workflow_id: str | None,
    bound: tuple[datetime, str] | None,
    cutoff_time: datetime | None,
    batch_size: int,
    finished: list[str],
) -> Iterator[PruneResult]:
    """Walk newest-first from `bound` (exclusive) down, deleting the runs finished as `finished` a batch at a time."""
    position = bound
    while True:
        where: list[sa.ColumnElement[bool]] = [runs.c.status.in_(finished)]
        if workflow_id is not None:
            where.append(runs.c.workflow_id == workflow_id)
        if cutoff_time is not None:
            where.append(runs.c.created_at < sa.literal(cutoff_time, runs.c.created_at.type))
        if position is not None:
            where.append(_before(runs, position))
        with engine.begin() as conn:
            page = conn.execute(
                sa.select(runs.c.created_at, runs.c.id, runs.c.status)
                .where(*where)
                .order_by(runs.c.created_at.desc(), runs.c.id.desc())
                .limit(batch_size)
            ).all()
            if not page:
                return
            position = (page[-1].created_at, page[-1].id)
            doomed = [r.id for r in page if r.status in finished]
            if doomed:
                yield _delete_runs(conn, doomed, finished)
        if len(page) < batch_size:
            return


def delete_finished(engine: sa.Engine, run_ids: Sequence[str], *, batch_size: int = 500) -> PruneResult:
    """Delete the runs of `run_ids` that have ended (and owe no callback), with everything about them.

    Runs that are queued, running or paused, or unknown, are left as they are: the result says how many went.
    """
    finished = [status.value for status in FINISHED_STATUSES]
    wanted = list(dict.fromkeys(run_ids))
    total = PruneResult()
    for start in range(0, len(wanted), batch_size):
        with engine.begin() as conn:
            total += _delete_runs(conn, wanted[start : start + batch_size], finished)
    return total


def _delete_runs(conn: sa.Connection, run_ids: list[str], finished: list[str]) -> PruneResult:
    """Delete the runs of `run_ids` that are still `finished` (and owe no callback), with everything about them.

    The status is checked again under a lock (a row lock on PostgreSQL; SQLite's write lock, taken by the
    first DELETE) so a run re-queued meanwhile (re-run from its failed node) keeps its history.
    """
    still_finished = sa.select(runs.c.id).where(
        runs.c.id.in_(run_ids),
        runs.c.status.in_(finished),
        sa.or_(
            runs.c.callback_state.is_(None), runs.c.callback_state != CallbackState.PENDING.value
        ),  # a callback still to send
    )
    if conn.dialect.name == "postgresql":
        conn.execute(still_finished.with_for_update()).all()
    counts = [
        conn.execute(table.delete().where(table.c.run_id.in_(still_finished.scalar_subquery()))).rowcount
        for table in (node_runs, approvals, deliveries)
    ]
    gone = conn.execute(runs.delete().where(runs.c.id.in_(still_finished.scalar_subquery()))).rowcount
    return PruneResult(gone, counts[0], counts[1], counts[2])


# --- one approval -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval row with what it belongs to (the run, its workflow)."""

    id: str
    status: str
    run_id: str
    node_key: str
    proposal: Any
    output: Any
    created_at: datetime
    deadline_at: datetime | None
    on_deadline: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    run_status: RunStatus
    run_input: Any
    workflow_id: str
    workflow_version: int
    workflow_name: str
    details: dict[str, Any] | None = None
    """What an agent step's approval is about (a tool call, a token budget); None for a step's proposal."""


def _approval_details(extra: Any) -> dict[str, Any] | None:
    """An approval's `extra` as people and clients see it: without the engine's own flags."""
    details = {k: v for k, v in (extra or {}).items() if k != "resume"}
    return details or None


def find_approval(conn: sa.Connection, approval_id: str) -> ApprovalRecord | None:
    row = conn.execute(
        sa.select(
            approvals,
            runs.c.status.label("run_status"),
            runs.c.input.label("run_input"),
            runs.c.workflow_id,
            runs.c.workflow_version,
            workflows.c.name.label("workflow_name"),
        )
        .select_from(
            approvals.join(runs, runs.c.id == approvals.c.run_id).outerjoin(
                workflows, workflows.c.id == runs.c.workflow_id
            )
        )
        .where(approvals.c.id == approval_id)
    ).first()
    if row is None:
        return None
    return ApprovalRecord(
        id=row.id,
        status=row.status,
        run_id=row.run_id,
        node_key=row.node_key,
        proposal=row.proposal,
        output=row.output,
        created_at=row.created_at,
        deadline_at=row.deadline_at,
        on_deadline=row.on_deadline,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
        run_status=RunStatus(row.run_status),
        run_input=row.run_input,
        workflow_id=row.workflow_id,
        workflow_version=row.workflow_version,
        workflow_name=row.workflow_name if row.workflow_name is not None else row.workflow_id,
        details=_approval_details(row.extra),
    )
