"""A new user's first workflow, end to end: the real `flowyard serve`, a real Chromium, mouse and keyboard only.

From the Workflows page they create an empty workflow, drag three agents onto the canvas, connect them
(the problems count falls to "No problems" and the nodes' problem badges go), map the second step's input
by typing `{{` and picking a name from the completion, and see the preview, undo and redo, tidy, save with
Ctrl+S, reload and find everything as they left it, look at the saved version read-only, then run it and
watch every node turn green. Each step leaves a screenshot in
`.screenshots/journey-<nn>-<step>.png`. Runs in about 15 s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import flowyard_server, free_port, http, log_in

pytestmark = pytest.mark.slow

COMPLETED_RGB = "rgb(34, 197, 94)"  # the status stripe of a completed node (the canvas's --fy-completed)
MAPPING = "{{ nodes.transform.output }}"
KEYS = ("transform", "transform_2", "delay")  # the three nodes the journey drops, in chain order


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


class Journey:
    """The editor page in the browser, with the few look-ups and gestures a user's journey needs."""

    def __init__(self, tab: Page, url: str) -> None:
        self.page = tab
        self.url = url
        self.shots = 0
        SCREENSHOTS.mkdir(exist_ok=True)

    def shot(self, step: str, *, settle: bool = True) -> None:
        self.shots += 1
        if settle:  # notifications and transitions finish (endless ones, like a running node's stripe, aside)
            self.page.wait_for_function(
                """() => document.getAnimations().every(
                    a => a.playState !== "running" || a.effect?.getTiming().iterations === Infinity)"""
            )
        self.page.wait_for_timeout(50)
        self.page.screenshot(path=str(SCREENSHOTS / f"journey-{self.shots:02d}-{step}.png"))

    # --- what is on the page ---

    @property
    def problems(self) -> Locator:
        """The top bar's problems button ("3 problems" … "No problems")."""
        return self.page.locator(".q-btn").filter(has_text=re.compile(r"\d+ problems?$|No problems$"))

    @property
    def save_state(self) -> Locator:
        return self.page.get_by_text(re.compile(r"^(Saved · v\d+|Unsaved changes)$"))

    @property
    def nodes(self) -> Locator:
        return self.page.locator(".vue-flow__node")

    @property
    def edges(self) -> Locator:
        return self.page.locator(".vue-flow__edge")

    def node(self, key: str) -> Locator:
        return self.page.locator(f'.vue-flow__node[data-id="{key}"]')

    def badge(self, key: str) -> Locator:
        return self.node(key).locator(".fy-badge--problem")

    def palette_item(self, agent_id: str) -> Locator:
        return self.page.locator('[draggable="true"]').filter(has=self.page.get_by_text(agent_id, exact=True))

    @property
    def inspector(self) -> Locator:
        """The inspector beside the canvas (the column holding the node's tabs, or the hint to select one)."""
        return self.page.locator(".nicegui-column.w-96")

    @property
    def mapping_editor(self) -> Locator:
        return self.page.locator(".q-tab-panel .cm-content")

    @property
    def preview(self) -> Locator:
        """The Input tab's preview of the mapped input (hidden until a run has data to show)."""
        return self.page.locator(".q-tab-panel .nicegui-code")

    # --- gestures ---

    def pane_point(self, fx: float, fy: float) -> tuple[float, float]:
        """A point on the canvas, as fractions of its width and height."""
        box = self.page.locator(".vue-flow__pane").bounding_box()
        assert box is not None
        return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy

    def drop(self, agent_id: str, at: tuple[float, float]) -> None:
        """Drag a palette item onto the canvas (HTML drag and drop, driven by the mouse)."""
        pane = self.page.locator(".vue-flow__pane")
        box = pane.bounding_box()
        assert box is not None
        self.palette_item(agent_id).drag_to(pane, target_position={"x": at[0] - box["x"], "y": at[1] - box["y"]})

    def connect(self, source: str, target: str) -> None:
        """Press on the source's output handle, move in steps, release on the target's input handle."""
        start = self.node(source).locator(".vue-flow__handle.source").bounding_box()
        goal = self.node(target).locator(".vue-flow__handle.target").bounding_box()
        assert start is not None and goal is not None
        x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
        mouse = self.page.mouse
        mouse.move(x, y)
        mouse.down()
        mouse.move(x + 5, y + 5, steps=2)
        mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=12)
        mouse.up()

    def focus_canvas(self) -> None:
        """Click an empty spot of the canvas: the canvas takes the keyboard (and the selection clears)."""
        x, y = self.pane_point(0.5, 0.04)
        self.page.mouse.click(x, y)

    def settle(self) -> None:
        """Wait until the viewport stops moving (fit view, centring on a node)."""
        last = None
        for _ in range(50):
            transform = self.page.eval_on_selector(".vue-flow__transformationpane", "el => el.style.transform")
            if transform == last:
                return
            last = transform
            self.page.wait_for_timeout(60)


