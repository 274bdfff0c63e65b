"""The state of one run while it is driven: node statuses, outputs, and which nodes are ready.

Pure bookkeeping over a `Plan`; no I/O. The executor asks `advance()` what to start or skip next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.engine.exceptions import MappingError
from app.engine.model import EdgeSpec, NodeRunRecord, NodeStatus
from app.engine.plan import Plan

__all__ = ["Advance", "RunState"]

ConditionRenderer = Callable[[EdgeSpec, Any], Any]


@dataclass
class Advance:
    ready: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class RunState:
    def __init__(self, plan: Plan, records: Iterable[NodeRunRecord] = ()) -> None:
        self.plan = plan
        self.status: dict[str, NodeStatus] = dict.fromkeys(plan.nodes, NodeStatus.PENDING)
        self.outputs: dict[str, Any] = {}
        self.handles: dict[str, list[str] | None] = {}
        self.attempts: dict[str, int] = dict.fromkeys(plan.nodes, 0)
        self.errors: dict[str, str] = {}
        self.usage: dict[str, dict[str, Any]] = {}
        self.started: dict[str, datetime] = {}
        """When steps that a decision sent back to work (an agent's tool call) first started."""
        """Token usage stored for steps that have not ended (in flight at a crash, sent back by a decision)."""
        self._candidates: set[str] = set(plan.nodes)
        for record in records:
            if record.node_key not in self.status:
                continue
            self.attempts[record.node_key] = record.attempt
            if record.usage and not record.status.is_terminal:
                self.usage[record.node_key] = record.usage
            if record.started_at is not None and record.status is NodeStatus.PENDING:
                self.started[record.node_key] = record.started_at  # sent back to work by a decision: one step
            if record.status is NodeStatus.RUNNING:
                continue  # was in flight when its process died: it runs again
            self.status[record.node_key] = record.status
            if record.status is NodeStatus.COMPLETED:
                self.outputs[record.node_key] = record.output
                self.handles[record.node_key] = record.handles
            if record.error:
                self.errors[record.node_key] = record.error

    def count(self, status: NodeStatus) -> int:
        return sum(1 for s in self.status.values() if s is status)

    def edge_fires(self, edge: EdgeSpec, render_condition: ConditionRenderer) -> bool:
        if self.status[edge.source] is not NodeStatus.COMPLETED:
            return False
        chosen = self.handles.get(edge.source)
        if chosen is not None and edge.source_handle not in chosen:
            return False
        if edge.condition is None:
            return True
        return bool(render_condition(edge, self.outputs[edge.source]))

    def settle(self, key: str, status: NodeStatus) -> None:
        """Record a node's new status; its successors become candidates for the next `advance`."""
        self.status[key] = status
        if status.is_terminal:
            self._candidates.update(e.target for e in self.plan.outgoing[key])

    def advance(self, render_condition: ConditionRenderer) -> Advance:
        """Nodes to start now, nodes that can never run (all inputs skipped), nodes whose edges failed.

        Only nodes that may have changed are looked at: at first all of them, then the successors of
        nodes that ended since the last call (a node left pending stays a candidate).
        """
        result = Advance()
        candidates = sorted(self._candidates, key=self.plan.position)
        self._candidates = set()
        for key in candidates:
            if self.status[key] is not NodeStatus.PENDING:
                continue
            incoming = self.plan.incoming[key]
            if not incoming:
                result.ready.append(key)
                continue
            if any(not self.status[p].is_terminal for p in self.plan.predecessors[key]):
                continue  # a predecessor's end will make it a candidate again
            try:
                fired = any(self.edge_fires(edge, render_condition) for edge in incoming)
            except MappingError as exc:
                result.failed[key] = f"edge condition: {exc}"
                self.settle(key, NodeStatus.FAILED)
                continue
            if fired:
                result.ready.append(key)
            else:
                self.settle(key, NodeStatus.SKIPPED)
                result.skipped.append(key)
        return result

    @property
    def has_candidates(self) -> bool:
        """Whether a step ended since the last `advance` (so its successors may be ready or skipped now)."""
        return bool(self._candidates)

    def requeue(self, key: str) -> None:
        """A ready node that could not start yet (concurrency limit): look at it again next time."""
        self._candidates.add(key)

    def input_for(self, key: str, payload: Any, render_condition: ConditionRenderer) -> Any:
        """The node's `input`: the payload for an entry node, the previous output, or a dict of them."""
        predecessors = self.plan.predecessors[key]
        if not predecessors:
            return payload
        fired = [
            source
            for source in predecessors
            if any(e.source == source and self.edge_fires(e, render_condition) for e in self.plan.incoming[key])
        ]
        if len(predecessors) == 1:
            return self.outputs.get(fired[0]) if fired else None
        return {source: self.outputs[source] for source in fired}

    def final_output(self, until: str | None = None) -> Any:
        """The run's output: the completed sink's output, or a dict of them when several completed; the output
        of `until` for a run that runs up to that step."""
        if until is not None:
            return self.outputs.get(until)
        done = [k for k in self.plan.sink_nodes if self.status[k] is NodeStatus.COMPLETED]
        if len(done) == 1:
            return self.outputs[done[0]]
        return {k: self.outputs[k] for k in done}
