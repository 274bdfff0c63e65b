"""Sticky notes, turned-off steps and “Run up to here”, used as a person uses them in a real Chromium.

A note is added from the canvas's controls (and with Shift+S), written key by key, rendered as markdown (never
as HTML), moved, resized, undone, saved with the workflow and shown — not editable — on a run's page. A step is
turned off from the inspector and with `D`, greyed on the canvas and saved so. “Run up to here” saves the draft,
runs the step and what it depends on, colours the canvas live, and the run's page says how far it ran.
Screenshots in light and dark: `.screenshots/canvas-extras-<nn>-<step>-<theme>.png`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, http, log_in
from tests.e2e.test_accessibility import axe_violations, describe

pytestmark = pytest.mark.slow

HUMAN_MS = 40  # between keys, as a person types
NOTE = (
    "# Plan\n**Enrich** first, then `score`. <img src=x onerror=window.pwned=1>\n- one\n- two\n"
    "[docs](https://example.com/docs) [bad](javascript:alert(1))"
)


@pytest.fixture
def server(shared_server: str, page: Page) -> str:  # noqa: F811
    """The module's server (`shared_server`: each test makes the workflows it works on), the page logged in."""
    log_in(page, shared_server)
    return shared_server


def _chain(url: str, name: str, keys: list[str]) -> str:
    """A workflow of transform steps, each passing its input on."""
    workflow_id: str = api_post(url, "/workflows", {"name": name})["id"]
    for key in keys:
        api_post(url, f"/workflows/{workflow_id}/steps", {"agentId": "transform", "key": key, "action": "{{ input }}"})
    return workflow_id


def _steps(url: str, workflow_id: str) -> dict[str, dict[str, Any]]:
    response = http.get(f"{url}/api/v1/workflows/{workflow_id}", timeout=5)
    response.raise_for_status()
    return {step["key"]: step for step in response.json()["steps"]}


class Canvas:
    """The editor page (or a run's page), seen as a person sees it."""

    def __init__(self, tab: Page, url: str) -> None:
        self.page, self.url = tab, url
        self.shots = 0

    def open(self, path: str) -> None:
        self.page.goto(f"{self.url}{path}")
        expect(self.page.locator(".vue-flow__node-agent").first).to_be_visible()

    def shot(self, step: str) -> None:
        """A screenshot in light and in dark mode (the header's theme toggle), each checked by axe-core (no serious
        or critical violation), back in light mode after."""
        SCREENSHOTS.mkdir(exist_ok=True)
        self.shots += 1
        found: list[str] = []
        for theme in ("light", "dark"):
            if theme == "dark":
                self.page.locator(".fy-theme-toggle").click()
                self.page.wait_for_timeout(900)  # (the theme's colours fade in; the loading bar goes)
            self.page.wait_for_timeout(250)
            self.page.screenshot(path=str(SCREENSHOTS / f"canvas-extras-{self.shots:02d}-{step}-{theme}.png"))
            found += describe(f"{step} ({theme})", axe_violations(self.page))
        self.page.locator(".fy-theme-toggle").click()
        self.page.wait_for_timeout(150)
        assert not found, "\n".join(found)

    @property
    def notes(self) -> Locator:
        return self.page.locator(".vue-flow__node-note")

    @property
    def save_state(self) -> Locator:
        return self.page.get_by_text(re.compile(r"^(Saved · v\d+|Unsaved changes)$"))

    @property
    def inspector(self) -> Locator:
        return self.page.locator(".fy-inspector-body")

    def node(self, key: str) -> Locator:
        return self.page.locator(f'.vue-flow__node[data-id="{key}"]')

    def select(self, key: str) -> None:
        self.node(key).click()
        expect(self.inspector.get_by_label("Key (used as nodes.<key>.output)", exact=True)).to_have_value(key)

    def save(self) -> None:
        self.page.get_by_role("button", name="Save").click()
        expect(self.save_state).to_have_text(re.compile(r"^Saved · v\d+$"))

    def focus_canvas(self) -> None:
        """Click an empty spot of the canvas: it takes the keyboard and the selection clears."""
        box = self.page.locator(".vue-flow__pane").bounding_box()
        assert box is not None
        self.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 12)

    def drag_by(self, target: Locator, dx: float, dy: float) -> None:
        box = target.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        mouse = self.page.mouse
        mouse.move(x, y)
        mouse.down()
        mouse.move(x + 4, y + 4, steps=2)
        mouse.move(x + dx, y + dy, steps=12)
        mouse.up()


