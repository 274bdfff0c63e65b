"""The audit log: who did what, when and from where, kept in the database and pruned by age.

Changes record their entry in the transaction that makes them (`add`), so an entry exists exactly when the
change does; what changes nothing (a login, a failed login) records on its own (`record`).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models.people import AuditEntry, Principal
from storage.db import Database
from storage.models import AuditEventRow

__all__ = ["AuditQuery", "AuditService"]

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    """Part of the actor's email or label."""
    action: str | None = None
    """An action, or its family: 'login' matches 'login' and 'login.failed'."""
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    """Entries older than this one (the next page)."""
    limit: int = PAGE_SIZE


class AuditService:
    def __init__(self, db: Database, *, now: Callable[[], datetime], retention_days: int) -> None:
        self._db = db
        self._now = now
        self.retention_days = retention_days

    def add(
        self,
        session: Session,
        by: Principal,
        action: str,
        *,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record an entry in the caller's transaction."""
        session.add(
            AuditEventRow(
                at=self._now(),
                actor=by.label[:254],
                actor_id=by.user_id,
                action=action,
                target=target[:300] if target else None,
                detail=detail[:2000] if detail else None,
                ip=by.ip[:64] if by.ip else None,
            )
        )

    async def record(self, by: Principal, action: str, *, target: str | None = None, detail: str | None = None) -> None:
        await self._db.tx(lambda s: self.add(s, by, action, target=target, detail=detail))

    async def list(self, query: AuditQuery = AuditQuery()) -> builtins.list[AuditEntry]:
        """Entries newest first, filtered."""

        def read(session: Session) -> list[AuditEventRow]:
            statement = select(AuditEventRow).order_by(col(AuditEventRow.id).desc()).limit(query.limit)
            if query.actor:
                statement = statement.where(col(AuditEventRow.actor).contains(query.actor.strip().lower()))
            if query.action:
                family = query.action.strip()
                statement = statement.where(
                    sa.or_(col(AuditEventRow.action) == family, col(AuditEventRow.action).startswith(family + "."))
                )
            if query.since:
                statement = statement.where(col(AuditEventRow.at) >= query.since)
            if query.until:
                statement = statement.where(col(AuditEventRow.at) < query.until)
            if query.before_id:
                statement = statement.where(col(AuditEventRow.id) < query.before_id)
            return list(session.exec(statement).all())

        return [AuditEntry.model_validate(row) for row in await self._db.tx(read)]

    async def actions(self) -> builtins.list[str]:
        """Every action recorded so far, for the page's filter."""
        rows = await self._db.tx(lambda s: s.exec(select(AuditEventRow.action).distinct()).all())
        return sorted(rows)

    async def prune(self) -> int:
        """Delete entries older than the retention period; how many went."""
        cutoff = self._now() - timedelta(days=self.retention_days)

        def prune(session: Session) -> int:
            result = session.execute(sa.delete(AuditEventRow).where(col(AuditEventRow.at) < cutoff))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

        return await self._db.tx(prune)
