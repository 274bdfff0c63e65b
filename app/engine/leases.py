"""Run leases: which process drives a run, for how long, and how a process knows its peer is gone.

A process drives a run only while it holds the run's lease in the store, renewed every third of the
lease. Owner ids name the host and the process, so a process can tell at once that a peer on its own
host died (its pid is gone) instead of waiting for the peer's leases to expire.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime

from app.engine.store import RunStore

__all__ = ["LeaseCheck", "default_owner", "owner_is_gone", "renew"]


def default_owner() -> str:
    """This process's lease owner id: host, pid and a random part (two executors in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def owner_is_gone(owner: str) -> bool:
    """True when `owner` names a process on this host that no longer exists: its runs can be taken now."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class LeaseCheck:
    """What a renewal found among the runs a process believes it holds."""

    lost: set[str]
    """Runs whose lease another process holds now: stop driving them."""
    cancel_requested: set[str]
    """Held runs someone asked to cancel (perhaps through another process): stop them as cancelled."""


async def renew(store: RunStore, owner: str, held: set[str], *, until: datetime) -> LeaseCheck:
    """Extend every lease `owner` holds to `until`, and say which of `held` it lost or must cancel."""
    renewal = await store.renew_leases(owner, until=until)
    return LeaseCheck(lost=held - renewal.held, cancel_requested=renewal.cancel_requested & held)