def _layout(journey: Journey, boxes: dict[str, Any] | None) -> list[float]:
    """Each node's offset from the first, in node widths (so the same layout at another zoom compares equal)."""
    boxes = boxes or {key: journey.node(key).bounding_box() for key in ("transform", "transform_2", "delay")}
    first = boxes["transform"]
    return [round((box[axis] - first[axis]) / first["width"], 3) for box in boxes.values() for axis in ("x", "y")]


def _api(url: str, path: str) -> Any:
    response = http.get(f"{url}/api/v1{path}", timeout=5)
    response.raise_for_status()
    return response.json()


def _wait_for(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _create_an_empty_workflow(journey: Journey) -> str:
    """An empty workflow, created from the Workflows page."""
    tab = journey.page
    tab.goto(f"{journey.url}/workflows")
    tab.get_by_role("button", name="New workflow").click()
    tab.get_by_role("textbox", name="Name").fill("Lead digest")
    journey.shot("new-workflow")
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r"/workflows/wf-[0-9a-f]+$"))
    workflow_id = tab.url.rsplit("/", 1)[1]
    expect(tab.locator(".fy-empty")).to_be_visible()
    expect(journey.save_state).to_have_text("Saved · v1")
    expect(journey.problems).to_have_text(re.compile("1 problem$"))  # "the workflow has no nodes"
    journey.shot("empty")
    return workflow_id


def _drop_three_agents(journey: Journey) -> None:
    """(1) three agents dragged from the palette onto the canvas."""
    journey.drop("transform", journey.pane_point(0.38, 0.15))
    expect(journey.node("transform")).to_be_visible()
    journey.drop("transform", journey.pane_point(0.62, 0.42))
    expect(journey.node("transform_2")).to_be_visible()
    journey.drop("delay", journey.pane_point(0.38, 0.7))
    expect(journey.node("delay")).to_be_visible()
    expect(journey.nodes).to_have_count(3)
    expect(journey.save_state).to_have_text("Unsaved changes")
    # three loose nodes: each is marked, and the problems count says so
    expect(journey.problems).to_have_text(re.compile("3 problems$"))
    for key in ("transform", "transform_2", "delay"):
        expect(journey.badge(key)).to_be_visible()
    journey.shot("dropped")


def _connect_them(journey: Journey) -> None:
    """(2, 3) connected output to input; the marks go as each node is connected."""
    tab = journey.page
    journey.connect("transform", "transform_2")
    expect(journey.edges).to_have_count(1)
    expect(journey.problems).to_have_text(re.compile("1 problem$"))
    expect(journey.badge("transform")).to_have_count(0)
    expect(journey.badge("transform_2")).to_have_count(0)
    expect(journey.badge("delay")).to_be_visible()
    journey.shot("one-connected")
    # the dropped Delay is still selected: its inspector lists its problem until it is connected
    expect(journey.inspector.get_by_text("step 'delay' is not connected")).to_be_visible()
    journey.connect("transform_2", "delay")
    expect(journey.edges).to_have_count(2)
    expect(journey.problems).to_have_text(re.compile("No problems$"))
    expect(tab.locator(".fy-badge--problem")).to_have_count(0)
    expect(journey.inspector.get_by_text("not connected")).to_have_count(0)
    journey.shot("connected")


