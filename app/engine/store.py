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

from app.engine.model import (
    AgentStep,
    Approval,
    CallbackDelivery,
    CallbackState,
    NodeRunRecord,
    RunRecord,
    RunStatus,
    WorkflowDefinition,
)

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

    async def get_agent_steps(self, run_id: str, node_key: str | None = None) -> list[AgentStep]:
        """The run's agent-loop entries (of one step when `node_key` is given), by step key then `seq`."""
        ...

    async def due_approvals(self, *, now: datetime, limit: int) -> list[Approval]:
        """Pending approvals whose deadline passed by `now` and whose policy acts on it (approve or reject),
        earliest deadline first: what the deadline sweep decides (`app.engine.deadlines`)."""
        ...

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

        Approving completes the node with `output` and queues the run; rejecting fails the node. An approval
        that `resumes` (an agent's tool call) leaves the node PENDING either way, so it runs again and reads
        the decision.
        Raises NotFound for an unknown run, Conflict when the run is not paused or nothing waits.
        """
        ...

    async def request_cancel(self, run_id: str, *, now: datetime) -> RunRecord:
        """Cancel at once a run nobody drives (queued, paused); flag a driven one for its owner.

        Cancelling at once makes the run's callback due (as `finish_run` does), in the same transaction.
        Raises NotFound, or Conflict when the run has already ended.
        """
        ...

    async def reset_for_rerun(self, run_id: str, *, now: datetime) -> RunRecord:
        """Queue a FAILED or CANCELLED run again, keeping its completed nodes. Raises NotFound/Conflict.

        A callback not yet delivered is dropped: the run's next end makes a new one due. The loops of the steps
        that had not completed are dropped too: an agent step that runs again starts its loop afresh.
        """
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

    async def save_agent_steps(self, owner: str, steps: Sequence[AgentStep], *, now: datetime) -> None:
        """Write agent-loop entries (insert or replace by run, step and seq) while `owner` holds their runs.

        A COMPLETED entry is never overwritten. Raises LeaseLost when the lease is gone."""
        ...

    async def save_waiting_node(
        self, owner: str, node: NodeRunRecord, approval: Approval, *, now: datetime
    ) -> None: ...

    async def finish_run(
        self, run_id: str, owner: str, *, status: RunStatus, output: Any, error: str | None, now: datetime
    ) -> None:
        """Set a terminal status (or PAUSED) and release the lease.

        A terminal status makes the run's callback (if it has a URL) PENDING and due `now`, with no attempts
        yet, in the same transaction: a crash right after cannot lose it.
        """
        ...

    # --- callbacks ---------------------------------------------------------------------------------
    async def claim_callbacks(self, owner: str, *, now: datetime, until: datetime, limit: int) -> list[RunRecord]:
        """Claim up to `limit` PENDING callbacks due by `now`, earliest first, for `owner` until `until`.

        A callback another owner claimed is skipped until that claim expires; each claim is atomic, so two
        processes never claim the same attempt. Returns the claimed runs as they are now.
        """
        ...

    async def record_callback_attempt(
        self, owner: str, delivery: CallbackDelivery, *, state: CallbackState, next_due_at: datetime | None
    ) -> bool:
        """Keep one attempt and, while `owner` still holds the claim, move the callback on and release the claim.

        The run's attempt count becomes `delivery.attempt`, its state `state`, its due time `next_due_at`.
        Returns False (having kept only the attempt) when the claim was lost meanwhile.
        """
        ...

    async def release_callback(self, run_id: str, owner: str) -> None:
        """Give up `owner`'s claim without an attempt (shutting down), so another process sends it at once."""
        ...

    async def get_callback_deliveries(self, run_id: str) -> list[CallbackDelivery]:
        """Every recorded attempt of the run's callback, oldest first."""
        ...
