"""Approval deadlines: what happens to a paused run when nobody decides in time.

A node may give its approvals a deadline (`NodeSpec.approval_deadline_seconds`) and a policy for
when it passes (`NodeSpec.on_deadline`): approve the proposal as it stands, reject it, or keep
waiting (the default; the inbox then shows the approval as overdue). The executor sweeps
periodically; each due approval is decided through the same path a person's decision takes, so
the run carries on (or fails) and nobody's paused run silently dies.

Safe with many processes: deciding claims the paused run in one conditional write, so when two
sweeps find the same approval one decides it and the other gets `Conflict` and moves on. An
approval whose run is busy right now (another approval of it was just decided) is simply found
again by the next sweep.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from app import clock
from app.engine.exceptions import Conflict, NotFound
from app.engine.model import Approval
from app.engine.store import RunStore

__all__ = ["DEADLINE_DECIDER", "Decide", "sweep"]

log = logging.getLogger("flowyard.deadlines")

DEADLINE_DECIDER = "deadline"
"""`decided_by` of an approval the deadline decided."""


class Decide(Protocol):
    """`Executor.decide`: decides a paused run's approval at `node_key` and carries the run on."""

    async def __call__(
        self,
        run_id: str,
        node_key: str | None = None,
        *,
        approved: bool = True,
        output: Any = None,
        decided_by: str | None = None,
        reason: str | None = None,
    ) -> Approval: ...


async def sweep(store: RunStore, decide: Decide, *, now: datetime, limit: int = 100) -> list[Approval]:
    """Apply the policy of every approval whose deadline passed by `now`; return the ones decided here."""
    decided: list[Approval] = []
    for approval in await store.due_approvals(now=now, limit=limit):
        approve = approval.on_deadline == "approve"
        when = clock.iso(approval.deadline_at)
        try:
            result = await decide(
                approval.run_id,
                approval.node_key,
                approved=approve,
                output=approval.proposal if approve else None,
                decided_by=DEADLINE_DECIDER,
                reason=f"no decision by the deadline ({when}): {'approved' if approve else 'rejected'} automatically",
            )
        except (Conflict, NotFound) as exc:
            log.debug("approval %s not decided by its deadline sweep now: %s", approval.id, exc)
            continue
        decided.append(result)
    return decided