def _box(locator: Locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


def _wait_for_width(tab: Page, locator: Locator, width: float) -> None:
    for _ in range(50):
        if abs(_box(locator)["width"] - width) < 2:
            return
        tab.wait_for_timeout(100)
    raise AssertionError(f"the width stayed {_box(locator)['width']}, not {width}")


# --- sticky notes ----------------------------------------------------------------------------------------------


def test_a_sticky_note_is_written_moved_resized_undone_saved_and_shown_read_only(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = _chain(server, "Notes", ["enrich", "score"])
    canvas = Canvas(page, server)
    canvas.open(f"/workflows/{workflow_id}")

    # added from the canvas's controls: it opens for writing at once
    canvas.page.get_by_role("button", name="Add a sticky note").click()
    expect(canvas.notes).to_have_count(1)
    box = canvas.notes.locator("textarea")
    expect(box).to_be_focused()
    box.press_sequentially(NOTE, delay=HUMAN_MS // 4)
    expect(box).to_have_value(NOTE)
    expect(box).to_be_focused()  # typing (Backspace, D, S…) never reaches the canvas's shortcuts
    page.keyboard.press("Escape")
    note = canvas.notes.first
    expect(note.locator("textarea")).to_have_count(0)
    expect(note.locator("h4")).to_have_text("Plan")
    expect(note.locator("strong")).to_have_text("Enrich")
    expect(note.locator("code")).to_have_text("score")
    expect(note.locator("li")).to_have_text(["one", "two"])
    expect(note.locator("a")).to_have_count(1)  # a javascript: link stays text
    expect(note.locator("a")).to_have_attribute("href", "https://example.com/docs")
    assert note.locator("img").count() == 0
    expect(note).to_contain_text("<img src=x onerror=window.pwned=1>")
    assert page.evaluate("window.pwned") is None
    expect(canvas.node("enrich")).to_be_visible()
    expect(canvas.save_state).to_have_text("Unsaved changes")

    # moved and resized (its resize handles show while it is selected), each one undoable step
    start = _box(note)
    canvas.drag_by(note, 120, 60)
    moved = _box(note)
    assert abs(moved["x"] - start["x"] - 120) < 25 and abs(moved["y"] - start["y"] - 60) < 25
    handle = note.locator(".vue-flow__resize-control.handle.bottom.right")
    expect(handle).to_be_visible()
    corner = _box(handle)
    mouse = page.mouse
    mouse.move(corner["x"] + corner["width"] / 2, corner["y"] + corner["height"] / 2)
    mouse.down()
    mouse.move(corner["x"] + 60, corner["y"] + 50, steps=10)
    mouse.move(corner["x"] + 120, corner["y"] + 90, steps=10)
    mouse.up()
    resized = _box(note)
    assert resized["width"] > moved["width"] + 80 and resized["height"] > moved["height"] + 60
    page.keyboard.press("Control+z")
    _wait_for_width(page, note, moved["width"])
    page.keyboard.press("Control+Shift+z")
    _wait_for_width(page, note, resized["width"])
    canvas.shot("note")


def test_notes_are_added_with_shift_s_edited_deleted_saved_and_read_only_on_a_run(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = _chain(server, "Notes kept", ["enrich", "score"])
    canvas = Canvas(page, server)
    canvas.open(f"/workflows/{workflow_id}")
    canvas.focus_canvas()
    page.keyboard.press("Shift+S")
    expect(canvas.notes).to_have_count(1)
    note = canvas.notes.first
    note.locator("textarea").press_sequentially("**Enrich** first\n- one\n- two", delay=HUMAN_MS)
    note.locator("textarea").blur()  # leaving the text ends editing too
    expect(note.locator("strong")).to_have_text("Enrich")

    # double-click edits it again; Escape keeps what was typed
    note.locator(".fy-note").dblclick()
    expect(note.locator("textarea")).to_be_focused()
    page.keyboard.press("Control+End")
    note.locator("textarea").press_sequentially("\n- three", delay=HUMAN_MS)
    page.keyboard.press("Escape")
    expect(note.locator("li")).to_have_text(["one", "two", "three"])

    # another one, deleted with Delete
    canvas.focus_canvas()
    page.keyboard.press("Shift+S")
    expect(canvas.notes).to_have_count(2)
    canvas.notes.nth(1).locator("textarea").press_sequentially("Scratch", delay=HUMAN_MS)
    page.keyboard.press("Escape")
    expect(canvas.notes.nth(1)).to_contain_text("Scratch")
    canvas.notes.nth(1).click()
    page.keyboard.press("Delete")
    expect(canvas.notes).to_have_count(1)

    canvas.save()
    page.reload()
    expect(canvas.notes).to_have_count(1)
    note = canvas.notes.first
    expect(note.locator("li")).to_have_text(["one", "two", "three"])

    # a run's page shows it, read-only: no resize handles, no textarea on double-click
    run = api_post(server, f"/workflows/{workflow_id}/run", {"input": {}})
    canvas.open(f"/runs/{run['runId']}")
    note = canvas.notes.first
    expect(note.locator("strong")).to_have_text("Enrich")
    canvas.shot("run-page-note")
    note.locator(".fy-note").click()
    expect(note.locator(".vue-flow__resize-control")).to_have_count(0)
    note.locator(".fy-note").dblclick()
    expect(note.locator("textarea")).to_have_count(0)


# --- turned-off steps ----------------------------------------------------------------------------------------------


def test_a_step_is_turned_off_from_the_inspector_and_with_d(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = _chain(server, "Turned off", ["enrich", "score", "notify"])
    canvas = Canvas(page, server)
    canvas.open(f"/workflows/{workflow_id}")

    canvas.select("score")
    switch = canvas.inspector.get_by_role("switch", name="Turned off — runs pass its input on")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    card = canvas.node("score").locator(".fy-node")
    expect(card).to_have_class(re.compile(r"\bfy-node--off\b"))
    expect(card.locator(".fy-badge--off")).to_have_text(re.compile(r"off\s*$"))
    expect(canvas.save_state).to_have_text("Unsaved changes")
    canvas.shot("turned-off")

    # D on the selected step: off, then on again; the switch follows
    canvas.node("notify").click()
    page.keyboard.press("d")
    expect(canvas.node("notify").locator(".fy-node")).to_have_class(re.compile(r"\bfy-node--off\b"))
    expect(canvas.inspector.get_by_role("switch", name=re.compile("Turned off"))).to_have_attribute(
        "aria-checked", "true"
    )
    page.keyboard.press("d")
    expect(canvas.node("notify").locator(".fy-node")).not_to_have_class(re.compile(r"\bfy-node--off\b"))
    page.keyboard.press("Control+z")
    expect(canvas.node("notify").locator(".fy-node")).to_have_class(re.compile(r"\bfy-node--off\b"))

    canvas.save()
    steps = _steps(server, workflow_id)
    assert [steps[key]["disabled"] for key in ("enrich", "score", "notify")] == [False, True, True]

    # the help lists the new shortcuts
    canvas.focus_canvas()
    page.keyboard.press("?")
    dialog = page.locator(".q-dialog")
    expect(dialog.get_by_text("turn the selected steps off or on")).to_be_visible()
    expect(dialog.get_by_text("Shift+S", exact=True)).to_be_visible()


# --- run up to here ------------------------------------------------------------------------------------------------


def test_run_up_to_here_saves_runs_the_step_and_what_it_needs(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = _chain(server, "Up to", ["enrich", "score", "notify"])
    canvas = Canvas(page, server)
    canvas.open(f"/workflows/{workflow_id}")
    canvas.select("score")
    title = canvas.inspector.get_by_label("Title", exact=True)
    title.click()
    page.keyboard.press("Control+a")
    title.press_sequentially("Score lead", delay=HUMAN_MS)
    expect(canvas.save_state).to_have_text("Unsaved changes")

    canvas.inspector.get_by_role("button", name="Run up to here").click()
    dialog = page.locator(".q-dialog")
    expect(dialog.get_by_text("Run up to “Score lead”")).to_be_visible()
    dialog.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.type('{"lead": "Ada"')  # (the editor closes the brace itself)
    dialog.get_by_role("button", name="Run", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(canvas.save_state).to_have_text(re.compile(r"^Saved · v\d+$"))  # saved first, the title with it
    for key, status in (("enrich", "COMPLETED"), ("score", "COMPLETED"), ("notify", "SKIPPED")):
        expect(canvas.node(key).locator(".fy-node")).to_have_attribute("data-status", status)
    notice = page.locator(".q-notification").filter(has_text="Run completed")
    expect(notice).to_be_visible()
    canvas.shot("ran-up-to")
    assert _steps(server, workflow_id)["score"]["name"] == "Score lead"

    notice.get_by_role("link", name="open its page").click()
    expect(page.get_by_text("Ran up to Score lead")).to_be_visible()
    canvas.shot("run-page")
    run_id = page.locator(".fy-title.font-mono").inner_text()
    detail = http.get(f"{server}/api/v1/workflows/runs/{run_id}", timeout=5).json()
    assert detail["status"] == "COMPLETED" and detail["until"] == "score"
    assert detail["output"] == {"lead": "Ada"}
    assert {n["key"]: n["status"] for n in detail["nodes"]}["notify"] == "SKIPPED"
