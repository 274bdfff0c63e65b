"""The ordered-steps view of a graph: adding and removing a step keeps a sequence a sequence.

A workflow whose edges are exactly the chain of its steps in `stepOrder` stays such a chain: a new
step joins it at its place, a removed one's neighbours are joined. In any other graph, a new step
follows the steps it names (`after`) or the step before it, and a removed step's inputs are joined
to its outputs.
"""

from __future__ import annotations

import itertools

from pydantic import ValidationError

from app.engine.exceptions import InvalidInput
from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.models.workflows import StepCreate

__all__ = ["add_step", "free_key", "remove_step"]


def in_step_order(nodes: list[NodeSpec]) -> list[NodeSpec]:
    return sorted(nodes, key=lambda n: (n.step_order if n.step_order is not None else 1 << 30, n.position.x))


def is_chain(definition: WorkflowDefinition) -> bool:
    """True when the edges are exactly the chain of nodes in step order (or there are none)."""
    if not definition.edges:
        return True
    ordered = in_step_order(definition.nodes)
    chain = {(a.key, b.key) for a, b in itertools.pairwise(ordered)}
    plain = all(e.source_handle is None and e.condition is None for e in definition.edges)
    return plain and {(e.source, e.target) for e in definition.edges} == chain


def _chain_edges(nodes: list[NodeSpec]) -> list[EdgeSpec]:
    ordered = in_step_order(nodes)
    return [EdgeSpec(source=a.key, target=b.key) for a, b in itertools.pairwise(ordered)]


def _renumber(nodes: list[NodeSpec]) -> None:
    for number, node in enumerate(in_step_order(nodes), start=1):
        node.step_order = number
        node.position.x, node.position.y = (number - 1) * 280.0, node.position.y


def free_key(taken: set[str]) -> str:
    number = len(taken) + 1
    while f"step_{number}" in taken:
        number += 1
    return f"step_{number}"


def add_step(definition: WorkflowDefinition, step: StepCreate) -> str:
    """Add `step` to `definition` (in place) and return its key. Without `after`, it joins the sequence at
    `stepOrder` (default: the end). Raises InvalidInput naming the field for a taken key or unknown `after`."""
    keys = {n.key for n in definition.nodes}
    key = step.key or free_key(keys)
    if key in keys:
        raise InvalidInput("key", f"the workflow already has a step with key '{key}'")
    if step.after is not None:
        unknown = [k for k in step.after if k not in keys]
        if unknown:
            raise InvalidInput("after", f"no step with key {', '.join(map(repr, unknown))}")
    was_chain = is_chain(definition)
    last = max((n.step_order or 0 for n in definition.nodes), default=0)
    order = step.step_order if step.step_order is not None else last + 1
    for node in definition.nodes:
        if node.step_order is not None and node.step_order >= order:
            node.step_order += 1
    try:
        node = NodeSpec(
            key=key,
            agent_id=step.agent_id,
            name=step.name,
            action=step.action,
            config=step.config,
            input_mapping=step.input_mapping,
            step_order=order,
            needs_approval=step.needs_approval,
            retries=step.retries,
            retry_backoff_seconds=step.retry_backoff_seconds,
            timeout_seconds=step.timeout_seconds,
            disabled=step.disabled,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(str(err["loc"][0]) if err["loc"] else "step", err["msg"]) from None
    definition.nodes.append(node)
    if step.after is not None:
        definition.edges.extend(EdgeSpec(source=k, target=key) for k in dict.fromkeys(step.after))
    elif was_chain:
        _renumber(definition.nodes)
        definition.edges = _chain_edges(definition.nodes)
    else:
        before = [n for n in definition.nodes if n.key != key and (n.step_order or 0) < order]
        if before:
            previous = max(before, key=lambda n: n.step_order or 0)
            definition.edges.append(EdgeSpec(source=previous.key, target=key))
    return key


def remove_step(definition: WorkflowDefinition, key: str) -> None:
    """Remove the step `key` from `definition` (in place), joining its neighbours."""
    was_chain = is_chain(definition)
    definition.nodes = [n for n in definition.nodes if n.key != key]
    if was_chain:
        _renumber(definition.nodes)
        definition.edges = _chain_edges(definition.nodes)
        return
    incoming = [e for e in definition.edges if e.target == key]
    outgoing = [e for e in definition.edges if e.source == key]
    definition.edges = [e for e in definition.edges if key not in (e.source, e.target)]
    existing = {e.id for e in definition.edges}
    for into in incoming:
        for out in outgoing:
            bridge = EdgeSpec(
                source=into.source, target=out.target, source_handle=into.source_handle, condition=into.condition
            )
            if bridge.id not in existing:
                definition.edges.append(bridge)
                existing.add(bridge.id)
