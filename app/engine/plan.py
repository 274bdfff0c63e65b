"""Planning: check that a definition can run, and index its graph for the executor.

`validate` lists every problem (each naming its node or edge) without stopping at the first;
`Plan` is the indexed graph: predecessors, successors, entry and sink nodes, a stable order.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from app.engine import mapping
from app.engine.exceptions import Problem, WorkflowInvalid
from app.engine.kinds import Kinds, build
from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.engine.store import AgentRecord

__all__ = ["Plan", "agents_fingerprint", "effective_config", "structure_problems", "validate"]


def agents_fingerprint(agents: Mapping[str, AgentRecord]) -> str:
    """A value that changes whenever any of these saved agents' kind or config changes."""
    return repr(sorted((a.id, a.kind, sorted((a.config or {}).items())) for a in agents.values()))


def effective_config(node: NodeSpec, agent: AgentRecord) -> dict[str, object]:
    """The saved agent's config with the node's own settings laid over it."""
    return {**(agent.config or {}), **node.config}


@dataclass
class Plan:
    """A definition indexed for execution. Build it with `Plan.of` (which validates structure)."""

    definition: WorkflowDefinition
    nodes: dict[str, NodeSpec]
    incoming: dict[str, list[EdgeSpec]]
    outgoing: dict[str, list[EdgeSpec]]
    order: list[str]
    predecessors: dict[str, list[str]] = field(default_factory=dict)
    _ancestors: dict[str, frozenset[str]] | None = field(default=None, repr=False)
    _positions: dict[str, int] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, definition: WorkflowDefinition) -> Plan:
        problems = _structure_problems(definition)
        if problems:
            raise WorkflowInvalid(problems)
        return cls._index(definition)

    @classmethod
    def _index(cls, definition: WorkflowDefinition) -> Plan:
        nodes = {n.key: n for n in definition.nodes}
        incoming: dict[str, list[EdgeSpec]] = {k: [] for k in nodes}
        outgoing: dict[str, list[EdgeSpec]] = {k: [] for k in nodes}
        for edge in definition.edges:
            if edge.source in nodes and edge.target in nodes:
                incoming[edge.target].append(edge)
                outgoing[edge.source].append(edge)
        predecessors = {k: list(dict.fromkeys(e.source for e in incoming[k])) for k in nodes}
        return cls(definition, nodes, incoming, outgoing, _topological(nodes, outgoing, incoming), predecessors)

    @property
    def entry_nodes(self) -> list[str]:
        return [k for k in self.order if not self.incoming[k]]

    @property
    def sink_nodes(self) -> list[str]:
        return [k for k in self.order if not self.outgoing[k]]

    def ancestors(self, key: str) -> frozenset[str]:
        """Every node that runs before `key` on some path to it."""
        if self._ancestors is None:
            table: dict[str, frozenset[str]] = {}
            for current in self.order:
                table[current] = frozenset().union(*(table[p] | {p} for p in self.predecessors[current]))
            self._ancestors = table
        return self._ancestors.get(key, frozenset())

    def upstream(self, key: str) -> frozenset[str]:
        """`key` and every step it depends on: what “run up to here” runs."""
        return self.ancestors(key) | {key}

    def position(self, key: str) -> int:
        """1-based place of `key` in the execution order."""
        if self._positions is None:
            self._positions = {k: i for i, k in enumerate(self.order, start=1)}
        return self._positions[key]


def _sort_key(node: NodeSpec, index: int) -> tuple[int, float, float, int]:
    order = node.step_order if node.step_order is not None else 1_000_000_000
    return (order, node.position.x, node.position.y, index)