def _map_the_input_with_completion(journey: Journey) -> None:
    """(4) the second step's input mapped with the editor's completion, with a live preview."""
    tab = journey.page
    journey.node("transform_2").click()
    expect(journey.inspector.get_by_role("tab", name="Input")).to_be_visible()
    expect(journey.inspector.locator(".text-base").first).to_have_text("Transform")
    tab.get_by_role("tab", name="Input").click()
    waiting = journey.inspector.get_by_text("No output from 'transform' yet")  # before a run: nothing to show
    expect(waiting).to_be_visible()  # (no mapping: the input is the previous step's output)
    journey.mapping_editor.click()
    tab.keyboard.type("{{ nodes.tr")  # the editor closes the braces as they are typed
    completion = tab.locator(".cm-tooltip-autocomplete")
    expect(completion).to_contain_text("nodes.transform.output")
    journey.shot("completion")
    tab.keyboard.press("Enter")
    expect(journey.mapping_editor).to_have_text(MAPPING)
    expect(waiting).to_be_visible()  # a note, not an error
    expect(journey.preview).to_be_hidden()
    journey.shot("mapped")
    journey.mapping_editor.click()  # into the editor and out again, onto the canvas: nothing is lost
    tab.keyboard.press("End")
    journey.focus_canvas()
    expect(tab.get_by_text("Select a step to edit it")).to_be_visible()
    journey.node("transform_2").click()
    expect(tab.get_by_role("tab", name="Input")).to_have_attribute("aria-selected", "true")  # the tab is kept
    expect(journey.mapping_editor).to_have_text(MAPPING)


def _undo_and_redo(journey: Journey) -> None:
    """(5) undo and redo on the canvas, across every edit: the mapping, then the last connection."""
    tab = journey.page
    journey.node("transform_2").click()  # the canvas takes the keyboard again (the tab had it)
    tab.keyboard.press("Control+z")
    expect(journey.mapping_editor).to_have_text("")
    tab.keyboard.press("Control+z")
    expect(journey.edges).to_have_count(1)
    expect(journey.problems).to_have_text(re.compile("1 problem$"))
    expect(journey.badge("delay")).to_be_visible()
    journey.shot("undone")
    tab.keyboard.press("Control+Shift+z")
    expect(journey.edges).to_have_count(2)
    expect(journey.problems).to_have_text(re.compile("No problems$"))
    expect(journey.badge("delay")).to_have_count(0)
    tab.keyboard.press("Control+Shift+z")
    expect(journey.mapping_editor).to_have_text(MAPPING)
    journey.shot("redone")


def _tidy_and_save(journey: Journey, workflow_id: str) -> None:
    """Tidy (Shift+Alt+T) lays the chain out left to right; (6) Ctrl+S saves it as version 2."""
    tab = journey.page
    journey.focus_canvas()
    tab.keyboard.press("Shift+Alt+T")
    tab.wait_for_function(
        """() => {
            const x = key => document.querySelector(`.vue-flow__node[data-id="${key}"]`).getBoundingClientRect().x;
            return x("transform") < x("transform_2") && x("transform_2") < x("delay");
        }"""
    )
    journey.settle()
    expect(journey.save_state).to_have_text("Unsaved changes")
    tab.keyboard.press("Control+s")
    expect(journey.save_state).to_have_text("Saved · v2")
    journey.shot("saved")
    saved = _api(journey.url, f"/workflows/{workflow_id}")
    assert saved["version"] == 2


def _reload_and_find_it_as_left(journey: Journey) -> None:
    """(7) a reload shows everything as it was left."""
    tab = journey.page
    positions = {key: journey.node(key).bounding_box() for key in KEYS}
    tab.reload()
    expect(journey.nodes).to_have_count(3)
    expect(journey.edges).to_have_count(2)
    journey.settle()
    expect(journey.save_state).to_have_text("Saved · v2")
    expect(journey.problems).to_have_text(re.compile("No problems$"))
    titles = {key: journey.node(key).locator(".fy-node__title").inner_text() for key in positions}
    assert titles == {"transform": "Transform", "transform_2": "Transform", "delay": "Delay"}
    edge_ids = sorted(e.get_attribute("data-id") or "" for e in journey.edges.all())
    assert edge_ids == ["transform->transform_2", "transform_2->delay"]
    assert _layout(journey, positions) == pytest.approx(_layout(journey, None), abs=0.02)  # the tidy layout
    pane = tab.locator(".vue-flow__pane").bounding_box()
    assert pane is not None
    for key in positions:  # all in view, and the row about the middle (not pinned to an edge)
        box = journey.node(key).bounding_box()
        assert box is not None
        assert pane["x"] < box["x"] and box["x"] + box["width"] < pane["x"] + pane["width"], key
        assert abs(box["y"] + box["height"] / 2 - (pane["y"] + pane["height"] / 2)) < pane["height"] / 4, key
    journey.node("transform_2").click()
    tab.get_by_role("tab", name="Input").click()
    expect(journey.mapping_editor).to_have_text(MAPPING)
    journey.shot("reloaded")


