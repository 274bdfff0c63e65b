"""The graph editor test app in a real Chromium, as the `test_graph_editor*.py` modules drive it.

`app_url` starts `graph_editor_app.py` (one app process per test module); an `Editor` is one page of it, with
what Python knows about it through the app's `/api/state/{session}`: the editor's `graph`, `selection` and the
events it received.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page

from tests.e2e.browser import nicegui_app

APP = Path(__file__).with_name("graph_editor_app.py")
STRIPE_RGB = {"RUNNING": "rgb(59, 130, 246)", "COMPLETED": "rgb(34, 197, 94)", "FAILED": "rgb(239, 68, 68)"}


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with nicegui_app(APP) as url:
        yield url


class Editor:
    """One page of the test app: the canvas in the browser and what Python knows about it."""

    def __init__(self, tab: Page, url: str) -> None:
        self.page = tab
        self.url = url
        self.session = uuid.uuid4().hex[:12]

    def open(self, graph: str = "branching", *, readonly: bool = False, wheel: str = "zoom") -> Editor:
        query = f"graph={graph}&session={self.session}&wheel={wheel}" + ("&readonly=true" if readonly else "")
        self.page.goto(f"{self.url}/?{query}")
        self.page.wait_for_function("window.did_handshake === true")
        self.page.wait_for_selector(".fy-editor")
        self.settle()
        return self

    def settle(self) -> None:
        """Wait until every node is measured and the viewport stops moving (fit view on load)."""
        self.page.wait_for_function(
            "[...document.querySelectorAll('.vue-flow__node')].every(n => n.style.visibility !== 'hidden')"
        )
        last = None
        for _ in range(50):
            transform = self.page.eval_on_selector(".vue-flow__transformationpane", "el => el.style.transform")
            if transform == last:
                return
            last = transform
            self.page.wait_for_timeout(60)

    # --- Python's side ---

    def state(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/state/{self.session}", timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def call(self, method: str, *args: Any) -> Any:
        response = httpx.post(f"{self.url}/api/call/{self.session}/{method}", json={"args": list(args)}, timeout=5)
        response.raise_for_status()
        return response.json()["result"]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"Python never saw the expected state; last: {state}")
            time.sleep(0.05)

    def events(self, name: str) -> list[Any]:
        return [event["args"] for event in self.state()["events"] if event["event"] == name]

    # --- the browser's side ---

    def node(self, key: str) -> Locator:
        return self.page.locator(f'.vue-flow__node[data-id="{key}"]')

    def output(self, key: str, handle: str | None = None) -> Locator:
        if handle is None:
            return self.node(key).locator(".vue-flow__handle.source")
        return self.node(key).locator(f'.vue-flow__handle.source[data-handleid="{handle}"]')

    def input(self, key: str) -> Locator:
        return self.node(key).locator(".vue-flow__handle.target")

    def drag(
        self, source: Locator, target: Locator | tuple[float, float], *, offset: tuple[float, float] = (0, 0)
    ) -> None:
        """Press on the middle of `source` (plus `offset`), move in steps, release over `target`."""
        box = source.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2 + offset[0], box["y"] + box["height"] / 2 + offset[1]
        if isinstance(target, tuple):
            to_x, to_y = target
        else:
            goal = target.bounding_box()
            assert goal is not None
            to_x, to_y = goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2
        mouse = self.page.mouse
        mouse.move(x, y)
        mouse.down()
        mouse.move(x + 5, y + 5, steps=2)
        mouse.move(to_x, to_y, steps=12)
        mouse.up()

    def click_pane(self) -> None:
        """Click an empty spot of the canvas (focuses it, clears the selection)."""
        box = self.page.locator(".vue-flow__pane").bounding_box()
        assert box is not None
        self.page.mouse.click(box["x"] + 40, box["y"] + 40)

    def zoom(self) -> float:
        transform = self.page.eval_on_selector(".vue-flow__transformationpane", "el => el.style.transform")
        return float(transform.split("scale(")[1].rstrip(")"))


def node_of(state: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((node for node in state["graph"]["nodes"] if node["id"] == key), None)


def edge_set(state: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    return {(e["source"], e["sourceHandle"], e["target"]) for e in state["graph"]["edges"]}


BRANCHING_EDGES = {
    ("enrich", None, "score"),
    ("score", None, "route"),
    ("route", "hot", "notify"),
    ("route", "warm", "nurture"),
}