def _topological(
    nodes: Mapping[str, NodeSpec], outgoing: Mapping[str, list[EdgeSpec]], incoming: Mapping[str, list[EdgeSpec]]
) -> list[str]:
    """Kahn's algorithm, ties broken by step order, then position: the order people expect."""
    rank = {key: _sort_key(node, i) for i, (key, node) in enumerate(nodes.items())}
    remaining = {k: len({e.source for e in incoming[k]}) for k in nodes}
    heap = [(rank[k], k) for k, n in remaining.items() if n == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, key = heapq.heappop(heap)
        order.append(key)
        for target in dict.fromkeys(e.target for e in outgoing[key]):
            remaining[target] -= 1
            if remaining[target] == 0:
                heapq.heappush(heap, (rank[target], target))
    return order


def structure_problems(definition: WorkflowDefinition) -> list[Problem]:
    """Problems of the graph itself (duplicate keys, dangling or repeated edges, cycles, loose nodes)."""
    return _structure_problems(definition)


def _structure_problems(definition: WorkflowDefinition) -> list[Problem]:
    problems: list[Problem] = []
    if not definition.nodes:
        return [Problem("the workflow has no steps; add one first")]
    keys: set[str] = set()
    for node in definition.nodes:
        if node.key in keys:
            problems.append(Problem(f"two steps share the key '{node.key}'", node=node.key, field="key"))
        keys.add(node.key)
    seen_edges: set[str] = set()
    for edge in definition.edges:
        for end, key in (("source", edge.source), ("target", edge.target)):
            if key not in keys:
                problems.append(Problem(f"edge {edge.id} has unknown {end} step '{key}'", edge=edge.id, field=end))
        if edge.source == edge.target:
            problems.append(Problem(f"step '{edge.source}' is connected to itself", node=edge.source, edge=edge.id))
        if edge.id in seen_edges:
            problems.append(Problem(f"edge {edge.id} appears twice", edge=edge.id))
        seen_edges.add(edge.id)
    if problems:
        return problems
    plan = Plan._index(definition)
    if len(plan.order) < len(plan.nodes):
        in_cycle = [k for k in plan.nodes if k not in set(plan.order)]
        problems.append(
            Problem(f"the graph has a cycle through {', '.join(sorted(in_cycle))}", node=sorted(in_cycle)[0])
        )
    if len(plan.nodes) > 1:
        for key in plan.nodes:
            if not plan.incoming[key] and not plan.outgoing[key]:
                problems.append(Problem(f"step '{key}' is not connected to the rest of the workflow", node=key))
    return problems


def validate(definition: WorkflowDefinition, agents: Mapping[str, AgentRecord], kinds: Kinds) -> list[Problem]:
    """Every reason `definition` cannot run, given the saved agents it may refer to and the kinds there are."""
    problems = _structure_problems(definition)
    if any(p.message.startswith(("the workflow has no steps", "two steps", "edge ")) for p in problems):
        return problems
    plan = Plan._index(definition)
    for key, node in plan.nodes.items():
        agent = agents.get(node.agent_id)
        handles: list[str] | None = None
        if agent is None:
            problems.append(Problem(f"step '{key}' uses unknown agent '{node.agent_id}'", node=key, field="agent_id"))
        elif agent.kind not in kinds:
            problems.append(
                Problem(
                    f"agent '{agent.id}' of step '{key}' has unknown kind '{agent.kind}'", node=key, field="agent_id"
                )
            )
        else:
            try:
                handles = build(kinds, agent.kind, effective_config(node, agent)).outcome_handles()
            except ValidationError as exc:
                for err in exc.errors():
                    where = ".".join(str(p) for p in err["loc"]) or "config"
                    message = str(err["msg"]).removeprefix("Value error, ")  # (pydantic's, before a validator's)
                    problems.append(Problem(f"step '{key}': config {where}: {message}", node=key, field="config"))
        if node.disabled and handles is not None:
            problems.append(
                Problem(
                    f"step '{key}' is turned off, but its outcomes decide which way the run goes: turn it on or "
                    "remove it",
                    node=key,
                    field="disabled",
                )
            )
        for edge in plan.outgoing[key]:
            if handles is not None and edge.source_handle not in handles:
                choices = ", ".join(handles)
                problems.append(
                    Problem(
                        f"edge {edge.id} must leave '{key}' from one of its outcomes ({choices})",
                        node=key,
                        edge=edge.id,
                        field="source_handle",
                    )
                )
            elif handles is None and agent is not None and edge.source_handle is not None:
                problems.append(Problem(f"step '{key}' has no outcome '{edge.source_handle}'", node=key, edge=edge.id))
            if edge.condition is not None:
                for message in mapping.template_problems(edge.condition):
                    problems.append(Problem(f"edge {edge.id}: {message}", edge=edge.id, field="condition"))
        ancestors = plan.ancestors(key)
        for field_name, value in (("action", node.action), ("input_mapping", node.input_mapping)):
            for message in mapping.template_problems(value):
                problems.append(Problem(f"step '{key}' {field_name}: {message}", node=key, field=field_name))
            for ref in sorted(mapping.referenced_nodes(value)):
                if ref not in plan.nodes:
                    problems.append(
                        Problem(f"step '{key}' {field_name} refers to unknown step '{ref}'", node=key, field=field_name)
                    )
                elif ref not in ancestors:
                    problems.append(
                        Problem(
                            f"step '{key}' {field_name} refers to '{ref}', which does not run before it",
                            node=key,
                            field=field_name,
                        )
                    )
    return problems
