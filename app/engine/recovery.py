"""Recovery: taking up the runs nobody alive drives.

A queued or running run whose lease expired, or whose owner is a dead process on this host, is
driven again by whichever process finds it first (the store's lease decides between two that do).
Its completed nodes are kept; the node that was in flight runs again (at least once).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from app.engine.leases import owner_is_gone
from app.engine.store import RunStore

__all__ = ["Orphan", "orphans"]

SCAN_LIMIT = 1000


@dataclass(frozen=True)
class Orphan:
    run_id: str
    steal_from: str | None
    """The dead owner whose unexpired lease is taken over; None when the lease is free or expired."""


async def orphans(store: RunStore, owner: str, *, driving: Collection[str], now: datetime) -> list[Orphan]:
    """The runs `owner` should take up now: queued or running, not driven here, and held by nobody alive."""
    found: list[Orphan] = []
    for info in await store.runs_to_drive(limit=SCAN_LIMIT):
        if info.run_id in driving:
            continue
        steal = None
        if info.owner and info.owner != owner and info.expires_at and info.expires_at > now:
            if not owner_is_gone(info.owner):
                continue
            steal = info.owner
        found.append(Orphan(info.run_id, steal))
    return found
