"""Two saved versions of a workflow side by side: the newer one on a read-only canvas with each step marked by what
happened to it (added, changed, removed where it was, moved), and beside it the changes in words, each changed
setting before | after. Clicking a change centres its step on the canvas."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nicegui import ui

from app.engine.model import WorkflowDefinition
from app.engine.store import AgentRecord
from app.models.workflows import VersionPublic
from app.pages.context import services
from app.pages.editor.draft import Draft
from app.services.graph import definition_to_graph, node_data
from app.services.json_diff import MISSING, JsonChange
from app.services.version_diff import EdgeChange, StepChange, VersionDiff
from components.graph_editor import GraphEditor

__all__ = ["comparison_graph", "show_comparison"]

TIME = "%Y-%m-%d %H:%M"
FOLD_LINES = 4
FOLD_CHARS = 160
GHOST_WIDTH, GHOST_HEIGHT = 250, 100
ICONS = {"added": "add_circle", "changed": "edit", "removed": "remove_circle", "moved": "open_with"}


def comparison_graph(
    diff: VersionDiff, before: WorkflowDefinition, after: WorkflowDefinition, agents: Mapping[str, AgentRecord]
) -> dict[str, Any]:
    """The newer version's graph, each node's `diff` its change, with the removed steps (and their edges) where
    they were in the older one."""
    graph = definition_to_graph(after, agents)
    for node in graph["nodes"]:
        node["data"]["diff"] = diff.change_of(node["id"])
    removed = {step.key for step in diff.steps if step.change == "removed"}
    taken = [(node.position.x, node.position.y) for node in after.nodes]
    for node in before.nodes:
        if node.key in removed:
            data = {**node_data(node, agents.get(node.agent_id)), "diff": "removed"}
            x, y = node.position.x, node.position.y
            while any(abs(x - left) < GHOST_WIDTH and abs(y - top) < GHOST_HEIGHT for left, top in taken):
                y += GHOST_HEIGHT  # where a newer step stands now: just below it, so neither hides the other
            taken.append((x, y))
            graph["nodes"].append({"id": node.key, "position": {"x": x, "y": y}, "data": data})
    old = definition_to_graph(before, agents)["edges"]
    graph["edges"] += [edge for edge in old if edge["source"] in removed or edge["target"] in removed]
    return graph


def _text(value: Any) -> str:
    if value is MISSING:
        return "(not set)"
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _value(value: Any, side: str) -> None:
    """One side of a changed setting, in monospace; a long value folded to its first lines."""
    text = _text(value)
    classes = f"fy-compare__value fy-compare__value--{side}" + (" fy-compare__value--none" if value is MISSING else "")
    lines = text.splitlines() or [""]
    if len(lines) <= FOLD_LINES and len(text) <= FOLD_CHARS:
        ui.label(text).classes(classes)
        return
    with ui.element("details").classes(classes).mark("folded"):
        first = lines[0][:80] + ("…" if len(lines[0]) > 80 or len(lines) > 1 else "")
        with ui.element("summary").classes("fy-compare__fold"):
            ui.label(f"{first} ({len(lines)} lines)")
        ui.label(text).classes("fy-compare__full")


def _where(change: JsonChange) -> str:
    return change.path.removeprefix("$.").removeprefix("$") or "the whole step"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _edge_words(edge: EdgeChange) -> str:
    return f"{edge.label} {edge.change}"


class ComparisonView:
    """The maximized comparison dialog: its two version pickers, canvas and list of changes."""

    def __init__(self, editor: Draft, versions: list[VersionPublic], before: int, after: int) -> None:
        self.editor = editor
        self.versions = versions
        self.before, self.after = before, after
        self.canvas: GraphEditor | None = None
        self.dialog = ui.dialog().props("maximized transition-show=none transition-hide=none")
        with self.dialog, ui.card().classes("w-full h-full p-0 gap-0 fy-compare"):
            self._header()
            self.body = ui.row().classes("w-full grow gap-0 no-wrap fy-compare__body")
        self.dialog.on("hide", self.dialog.delete)

    def _header(self) -> None:
        options = {v.version: f"v{v.version} · {v.created_at.strftime(TIME)}" for v in self.versions}
        with ui.row().classes("w-full items-center gap-3 px-4 py-2 border-b border-(--fy-border) no-wrap"):
            ui.icon("difference").classes("text-xl text-primary")
            ui.label(f"{self.editor.name} — compare versions").classes("text-lg font-medium")
            ui.select(options, value=self.before, label="Older", on_change=lambda e: self.pick(before=e.value)).props(
                "dense outlined options-dense"
            ).classes("w-48").mark("compare-before")
            ui.icon("arrow_forward").classes("fy-muted")
            ui.select(options, value=self.after, label="Newer", on_change=lambda e: self.pick(after=e.value)).props(
                "dense outlined options-dense"
            ).classes("w-48").mark("compare-after")
            ui.badge("read-only", color="grey-7").props("outline")
            ui.space()
            ui.button("Close", on_click=self.dialog.close).props("flat no-caps").mark("close-compare")

    async def pick(self, *, before: int | None = None, after: int | None = None) -> None:
        self.before = self.before if before is None else before
        self.after = self.after if after is None else after
        await self.show()

    async def show(self) -> None:
        workflows = services().workflows
        workflow_id = self.editor.workflow_id
        old = await workflows.version_definition(workflow_id, self.before)
        new = await workflows.version_definition(workflow_id, self.after)
        diff = await workflows.compare_versions(workflow_id, self.before, self.after)
        self.body.clear()
        with self.body:
            self.canvas = GraphEditor(comparison_graph(diff, old, new, self.editor.agents), readonly=True)
            self.canvas.classes("grow h-full").mark("compare-canvas")
            with ui.scroll_area().classes("fy-compare__panel h-full"), ui.column().classes("w-full gap-3 p-4"):
                self._changes(diff)
        self.dialog.open()

    def _changes(self, diff: VersionDiff) -> None:
        if self.before == self.after:
            self._empty("Pick two different versions", f"Both sides are version {self.after}.")
            return
        direction = f"From version {diff.before} to version {diff.after}"
        changed = [step for step in diff.steps if step.change != "moved"]
        moved = [step for step in diff.steps if step.change == "moved"]
        ui.label(direction).classes("fy-section-title")
        if diff.same:
            moves = f" {_count(len(moved), 'step')} only moved on the canvas." if moved else ""
            self._empty("No differences", f"A run of either version does the same.{moves}")
        else:
            steps, edges = _count(len(changed), "step"), _count(len(diff.edges), "connection")
            ui.label(f"{steps} and {edges} changed").classes("fy-muted text-sm")
        for step in changed:
            self._step(step)
        if diff.edges:
            ui.label("Connections").classes("fy-compare__heading")
            for edge in diff.edges:
                self._edge(edge)
        if moved and not diff.same:
            ui.label("Only moved").classes("fy-compare__heading")
            for step in moved:
                self._step(step)

    def _empty(self, title: str, text: str) -> None:
        with ui.column().classes("fy-empty w-full items-center gap-1").mark("compare-empty"):
            ui.icon("check_circle").classes("fy-empty__icon")
            ui.label(title).classes("fy-empty__title")
            ui.label(text).classes("fy-empty__text text-center")

    def _step(self, step: StepChange) -> None:
        with (
            ui.column()
            .classes(f"fy-compare__step fy-compare__step--{step.change} w-full gap-2")
            .mark(f"change-{step.key}")
        ):
            with (
                ui.button(on_click=lambda key=step.key: self.focus(key), color=None)
                .props("flat no-caps align=left")
                .classes("fy-compare__step-head w-full")
                .mark(f"show-{step.key}"),
                ui.row().classes("w-full items-center gap-2 no-wrap"),
            ):
                ui.icon(ICONS[step.change]).classes("fy-compare__icon")
                ui.label(step.title).classes("font-medium text-left ellipsis")
                if step.title != step.key:
                    ui.label(step.key).classes("fy-compare__key")
                ui.space()
                ui.label(step.change).classes("fy-compare__chip")
            for change in step.fields:
                with ui.column().classes("w-full gap-1 fy-compare__field"):
                    ui.label(_where(change)).classes("fy-compare__path")
                    with ui.element("div").classes("fy-compare__sides w-full"):
                        _value(change.before, "before")
                        _value(change.after, "after")

    def _edge(self, edge: EdgeChange) -> None:
        with ui.column().classes(f"fy-compare__edge fy-compare__step--{edge.change} w-full gap-1"):
            with (
                ui.button(on_click=lambda key=edge.target: self.focus(key), color=None)
                .props("flat no-caps align=left")
                .classes("fy-compare__step-head w-full"),
                ui.row().classes("w-full items-center gap-2 no-wrap"),
            ):
                ui.icon(ICONS[edge.change]).classes("fy-compare__icon")
                ui.label(_edge_words(edge)).classes("text-left")
            if edge.change == "changed":
                ui.label("condition").classes("fy-compare__path")
                with ui.element("div").classes("fy-compare__sides w-full"):
                    _value(edge.condition_before or "", "before")
                    _value(edge.condition_after or "", "after")

    def focus(self, key: str) -> None:
        if self.canvas is not None:
            self.canvas.select_node(key)


async def show_comparison(editor: Draft, before: int | None = None, after: int | None = None) -> None:
    """Compare two kept versions (default: the newest with the one before it, or `before` with the newest)."""
    versions = await services().workflows.versions(editor.workflow_id)
    numbers = [v.version for v in versions]  # newest first
    if len(numbers) < 2:
        ui.notify("Only one version is saved: there is nothing to compare it with yet.")
        return
    after = numbers[0] if after is None else after
    if before is None:
        older = [n for n in numbers if n < after]
        before = older[0] if older else numbers[1]
    await ComparisonView(editor, versions, before, after).show()
