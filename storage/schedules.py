"""Repository functions for schedules and their fires.

A fire is one due time of a schedule. Its row is inserted before anything runs, and
(schedule_id, due_at) is unique: whichever process inserts it first owns that due time, which
is how a due time fires at most once however many processes share the database.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import RunRow, ScheduleFireRow, ScheduleRow, WorkflowRow
from storage.repositories import ACTIVE_STATUSES

__all__ = [
    "STARTING_GRACE",
    "FireOutcome",
    "active_fires",
    "add_fire",
    "claim_queued",
    "get_schedule",
    "list_schedules",
    "queued_schedule_ids",
    "recent_fires",
    "settle",
    "unsettled_ended_fires",
    "workflow_names",
]

STARTING_GRACE = timedelta(minutes=1)
"""How long a fire still starting its run counts as active (longer means its process died)."""


class FireOutcome:
    """What became of a due time."""

    STARTING = "starting"
    STARTED = "started"
    SKIPPED = "skipped-overlap"
    QUEUED = "queued"
    ERROR = "error"


def get_schedule(session: Session, *, schedule_id: str) -> ScheduleRow | None:
    return session.get(ScheduleRow, schedule_id)


def list_schedules(session: Session, *, workflow_id: str | None = None) -> list[ScheduleRow]:
    query = select(ScheduleRow)
    if workflow_id is not None:
        query = query.where(ScheduleRow.workflow_id == workflow_id)
    return list(session.exec(query.order_by(col(ScheduleRow.created_at), col(ScheduleRow.id))).all())


def workflow_names(session: Session, *, workflow_ids: Collection[str]) -> dict[str, str]:
    if not workflow_ids:
        return {}
    rows = session.exec(
        select(WorkflowRow.id, WorkflowRow.name).where(col(WorkflowRow.id).in_(list(workflow_ids)))
    ).all()
    return dict(rows)


def add_fire(
    session: Session, *, schedule_id: str, due_at: datetime, outcome: str, now: datetime
) -> ScheduleFireRow | None:
    """Take a due time: the new fire, or None when another process took it first."""
    fire = ScheduleFireRow(schedule_id=schedule_id, due_at=due_at, outcome=outcome, created_at=now)
    try:
        with session.begin_nested():
            session.add(fire)
    except sa.exc.IntegrityError:
        return None
    return fire


def active_fires(session: Session, *, schedule_id: str, now: datetime, exclude: int | None = None) -> int:
    """Fires of the schedule whose run is still active (queued, running or paused) or is being started."""
    running = (
        select(sa.func.count())
        .select_from(ScheduleFireRow)
        .join(RunRow, col(RunRow.id) == col(ScheduleFireRow.run_id))
        .where(ScheduleFireRow.schedule_id == schedule_id, col(RunRow.status).in_(ACTIVE_STATUSES))
    )
    starting = (
        select(sa.func.count())
        .select_from(ScheduleFireRow)
        .where(
            ScheduleFireRow.schedule_id == schedule_id,
            ScheduleFireRow.outcome == FireOutcome.STARTING,
            col(ScheduleFireRow.created_at) > now - STARTING_GRACE,
        )
    )
    if exclude is not None:
        starting = starting.where(ScheduleFireRow.id != exclude)
    return int(session.exec(running).one()) + int(session.exec(starting).one())


def queued_schedule_ids(session: Session) -> list[str]:
    query = select(ScheduleFireRow.schedule_id).where(ScheduleFireRow.outcome == FireOutcome.QUEUED).distinct()
    return list(session.exec(query).all())


def claim_queued(session: Session, *, schedule_id: str) -> ScheduleFireRow | None:
    """The oldest queued fire of the schedule, marked as starting; None when there is none or another took it."""
    fire = session.exec(
        select(ScheduleFireRow)
        .where(ScheduleFireRow.schedule_id == schedule_id, ScheduleFireRow.outcome == FireOutcome.QUEUED)
        .order_by(col(ScheduleFireRow.due_at))
        .limit(1)
    ).first()
    if fire is None:
        return None
    claimed = session.execute(
        sa.update(ScheduleFireRow)
        .where(col(ScheduleFireRow.id) == fire.id, col(ScheduleFireRow.outcome) == FireOutcome.QUEUED)
        .values(outcome=FireOutcome.STARTING)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(fire)
    return fire


def unsettled_ended_fires(session: Session, *, limit: int = 500) -> list[tuple[ScheduleFireRow, str | None]]:
    """Started fires whose run has ended (or was deleted) and whose outcome has not been counted yet, oldest first."""
    query = (
        select(ScheduleFireRow, RunRow.status)
        .join(RunRow, col(RunRow.id) == col(ScheduleFireRow.run_id), isouter=True)
        .where(
            ScheduleFireRow.outcome == FireOutcome.STARTED,
            col(ScheduleFireRow.settled_at).is_(None),
            sa.or_(col(RunRow.id).is_(None), col(RunRow.status).not_in(ACTIVE_STATUSES)),
        )
        .order_by(col(ScheduleFireRow.due_at))
        .limit(limit)
    )
    return [(fire, status) for fire, status in session.exec(query).all()]


def settle(session: Session, *, fire_id: int, now: datetime) -> bool:
    """Mark a fire's run as counted; False when another process counted it already."""
    result = session.execute(
        sa.update(ScheduleFireRow)
        .where(col(ScheduleFireRow.id) == fire_id, col(ScheduleFireRow.settled_at).is_(None))
        .values(settled_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def recent_fires(
    session: Session, *, schedule_ids: Collection[str], limit: int = 10
) -> dict[str, list[tuple[ScheduleFireRow, str | None]]]:
    """Each schedule's latest fires, newest first, with the status of their run."""
    if not schedule_ids:
        return {}
    ranked = (
        select(
            col(ScheduleFireRow.id).label("fire_id"),
            sa.func.row_number()
            .over(partition_by=col(ScheduleFireRow.schedule_id), order_by=col(ScheduleFireRow.due_at).desc())
            .label("rank"),
        )
        .where(col(ScheduleFireRow.schedule_id).in_(list(schedule_ids)))
        .subquery()
    )
    query = (
        select(ScheduleFireRow, RunRow.status)
        .join(ranked, ranked.c.fire_id == col(ScheduleFireRow.id))
        .join(RunRow, col(RunRow.id) == col(ScheduleFireRow.run_id), isouter=True)
        .where(ranked.c.rank <= limit)
        .order_by(col(ScheduleFireRow.due_at).desc())
    )
    fires: dict[str, list[tuple[ScheduleFireRow, str | None]]] = {schedule_id: [] for schedule_id in schedule_ids}
    for fire, status in session.exec(query).all():
        fires[fire.schedule_id].append((fire, status))
    return fires