def _view_the_saved_version(journey: Journey) -> None:
    """(7b) the saved version, viewed read-only from the history."""
    tab = journey.page
    tab.get_by_role("button", name="History").click()
    tab.get_by_role("button", name="View", exact=True).first.click()
    version = tab.locator(".q-dialog").filter(has_text="version 2")
    expect(version.locator(".vue-flow__node")).to_have_count(3)
    expect(version.get_by_role("button", name="Restore this version")).to_be_visible()
    journey.shot("version")
    version.get_by_role("button", name="Close").click()
    expect(version).to_be_hidden()


def _run_and_watch_it_complete(journey: Journey, workflow_id: str) -> None:
    """(8) Run, started from its dialog: every node turns green, and the run is COMPLETED."""
    tab = journey.page
    tab.get_by_role("button", name="Run", exact=True).click()
    dialog = tab.locator(".q-dialog")
    expect(dialog.get_by_text("Run workflow")).to_be_visible()
    dialog.locator(".cm-content").click()
    tab.keyboard.press("Control+a")
    tab.keyboard.type('{"lead": "Ada"')  # (the editor closes the brace itself)
    expect(dialog.locator(".cm-content")).to_have_text('{"lead": "Ada"}')
    journey.shot("run-dialog")
    dialog.get_by_role("button", name="Run").click()
    expect(dialog).to_be_hidden()
    expect(journey.node("delay").locator(".fy-node")).to_have_attribute("data-status", "RUNNING")  # a 1 s delay
    journey.shot("running", settle=False)  # (while it runs)
    for key in KEYS:
        card = journey.node(key).locator(".fy-node")
        expect(card).to_have_attribute("data-status", "COMPLETED")
        expect(card).to_have_class(re.compile(r"\bfy-status--completed\b"))
        tab.wait_for_function(  # the stripe as drawn: green
            """([key, rgb]) => rgb === getComputedStyle(
                document.querySelector(`.vue-flow__node[data-id="${key}"] .fy-node__stripe`)).backgroundColor""",
            arg=[key, COMPLETED_RGB],
        )
    expect(tab.get_by_text("Run completed")).to_be_visible()
    runs = _wait_for(
        lambda: [
            r for r in _api(journey.url, f"/workflows/{workflow_id}/runs")["content"] if r["status"] == "COMPLETED"
        ],
        timeout=10,
        what="the run to be COMPLETED in the API",
    )
    assert len(runs) == 1 and runs[0]["workflowVersion"] == 2
    detail = _api(journey.url, f"/workflows/runs/{runs[0]['id']}")
    assert [n["status"] for n in detail["nodes"]] == ["COMPLETED"] * 3
    assert [n["output"] for n in detail["nodes"]] == [{"lead": "Ada"}] * 3
    # the inspector (still on the second step's Input tab) now previews the mapping against the run's data
    expect(journey.inspector.get_by_text("Preview against the last run")).to_be_visible()
    expect(journey.preview).to_contain_text('"lead": "Ada"')
    journey.shot("completed")


def test_new_user_builds_maps_saves_reloads_and_runs_a_workflow(page: Page, server: str) -> None:  # noqa: F811
    started = time.monotonic()
    journey = Journey(page, server)

    workflow_id = _create_an_empty_workflow(journey)
    _drop_three_agents(journey)
    _connect_them(journey)
    _map_the_input_with_completion(journey)
    _undo_and_redo(journey)
    _tidy_and_save(journey, workflow_id)
    _reload_and_find_it_as_left(journey)
    _view_the_saved_version(journey)
    _run_and_watch_it_complete(journey, workflow_id)

    elapsed = time.monotonic() - started
    print(f"editor journey: {elapsed:.1f} s")
    assert elapsed < 60
