"""Between a workflow definition and the graph editor's plain data, in both directions.

The editor element knows nothing of Flowyard's model: it shows cards with a title, an icon, an agent
id and outcome handles, and carries each node's settings as an opaque `spec`. This module is the
only place that maps one to the other, so the page stays thin and both directions stay in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from app.agents import registry
from app.agents.base import Group
from app.engine.exceptions import Problem
from app.engine.model import EdgeSpec, NodeSpec, Note, Position, WorkflowDefinition
from app.engine.plan import effective_config
from app.engine.store import AgentRecord

__all__ = ["SPEC_FIELDS", "definition_to_graph", "graph_to_definition", "palette_entries", "problems_by_node"]

SPEC_FIELDS = ("agent_id", "name", "action", "config", "input_mapping", "step_order", "needs_approval", "retries",
               "retry_backoff_seconds", "timeout_seconds", "approval_deadline_seconds", "on_deadline",
               "disabled")  # fmt: skip
SAVED_AGENTS = "Saved agents"


def _handles(agent: AgentRecord | None, node: NodeSpec | None = None) -> list[str] | None:
    if agent is None or registry.get_kind(agent.kind) is None:
        return None
    config = effective_config(node, agent) if node is not None else dict(agent.config or {})
    try:
        return registry.build(agent.kind, config).outcome_handles()
    except ValidationError:
        return None


def node_data(node: NodeSpec, agent: AgentRecord | None) -> dict[str, Any]:
    """The card's data for one node: what it shows, plus the node's settings as `spec`."""
    kind = registry.get_kind(agent.kind) if agent else None
    spec = node.model_dump(mode="json", include=set(SPEC_FIELDS))
    return {
        "title": node.name or (agent.name if agent else node.agent_id),
        "agentId": node.agent_id,
        "kind": agent.kind if agent else "",
        "icon": kind.icon if kind else "help_outline",
        "handles": _handles(agent, node),
        "status": None,
        "problems": [],
        "needsApproval": node.needs_approval or bool(kind and kind.pauses),
        "retries": node.retries,
        "disabled": node.disabled,
        "spec": spec,
    }


def definition_to_graph(definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]) -> dict[str, Any]:
    nodes = [
        {
            "id": node.key,
            "position": {"x": node.position.x, "y": node.position.y},
            "data": node_data(node, agents.get(node.agent_id)),
        }
        for node in definition.nodes
    ]
    edges = [
        {
            "id": edge.id,
            "source": edge.source,
            "target": edge.target,
            "sourceHandle": edge.source_handle,
            "label": edge.source_handle,
            **({"data": {"condition": edge.condition}} if edge.condition else {}),
        }
        for edge in definition.edges
    ]
    notes = [
        {
            "id": note.id,
            "text": note.text,
            "position": {"x": note.position.x, "y": note.position.y},
            "width": note.width,
            "height": note.height,
        }
        for note in definition.notes
    ]
    return {"nodes": nodes, "edges": edges, "notes": notes}


def graph_to_definition(graph: Mapping[str, Any]) -> WorkflowDefinition:
    """The definition the editor's graph describes. Raises pydantic's ValidationError on malformed nodes."""
    nodes = []
    for item in graph.get("nodes", []):
        data = item.get("data") or {}
        spec = dict(data.get("spec") or {})
        spec.setdefault("agent_id", data.get("agentId", ""))
        spec["name"] = data.get("title", spec.get("name", ""))
        position = item.get("position") or {}
        nodes.append(
            NodeSpec(
                key=item["id"],
                position=Position(x=float(position.get("x", 0)), y=float(position.get("y", 0))),
                **{k: v for k, v in spec.items() if k in SPEC_FIELDS},
            )
        )
    edges = [
        EdgeSpec(
            source=e["source"],
            target=e["target"],
            source_handle=e.get("sourceHandle") or None,
            condition=(e.get("data") or {}).get("condition") or None,
        )
        for e in graph.get("edges", [])
    ]
    notes = [
        Note(
            id=note["id"],
            text=note.get("text") or "",
            position=Position(**{axis: float((note.get("position") or {}).get(axis, 0)) for axis in ("x", "y")}),
            width=note.get("width") or 240,
            height=note.get("height") or 140,
        )
        for note in graph.get("notes") or []
    ]
    return WorkflowDefinition(nodes=nodes, edges=edges, notes=notes)


def problems_by_node(problems: list[Problem]) -> dict[str, list[str]]:
    """Validation messages grouped by the node they concern (edge problems go to the edge's source)."""
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        key = problem.node or (problem.edge.split("->")[0].split(":")[0] if problem.edge else None)
        if key:
            grouped.setdefault(key, []).append(problem.message)
    return grouped


def palette_entries(agents: Mapping[str, AgentRecord]) -> list[dict[str, Any]]:
    """Palette items: every saved agent, grouped by its kind's group (agents with their own id under Saved agents)."""
    entries = []
    for agent in sorted(agents.values(), key=lambda a: (a.name or a.id).lower()):
        kind = registry.get_kind(agent.kind)
        if kind is None:
            continue
        entries.append(
            {
                "agentId": agent.id,
                "title": agent.name or agent.id,
                "kind": agent.kind,
                "icon": kind.icon,
                "group": kind.group if agent.id == agent.kind else SAVED_AGENTS,
                "handles": _handles(agent),
                "description": agent.description or kind.description,
            }
        )
    order = [Group.AI, Group.INTEGRATIONS, Group.LOGIC, Group.HUMAN, Group.UTILITIES, SAVED_AGENTS]
    return sorted(entries, key=lambda e: (order.index(e["group"]) if e["group"] in order else 99, e["title"].lower()))
