"""What changed between two versions of a workflow: steps added, removed or changed (and how), and edges.

A step is the same step in both versions when it has the same key. Its settings are compared field by field
(`app.services.json_diff`), so a change reads as "config.url: 'http://a' → 'http://b'"; a step that only moved
on the canvas is "moved", which changes nothing about a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.services.json_diff import JsonChange, json_changes

__all__ = ["EdgeChange", "StepChange", "VersionDiff", "compare_definitions"]

StepChangeKind = Literal["added", "removed", "changed", "moved"]


@dataclass(frozen=True)
class StepChange:
    key: str
    title: str
    """The step's name in the newer version (the older one's, for a removed step), or its key."""
    change: StepChangeKind
    fields: list[JsonChange] = field(default_factory=list)
    """For a changed step: each setting that differs, its path from the step (``$.config.url``)."""


@dataclass(frozen=True)
class EdgeChange:
    source: str
    target: str
    outcome: str | None
    change: Literal["added", "removed", "changed"]
    condition_before: str | None = None
    condition_after: str | None = None

    @property
    def label(self) -> str:
        via = f" ({self.outcome})" if self.outcome else ""
        return f"{self.source}{via} → {self.target}"


@dataclass(frozen=True)
class VersionDiff:
    before: int
    after: int
    steps: list[StepChange]
    edges: list[EdgeChange]

    @property
    def same(self) -> bool:
        """Whether a run of either version would do the same (moves on the canvas aside)."""
        return not self.edges and all(step.change == "moved" for step in self.steps)

    def change_of(self, key: str) -> StepChangeKind | None:
        return next((step.change for step in self.steps if step.key == key), None)


def _settings(node: NodeSpec) -> dict[str, Any]:
    return node.model_dump(mode="json", exclude={"key", "position"})


def _edge_key(edge: EdgeSpec) -> tuple[str, str, str | None]:
    return edge.source, edge.target, edge.source_handle


def compare_definitions(
    before: WorkflowDefinition, after: WorkflowDefinition, *, versions: tuple[int, int] = (0, 0)
) -> VersionDiff:
    """Every difference from `before` to `after`: steps in the newer version's order, then the removed ones."""
    old = {node.key: node for node in before.nodes}
    new = {node.key: node for node in after.nodes}
    steps: list[StepChange] = []
    for key, node in new.items():
        title = node.name or key
        if key not in old:
            steps.append(StepChange(key, title, "added"))
            continue
        changes = json_changes(_settings(old[key]), _settings(node))
        if changes:
            steps.append(StepChange(key, title, "changed", changes))
        elif old[key].position != node.position:
            steps.append(StepChange(key, title, "moved"))
    steps.extend(StepChange(key, node.name or key, "removed") for key, node in old.items() if key not in new)
    old_edges = {_edge_key(edge): edge for edge in before.edges}
    new_edges = {_edge_key(edge): edge for edge in after.edges}
    edges: list[EdgeChange] = []
    for ends, edge in new_edges.items():
        if ends not in old_edges:
            edges.append(EdgeChange(*ends, "added", condition_after=edge.condition))
        elif old_edges[ends].condition != edge.condition:
            edges.append(EdgeChange(*ends, "changed", old_edges[ends].condition, edge.condition))
    edges.extend(
        EdgeChange(*ends, "removed", condition_before=edge.condition)
        for ends, edge in old_edges.items()
        if ends not in new_edges
    )
    return VersionDiff(versions[0], versions[1], steps, edges)
