"""The run store's callbacks: claiming due ones, recording each attempt, reading them back.

A mixin of `storage.run_store.SqlRunStore` (it works on the same database and statements).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.engine.model import (
    CallbackDelivery,
    CallbackState,
    RunRecord,
)
from storage.db import Database
from storage.models import deliveries, runs
from storage.run_rows import row_to_run

__all__ = ["CallbackRows"]


class CallbackRows:
    """`RunStore`'s callback methods, on SQL."""

    db: Database
    engine: sa.Engine

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
        return bool(held == 1)

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
