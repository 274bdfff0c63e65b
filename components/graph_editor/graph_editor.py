"""`GraphEditor`: the Vue Flow canvas as a NiceGUI element that takes and emits plain graphs.

The browser owns the live graph and its undo history; every committed edit comes back as a `change` event
carrying the whole graph, which this class mirrors into its `graph` property without echoing it back.
Python-side edits (`update_node`, `rename_node`, `add_node`) are applied to `graph` at once and sent to the
browser, which records them as undoable steps and confirms them with a `change` event of its own.

The graph, as plain JSON::

    {"nodes": [{"id": "<node key>", "position": {"x": 0.0, "y": 0.0},
                "data": {"title": str, "agentId": str, "kind": str, "icon": str,
                         "handles": list[str] | None,   # named outcomes (a branch); None: one output
                         "status": str | None,          # PENDING RUNNING WAITING_APPROVAL COMPLETED FAILED ...
                         "problems": list[str], "needsApproval": bool, "retries": int,
                         "diff": str | None,            # added changed removed moved: a version comparison's mark
                         "disabled": bool,              # turned off: drawn greyed and dashed, `D` toggles it
                         "spec": dict}}],               # opaque: kept and copied as given
     "edges": [{"id": str, "source": str, "target": str, "sourceHandle": str | None, "label": str | None}],
     "notes": [{"id": str, "text": str,                 # sticky notes: markdown for people, never a step
                "position": {"x": 0.0, "y": 0.0}, "width": float, "height": float}]}

A note is moved, resized and (double-click) written on the canvas; each of those is an edit like any other.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any, Self

from nicegui import ui
from nicegui.events import GenericEventArguments, Handler, handle_event

from components.graph_editor.keys import is_valid_key, unique_key

__all__ = ["DRAG_TYPE", "STATUSES", "GraphEditor"]

log = logging.getLogger(__name__)

DRAG_TYPE = "application/flowyard-agent"
"""The dataTransfer type under which a palette item carries its entry (JSON) when dragged onto the canvas."""

STATUSES = ("PENDING", "RUNNING", "WAITING_APPROVAL", "COMPLETED", "FAILED", "SKIPPED", "CANCELLED")

_EVENTS = ("change", "select", "save", "run", "help", "add", "panel")
_OVERLAYS = ("status", "problems", "note")
_BUNDLE = Path(__file__).parent / "dist" / "index.js"

if not _BUNDLE.is_file():
    log.warning(
        "The graph editor's bundle %s is missing: build it with `make run`/`make test` "
        "(or `npm ci && npm run build` in %s).",
        _BUNDLE,
        _BUNDLE.parent.parent,
    )


def _normalized(graph: dict[str, Any] | None, *, copied: bool = True) -> dict[str, Any]:
    graph = (copy.deepcopy(graph) if copied else graph) if graph else {}
    return {
        "nodes": list(graph.get("nodes") or []),
        "edges": list(graph.get("edges") or []),
        "notes": list(graph.get("notes") or []),
    }


class GraphEditor(
    ui.element,
    component="graph_editor.js",
    esm={"flowyard-graph-editor": "dist"},
    default_style="height: 100%; min-height: 360px",
):
    def __init__(
        self,
        graph: dict[str, Any] | None = None,
        *,
        palette: list[dict[str, Any]] | None = None,
        readonly: bool = False,
        wheel_zoom: bool = True,
        on_change: Handler[GenericEventArguments] | None = None,
        on_select: Handler[GenericEventArguments] | None = None,
        on_save: Handler[GenericEventArguments] | None = None,
        on_run: Handler[GenericEventArguments] | None = None,
        on_help: Handler[GenericEventArguments] | None = None,
        on_add: Handler[GenericEventArguments] | None = None,
        on_panel: Handler[GenericEventArguments] | None = None,
    ) -> None:
        """Graph editor

        A Vue Flow canvas for a workflow graph: nodes as cards with input and output handles, edges,
        drag and drop from the page's palette, selection, copy/paste, undo/redo, a tidy layout, steps turned off
        (`D`) and sticky notes (markdown; moved, resized and written on the canvas).
        It fills its container (`height: 100%`, at least 360 px); size it with `.style()` or a parent's height.

        :param graph: the graph to show (plain JSON, see the module docstring); copied, never mutated
        :param palette: palette entries (`agentId`, `title`, `kind`, `icon`, `group`, `handles`, `description`);
            a dropped or added entry is completed from the palette entry with the same `agentId`
        :param readonly: view and select only (no dragging, connecting, deleting or dropping)
        :param wheel_zoom: the wheel zooms (a canvas that fills its page); False: it scrolls the page around the
            canvas (a run's page) and Ctrl+wheel or the zoom buttons zoom
        :param on_change: called after every committed edit with the whole graph in `e.args`
        :param on_select: called when the selection changes, `e.args` = `{"nodes": [keys], "edges": [ids]}`
        :param on_save: called on Ctrl+S
        :param on_run: called on Ctrl+Enter
        :param on_help: called on `?`
        :param on_add: called on `+` (not read-only): the page offers the steps to add (its palette's search)
        :param on_panel: called on `[` (`e.args` = `"palette"`, not read-only) and `]` (`"inspector"`): the page
            hides or shows that side panel
        """
        super().__init__()
        self._props["graph"] = _normalized(graph)
        self._props["palette"] = copy.deepcopy(palette or [])
        self._props["readonly"] = readonly
        self._props["wheelZoom"] = wheel_zoom
        self._selection: dict[str, list[str]] = {"nodes": [], "edges": []}
        self._handlers: dict[str, list[Handler[GenericEventArguments]]] = {name: [] for name in _EVENTS}
        handlers = (on_change, on_select, on_save, on_run, on_help, on_add, on_panel)
        for name, handler in zip(_EVENTS, handlers, strict=True):
            if handler is not None:
                self._handlers[name].append(handler)
        # every listener is registered now: adding one after the first render would re-render the element
        self.on("change", self._handle_change)
        self.on("select", self._handle_select)
        for name in ("save", "run", "help", "add", "panel"):
            self.on(name, lambda e, name=name: self._dispatch(name, e))

    # --- state -----------------------------------------------------------------------------------------

    @property
    def graph(self) -> dict[str, Any]:
        """The last graph known on the Python side (treat it as read-only; use the methods to edit)."""
        graph: dict[str, Any] = self._props["graph"]
        return graph

    @property
    def selection(self) -> dict[str, list[str]]:
        """The current selection: `{"nodes": [keys], "edges": [ids]}`."""
        return self._selection

    @property
    def readonly(self) -> bool:
        return bool(self._props["readonly"])

    @readonly.setter
    def readonly(self, value: bool) -> None:
        self._props["readonly"] = value

    @property
    def palette(self) -> list[dict[str, Any]]:
        palette: list[dict[str, Any]] = self._props["palette"]
        return palette

    @palette.setter
    def palette(self, value: list[dict[str, Any]]) -> None:
        self._props["palette"] = copy.deepcopy(value)

    def node(self, key: str) -> dict[str, Any] | None:
        """The node with this key in `graph`, or None."""
        return next((node for node in self.graph["nodes"] if node.get("id") == key), None)

    # --- events --------------------------------------------------------------------------------------------

    def on_change(self, handler: Handler[GenericEventArguments]) -> Self:
        """Add a handler called after every committed edit (`e.args` is the whole graph)."""
        self._handlers["change"].append(handler)
        return self

    def on_select(self, handler: Handler[GenericEventArguments]) -> Self:
        """Add a handler called when the selection changes (`e.args` = `{"nodes": [...], "edges": [...]}`)."""
        self._handlers["select"].append(handler)
        return self

    def on_save(self, handler: Handler[GenericEventArguments]) -> Self:
        """Add a handler for Ctrl+S."""
        self._handlers["save"].append(handler)
        return self

    def on_run(self, handler: Handler[GenericEventArguments]) -> Self:
        """Add a handler for Ctrl+Enter."""
        self._handlers["run"].append(handler)
        return self

    def on_help(self, handler: Handler[GenericEventArguments]) -> Self:
        """Add a handler for `?`."""
        self._handlers["help"].append(handler)
        return self

    def on_add(self, handler: Handler[GenericEventArguments]) -> Self:
        """Add a handler for `+` (add a step)."""
        self._handlers["add"].append(handler)
        return self

    def on_panel(self, handler: Handler[GenericEventArguments]) -> Self:
        """Add a handler for `[` and `]` (`e.args`: `"palette"` or `"inspector"`, the side panel to hide or show)."""
        self._handlers["panel"].append(handler)
        return self

    def _dispatch(self, name: str, event: GenericEventArguments) -> None:
        for handler in self._handlers[name]:
            handle_event(handler, event)

    def _handle_change(self, event: GenericEventArguments) -> None:
        if not isinstance(event.args, dict):
            return
        with self._props.suspend_updates():
            self._props["graph"] = _normalized(event.args, copied=False)  # freshly parsed: nobody else holds it
        self._dispatch("change", event)

    def _handle_select(self, event: GenericEventArguments) -> None:
        if isinstance(event.args, dict):
            self._selection = {
                "nodes": [str(key) for key in event.args.get("nodes") or []],
                "edges": [str(key) for key in event.args.get("edges") or []],
            }
        self._dispatch("select", event)

    # --- replacing and overlaying (not edits) --------------------------------------------------------------------

    def set_graph(self, graph: dict[str, Any]) -> None:
        """Replace everything (load a workflow, restore a version); clears the undo history and the selection."""
        graph = _normalized(graph)
        with self._props.suspend_updates():
            self._props["graph"] = graph
        self._selection = {"nodes": [], "edges": []}
        self.run_method("setGraph", graph)

    def set_statuses(self, statuses: dict[str, str | None]) -> None:
        """Colour nodes by run status (live, not an edit); merges: nodes not named keep theirs, None clears."""
        with self._props.suspend_updates():
            for key, status in statuses.items():
                node = self.node(key)
                if node is not None:
                    node.setdefault("data", {})["status"] = status or None
        self.run_method("setStatuses", dict(statuses))

    def set_notes(self, notes: dict[str, str | None]) -> None:
        """Show a short text as a badge on nodes (a run's token count; not an edit); merges, None clears."""
        with self._props.suspend_updates():
            for key, note in notes.items():
                node = self.node(key)
                if node is not None:
                    node.setdefault("data", {})["note"] = note or None
        self.run_method("setNotes", dict(notes))

    def set_problems(self, problems: dict[str, list[str]]) -> None:
        """Mark nodes with validation problems (not an edit); replaces all marks: nodes not named have none."""
        problems = {key: [str(text) for text in texts] for key, texts in problems.items() if texts}
        with self._props.suspend_updates():
            for node in self.graph["nodes"]:
                node.setdefault("data", {})["problems"] = list(problems.get(node.get("id"), []))
        self.run_method("setProblems", problems)

    # --- edits (undoable in the browser; each ends in a `change` event) ----------------------------------------------

    def add_node(self, entry: dict[str, Any], position: dict[str, float] | None = None) -> str:
        """Add a node for a palette entry (at `position`, else the middle of the view); returns its key."""
        item = {**self._palette_entry(entry.get("agentId")), **entry}
        key = unique_key(item.get("agentId") or item.get("title"), {node.get("id") for node in self.graph["nodes"]})
        node = {
            "id": key,
            "position": dict(position) if position else {"x": 0.0, "y": 0.0},
            "data": {
                "title": item.get("title") or item.get("agentId") or key,
                "agentId": item.get("agentId") or "",
                "kind": item.get("kind") or "",
                "icon": item.get("icon") or "smart_toy",
                "handles": list(item["handles"]) if item.get("handles") is not None else None,
                "status": None,
                "problems": [],
                "needsApproval": bool(item.get("needsApproval", False)),
                "retries": int(item.get("retries") or 0),
                "spec": copy.deepcopy(item.get("spec") or {}),
            },
        }
        with self._props.suspend_updates():
            self.graph["nodes"].append(node)
        self.run_method("addNode", copy.deepcopy(entry), position, key)
        return key

    def update_node(self, key: str, data: dict[str, Any], *, renamed_handles: dict[str, str] | None = None) -> None:
        """Merge `data` into a node's data (title, spec, retries…; `status`/`problems` are ignored): an edit.

        When `data` changes the node's `handles`, edges from outcomes it lost are dropped, except those from
        the outcomes in `renamed_handles` (old name → new name), which follow the new name.
        """
        node = self.node(key)
        renamed = dict(renamed_handles or {})
        if node is None:
            raise KeyError(f"no node {key!r} in the graph")
        update = {name: copy.deepcopy(value) for name, value in data.items() if name not in _OVERLAYS}
        with self._props.suspend_updates():
            node.setdefault("data", {}).update(update)
            if "handles" in update:
                handles = update["handles"]
                outcomes = set(handles) if handles is not None else {None}
                for edge in self.graph["edges"]:
                    new_name = renamed.get(edge.get("sourceHandle") or "")
                    if edge.get("source") == key and edge.get("sourceHandle") not in outcomes and new_name in outcomes:
                        edge.update(sourceHandle=new_name, label=new_name)
                self.graph["edges"] = [
                    edge
                    for edge in self.graph["edges"]
                    if edge.get("source") != key or edge.get("sourceHandle") in outcomes
                ]
        self.run_method("updateNode", key, update, renamed or None)

    def rename_node(self, old_key: str, new_key: str) -> None:
        """Change a node's key; its edges follow (an edit). Raises ValueError for a malformed or taken key."""
        if old_key == new_key:
            return
        node = self.node(old_key)
        if node is None:
            raise KeyError(f"no node {old_key!r} in the graph")
        if not is_valid_key(new_key):
            raise ValueError(
                f"{new_key!r} is not a valid key: letters, digits and _, starting with a letter or _, at most 64"
            )
        if self.node(new_key) is not None:
            raise ValueError(f"{new_key!r} is already the key of another node")
        with self._props.suspend_updates():
            node["id"] = new_key
            for edge in self.graph["edges"]:
                if edge.get("source") == old_key:
                    edge["source"] = new_key
                if edge.get("target") == old_key:
                    edge["target"] = new_key
        self._selection["nodes"] = [new_key if key == old_key else key for key in self._selection["nodes"]]
        self.run_method("renameNode", old_key, new_key)

    def add_note(self) -> None:
        """Add an empty sticky note in the middle of the view and open it for writing (an edit)."""
        self.run_method("addNote")

    def tidy(self) -> None:
        """Lay the graph out left to right (dagre): an edit."""
        self.run_method("tidy")

    def undo(self) -> None:
        self.run_method("undo")

    def redo(self) -> None:
        self.run_method("redo")

    # --- view ------------------------------------------------------------------------------------------------------

    def select_node(self, key: str) -> None:
        """Select this node alone and centre the view on it."""
        self.run_method("selectNode", key)

    def fit_view(self) -> None:
        """Zoom and pan so that every node is visible."""
        self.run_method("fitView")

    def focus(self) -> None:
        """Give the canvas the keyboard focus (its shortcuts act)."""
        self.run_method("focus")

    @staticmethod
    def make_draggable(element: ui.element, entry: dict[str, Any]) -> ui.element:
        """Make `element` a palette item: dragging it onto a `GraphEditor` adds a node for `entry`."""
        payload = json.dumps(json.dumps(entry))
        element.props('draggable="true"')
        handler = f"e.dataTransfer.setData('{DRAG_TYPE}', {payload}); e.dataTransfer.effectAllowed = 'copy';"
        element.on("dragstart", js_handler=f"(e) => {{ {handler} }}")
        return element

    def _palette_entry(self, agent_id: Any) -> dict[str, Any]:
        return next((item for item in self.palette if item.get("agentId") == agent_id), {})
