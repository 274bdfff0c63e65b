"""A minimal NiceGUI app hosting one `GraphEditor` per page, for the browser tests (run it as a script).

`/?graph=branching&session=s1` shows a sample graph beside a small palette. What Python knows is served as
JSON at `/api/state/{session}` (the editor's `graph`, `selection` and every event it received), and
`POST /api/call/{session}/{method}` with `{"args": [...]}` calls one of the editor's public methods, so a
test can drive the Python API and check what reached Python without any mock. The port comes from `PORT`.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from nicegui import app, ui
from nicegui.events import GenericEventArguments

from components.graph_editor import GraphEditor

PALETTE: list[dict[str, Any]] = [
    {
        "agentId": "transform",
        "title": "Transform",
        "kind": "transform",
        "icon": "auto_fix_high",
        "group": "Utilities",
        "handles": None,
        "description": "Render a template",
    },
    {
        "agentId": "http",
        "title": "HTTP request",
        "kind": "http",
        "icon": "http",
        "group": "Integrations",
        "handles": None,
        "description": "Call a web service",
    },
    {
        "agentId": "branch",
        "title": "Branch",
        "kind": "branch",
        "icon": "call_split",
        "group": "Logic",
        "handles": ["true", "false"],
        "description": "Route by a condition",
    },
    {
        "agentId": "approval",
        "title": "Approval",
        "kind": "approval",
        "icon": "how_to_reg",
        "group": "Human",
        "handles": None,
        "description": "Wait for a person",
    },
]

CALLABLE = {
    "set_graph",
    "set_statuses",
    "set_problems",
    "update_node",
    "rename_node",
    "select_node",
    "fit_view",
    "tidy",
    "undo",
    "redo",
    "add_node",
    "add_note",
}


def node(key: str, title: str, agent: str, kind: str, icon: str, x: float, y: float, **data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"title": title, "agentId": agent, "kind": kind, "icon": icon, "handles": None}
    base |= {"status": None, "problems": [], "needsApproval": False, "retries": 0, "spec": {}}
    return {"id": key, "position": {"x": x, "y": y}, "data": base | data}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    name = f"{source}.{handle}->{target}" if handle else f"{source}->{target}"
    return {"id": name, "source": source, "target": target, "sourceHandle": handle, "label": None}


def branching() -> dict[str, Any]:
    """Five nodes: enrich → score → route, which branches to notify (hot) and nurture (warm)."""
    return {
        "nodes": [
            node("enrich", "Enrich lead", "clearbit_lookup", "http", "travel_explore", 0, 120, retries=2),
            node("score", "Score lead", "transform", "transform", "calculate", 330, 120, spec={"template": "x"}),
            node(
                "route", "Route by score", "branch", "branch", "call_split", 660, 100, handles=["hot", "warm", "cold"]
            ),
            node("notify", "Notify sales", "slack_post", "http", "campaign", 1000, 0, needsApproval=True),
            node(
                "nurture",
                "Draft nurture email",
                "transform",
                "transform",
                "edit_note",
                1000,
                240,
                problems=["Unknown field nodes.score.output.tier", "Template is empty"],
            ),
        ],
        "edges": [
            edge("enrich", "score"),
            edge("score", "route"),
            edge("route", "notify", "hot"),
            edge("route", "nurture", "warm"),
        ],
    }


def noted() -> dict[str, Any]:
    """`branching` with a sticky note above it."""
    note = {"id": "plan", "text": "**Enrich** first\n- then score", "position": {"x": 0, "y": -200}}
    return branching() | {"notes": [note | {"width": 300, "height": 120}]}


def scrambled() -> dict[str, Any]:
    """A chain a → b → c → d drawn right to left, for the tidy layout."""
    keys = ["a", "b", "c", "d"]
    return {
        "nodes": [
            node(k, k.upper(), "transform", "transform", "bolt", 900 - 300 * i, 40 * i) for i, k in enumerate(keys)
        ],
        "edges": [edge(s, t) for s, t in itertools.pairwise(keys)],
    }


def crossed() -> dict[str, Any]:
    """A branch whose outcomes (hot, warm, cold) lead to steps drawn in the opposite order, far apart."""
    return {
        "nodes": [
            node("start", "Start", "transform", "transform", "bolt", 0, 300),
            node("route", "Route", "branch", "branch", "call_split", 400, 0, handles=["hot", "warm", "cold"]),
            node("to_hot", "Hot", "transform", "transform", "bolt", 1400, 900),
            node("to_warm", "Warm", "transform", "transform", "bolt", 1400, 300),
            node("to_cold", "Cold", "transform", "transform", "bolt", 1400, -400),
            node("after_hot", "After hot", "transform", "transform", "bolt", 2000, 1000),
        ],
        "edges": [
            edge("start", "route"),
            edge("route", "to_hot", "hot"),
            edge("route", "to_warm", "warm"),
            edge("route", "to_cold", "cold"),
            edge("to_hot", "after_hot"),
        ],
    }


def big(count: int = 300, links: int = 400) -> dict[str, Any]:
    """`count` nodes in columns with `links` forward edges (a 300-node, 400-edge workflow)."""
    rng = random.Random(7)
    nodes = [
        node(f"n{i}", f"Step {i}", "transform", "transform", "bolt", (i // 15) * 320, (i % 15) * 110)
        for i in range(count)
    ]
    pairs: set[tuple[int, int]] = {(i, i + 1) for i in range(count - 1) if (i + 1) % 15}
    while len(pairs) < links:
        source = rng.randrange(count - 30)
        pairs.add((source, source + rng.randrange(1, 30)))
    return {"nodes": nodes, "edges": [edge(f"n{s}", f"n{t}") for s, t in sorted(pairs)]}


GRAPHS: dict[str, Callable[[], dict[str, Any] | None]] = {
    "branching": branching,
    "noted": noted,
    "scrambled": scrambled,
    "crossed": crossed,
    "big": big,
    "empty": lambda: None,
}
EDITORS: dict[str, GraphEditor] = {}
EVENTS: dict[str, list[dict[str, Any]]] = {}


@ui.page("/")
def index(
    graph: str = "branching",
    session: str = "default",
    readonly: bool = False,
    dark: bool = False,
    wheel: str = "zoom",
) -> None:
    ui.dark_mode(dark)
    ui.query(".nicegui-content").classes("p-0")
    events = EVENTS.setdefault(session, [])

    def record(name: str) -> Callable[[GenericEventArguments], None]:
        def handler(event: GenericEventArguments) -> None:
            events.append({"event": name, "args": event.args})

        return handler

    # wheel=scroll: the canvas sits in a page taller than the window, as on a run's page
    height = "70vh" if wheel == "scroll" else "100vh"
    with ui.row().classes("w-full no-wrap gap-0").style(f"height: {height}"):
        with ui.column().classes("w-56 h-full p-3 gap-1 border-r"):
            ui.input(placeholder="Search agents").props("dense outlined").classes("w-full").props("data-testid=search")
            for entry in PALETTE:
                item = ui.row().classes("w-full items-center gap-2 px-2 py-1 rounded cursor-grab no-wrap")
                GraphEditor.make_draggable(item, entry).props(f"data-testid=palette-{entry['agentId']}")
                with item:
                    ui.icon(entry["icon"]).classes("text-primary")
                    ui.label(entry["title"]).classes("text-sm")
        editor = GraphEditor(
            GRAPHS[graph](),
            palette=PALETTE,
            readonly=readonly,
            on_change=record("change"),
            on_select=record("select"),
            on_save=record("save"),
            on_run=record("run"),
            on_help=record("help"),
            on_add=record("add"),
            on_panel=record("panel"),
            wheel_zoom=wheel != "scroll",
        ).classes("grow h-full")
    if wheel == "scroll":
        ui.label("Below the canvas").classes("p-4").style("height: 120vh")
    EDITORS[session] = editor


@app.get("/api/state/{session}")
async def state(session: str) -> dict[str, Any]:
    editor = EDITORS.get(session)
    if editor is None:
        raise HTTPException(404, f"no editor for session {session!r}")
    return {"graph": editor.graph, "selection": editor.selection, "events": EVENTS.get(session, [])}


@app.post("/api/call/{session}/{method}")
async def call(session: str, method: str, body: dict[str, Any]) -> dict[str, Any]:
    editor = EDITORS.get(session)
    if editor is None or method not in CALLABLE:
        raise HTTPException(404, f"no editor for session {session!r} or no method {method!r}")
    return {"result": getattr(editor, method)(*body.get("args", []))}


if __name__ in {"__main__", "__mp_main__"}:
    ui.run(port=int(os.environ.get("PORT", "8089")), reload=False, show=False, title="Graph editor", favicon="🧭")
