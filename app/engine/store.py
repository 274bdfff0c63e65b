"""The store the engine needs, as a Protocol. `storage.run_store.SqlRunStore` satisfies it for
SQLite and PostgreSQL, `app.engine.memory.InMemoryRunStore` for unit tests; one contract suite
(`tests/storage/test_run_store_contract.py`) holds all of them to the same behaviour.

Writes that advance a run are fenced by its lease: they take effect only while `owner` still
holds the run, and raise `LeaseLost` otherwise, so a process that lost its lease cannot
overwrite the progress of the one that took the run over.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.engine.model import Approval, NodeRunRecord, RunRecord, RunStatus, WorkflowDefinition

__all__ = ["AgentRecord", "LeaseInfo", "LeaseRenewal", "RunStore"]


@dataclass(frozen=True)
class AgentRecord:
    """A saved agent: a stable id, its kind and the kind's config."""

    id: str
    kind: str
    name: str = ""
    config: dict[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class LeaseInfo:
    """An active run that is not paused, and who holds it (if anyone)."""

    run_id: str
    owner: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class LeaseRenewal:
    held: set[str]
    """Runs `owner` still holds after renewing."""
    cancel_requested: set[str]
    """Of those, the runs someone asked to cancel."""


class RunStore(Protocol):
    # --- reading -------------------------------------------------------------------------
    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def get_definition(self, workflow_id: str, version: int) -> WorkflowDefinition | None: ...

    async def get_agents(self, agent_ids: Collection[str]) -> dict[str, AgentRecord]: ...

    async def get_node_runs(self, run_id: str) -> list[NodeRunRecord]:
        """The run's node records in step order (a node without one counts as 0), then by key."""
        ...

    async def get_approvals(self, run_id: str) -> list[Approval]: ...

    # --- creating and commanding ------------------------------------------------------------
    async def create_run(self, run: RunRecord) -> None: ...

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
        """Decide the pending approval of a PAUSED run (the earliest one when `node_key` is None).

        Approving completes the node with `output` and queues the run; rejecting fails the node.
        Raises NotFound for an unknown run, Conflict when the run is not paused or nothing waits.
        """
        ...

    async def request_cancel(self, run_id: str, *, now: datetime) -> RunRecord:
        """Cancel at once a run nobody drives (queued, paused); flag a driven one for its owner.

        Raises NotFound, or Conflict when the run has already ended.
        """
        ...

    async def reset_for_rerun(self, run_id: str, *, now: datetime) -> RunRecord:
        """Queue a FAILED or CANCELLED run again, keeping its completed nodes. Raises NotFound/Conflict."""
        ...

    # --- leases ------------------------------------------------------------------------------
    async def acquire_lease(
        self, run_id: str, owner: str, *, until: datetime, now: datetime, steal_from: str | None = None
    ) -> bool:
        """Take a QUEUED or RUNNING run if nobody holds it, its lease expired, or `steal_from` holds it."""
        ...

    async def renew_leases(self, owner: str, *, until: datetime) -> LeaseRenewal: ...

    async def release_lease(self, run_id: str, owner: str) -> None: ...

    async def runs_to_drive(self, *, limit: int) -> list[LeaseInfo]:
        """QUEUED and RUNNING runs with their lease holders, oldest first."""
        ...

    # --- progress (fenced by the lease) ---------------------------------------------------------
    async def start_run(self, run_id: str, owner: str, *, now: datetime) -> None: ...

    async def save_node(self, owner: str, node: NodeRunRecord, *, now: datetime) -> None:
        """Write a node's state. A COMPLETED node is never overwritten."""
        ...

    async def save_nodes(
        self, owner: str, nodes: Sequence[NodeRunRecord], *, approvals: Sequence[Approval] = (), now: datetime
    ) -> None:
        """Write several nodes' states (and new approvals) in one transaction, as `save_node` would each."""
        ...

    async def save_waiting_node(
        self, owner: str, node: NodeRunRecord, approval: Approval, *, now: datetime
    ) -> None: ...

    async def finish_run(
        self, run_id: str, owner: str, *, status: RunStatus, output: Any, error: str | None, now: datetime
    ) -> None:
        """Set a terminal status (or PAUSED) and release the lease."""
        ...
