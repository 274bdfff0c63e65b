"""The editor and a run's page on a small laptop (1024 by 700), end to end: the real `flowyard serve`, a real
Chromium, mouse and keyboard only.

A person opens the example workflow: with the palette and the inspector open the canvas is narrow (and the
minimap keeps out of its way). They hide the palette with its button and the inspector with `]`; the canvas
takes the room, and a reload keeps it so. `+` puts the cursor in the palette's search (the palette opens for
it); they type "delay" and press Enter: a Delay step is added and the palette folds again. Tidy lays the
branch out in the order of its outcomes at a readable zoom. Then a run that fails at its first step: its page
shows the steps it never reached as skipped ("Not run"), never "Queued", and the wheel over its graph scrolls
the page. In light and dark mode. Screenshots: `.screenshots/small-<nn>-<step>.png`.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, http, log_in

pytestmark = pytest.mark.slow

SMALL = {"width": 1024, "height": 700}


@pytest.fixture
def server(shared_server: str, page: Page) -> str:  # noqa: F811
    """The module's server (`shared_server`: each test makes the workflows it works on), the page logged in."""
    log_in(page, shared_server)
    return shared_server


def _box(page: Page, selector: str) -> dict[str, float]:  # noqa: F811
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def _zoom(page: Page) -> float:  # noqa: F811
    transform = page.eval_on_selector(".vue-flow__transformationpane", "el => el.style.transform")
    return float(transform.split("scale(")[1].rstrip(")"))


def _settle(page: Page) -> None:  # noqa: F811
    """Wait until the canvas's view stops moving (a fit or a tidy animates)."""
    last = None
    for _ in range(40):
        transform = page.eval_on_selector(".vue-flow__transformationpane", "el => el.style.transform")
        if transform == last:
            return
        last = transform
        page.wait_for_timeout(80)


def _click_empty_canvas(page: Page) -> None:  # noqa: F811
    pane = _box(page, ".vue-flow__pane")
    page.mouse.click(pane["x"] + 30, pane["y"] + 30)


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 1
        and inner["y"] >= outer["y"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


def _overlap(one: dict[str, float], other: dict[str, float]) -> bool:
    return (
        one["x"] < other["x"] + other["width"]
        and other["x"] < one["x"] + one["width"]
        and one["y"] < other["y"] + other["height"]
        and other["y"] < one["y"] + one["height"]
    )


def _drag_graph_until_shown(page: Page, key: str) -> None:  # noqa: F811
    """Drag the canvas's background leftwards, as a person does, until step `key` is wholly in view."""
    for _ in range(16):
        canvas = _box(page, ".fy-editor")
        node = page.locator(f'.vue-flow__node[data-id="{key}"]')
        if node.count() and _inside(_box(page, f'.vue-flow__node[data-id="{key}"]'), canvas):
            return
        # grab the background near the top edge (above the steps), drag it left
        start = {"x": canvas["x"] + canvas["width"] - 30, "y": canvas["y"] + 30}
        page.mouse.move(start["x"], start["y"])
        page.mouse.down()
        page.mouse.move(start["x"] - canvas["width"] / 4, start["y"], steps=8)
        page.mouse.up()
        _settle(page)
    page.screenshot(path="/tmp/h9/drag-fail.png")
    raise AssertionError(f"step {key} could not be brought into view")


def _failed_run(url: str) -> str:
    """A three-step workflow whose first step fails (a division by zero), run once: its run id, once FAILED."""
    workflow_id = api_post(url, "/workflows", {"name": "Fails first"})["id"]
    steps: list[dict[str, Any]] = [
        {"agentId": "transform", "key": "divide", "name": "Divide", "action": "{{ 1 // 0 }}"},
        {"agentId": "transform", "key": "report", "name": "Report", "action": "{{ input }}"},
        {"agentId": "transform", "key": "archive", "name": "Archive", "action": "{{ input }}"},
    ]
    for step in steps:
        api_post(url, f"/workflows/{workflow_id}/steps", step)
    run_id: str = api_post(url, f"/workflows/{workflow_id}/run", {"input": {}})["runId"]
    deadline = time.monotonic() + 15
    while http.get(f"{url}/api/v1/workflows/runs/{run_id}").json()["status"] != "FAILED":
        assert time.monotonic() < deadline, "the run did not fail"
        time.sleep(0.1)
    return run_id


def test_small_screen_collapses_panels_adds_with_plus_tidies_and_scrolls_a_run(  # noqa: PLR0915  (one journey)
    server: str,
    page: Page,  # noqa: F811
) -> None:
    page.set_viewport_size(SMALL)
    shot = Shots(page, "small")

    # --- (1) the example, with both side panels open: a narrow canvas, no minimap over it ---
    page.goto(f"{server}/workflows")
    page.get_by_role("button", name="Use this example").first.click()
    page.wait_for_url(re.compile(r"/workflows/wf-"))
    expect(page.locator(".vue-flow__node")).to_have_count(4)
    _settle(page)
    assert _box(page, ".fy-editor")["width"] < 500
    expect(page.locator(".vue-flow__minimap")).to_have_count(0)
    shot("panels-open")

    # --- (2) the palette folds by its button, the inspector by `]`: the canvas takes the room ---
    page.get_by_role("button", name="Hide the palette").click()
    _click_empty_canvas(page)
    page.keyboard.press("]")
    expect(page.get_by_role("button", name="Show the inspector")).to_be_visible()
    expect(page.get_by_role("button", name="Show the palette")).to_be_visible()
    canvas = _box(page, ".fy-editor")
    assert canvas["width"] > 850
    minimap = _box(page, ".vue-flow__minimap")  # room for it now: small, in the bottom-right corner
    assert minimap["width"] * minimap["height"] < 0.05 * canvas["width"] * canvas["height"]
    assert minimap["x"] > canvas["x"] + canvas["width"] * 0.7
    shot("panels-folded")

    # --- (3) remembered: a reload keeps them folded ---
    page.reload()
    expect(page.locator(".vue-flow__node")).to_have_count(4)
    expect(page.get_by_role("button", name="Show the palette")).to_be_visible()
    expect(page.get_by_role("button", name="Show the inspector")).to_be_visible()
    assert _box(page, ".fy-editor")["width"] > 850

    # --- (4) `+`: the palette's search takes the typing; Enter adds the first match, the palette folds again ---
    _settle(page)
    _click_empty_canvas(page)
    page.keyboard.press("+")
    search = page.get_by_placeholder("Search agents")
    expect(search).to_be_focused()
    search.press_sequentially("delay", delay=40)
    expect(page.get_by_text("Enter adds Delay")).to_be_visible()
    shot("plus-search")
    page.keyboard.press("Enter")
    expect(page.locator('.vue-flow__node[data-id="delay"]')).to_have_count(1)
    _settle(page)
    # in free space (on no other step), and in view
    canvas = _box(page, ".fy-editor")
    added = _box(page, '.vue-flow__node[data-id="delay"]')
    assert _inside(added, canvas)
    for other in page.locator(".vue-flow__node").all():
        box = other.bounding_box()
        if other.get_attribute("data-id") != "delay" and box:
            assert not _overlap(added, box), other.get_attribute("data-id")
    expect(page.get_by_role("button", name="Show the palette")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    shot("plus-added")

    # --- (5) tidy: the branch's steps in the order of its outcomes (hot above cold), at a readable zoom ---
    page.keyboard.press("Shift+Alt+T")  # the canvas has the focus back after adding
    page.wait_for_timeout(300)
    _settle(page)
    hot = _box(page, '.vue-flow__node[data-id="sales_email"]')
    cold = _box(page, '.vue-flow__node[data-id="nurture"]')
    assert hot["y"] + hot["height"] <= cold["y"]
    assert 0.75 <= _zoom(page) <= 1.0
    shot("tidied")
    page.keyboard.press("Control+s")
    expect(page.get_by_text(re.compile(r"^Saved · v2$"))).to_be_visible()

    # --- (6) a failed run: the steps it never reached are not "Queued" ---
    run_id = _failed_run(server)
    page.goto(f"{server}/runs/{run_id}")
    expect(page.locator('.fy-node[data-key="divide"]')).to_have_attribute("data-status", "FAILED")
    # (the canvas draws only what is in view: "archive" is off to the right on this small screen)
    expect(page.locator('.fy-node[data-key="report"]')).to_have_attribute("data-status", "SKIPPED")
    expect(page.locator('.fy-timeline__row--idle[data-status="SKIPPED"]')).to_have_count(2)
    expect(page.locator(".fy-run-panel").get_by_text("Queued")).to_have_count(0)
    expect(page.locator(".fy-timeline__row--idle").filter(has_text="Not run")).to_have_count(2)
    _settle(page)
    _drag_graph_until_shown(page, "report")  # a readable zoom: the later steps are a drag away
    page.locator('.vue-flow__node[data-id="report"]').click()
    expect(page.get_by_text("Not run: the run ended before it reached this step.")).to_be_visible()
    shot("run-not-run")

    # --- (7) the wheel over the run's graph scrolls the page; the graph keeps its zoom ---
    _settle(page)
    zoom = _zoom(page)
    graph = _box(page, ".fy-run-graph")
    page.mouse.move(graph["x"] + graph["width"] / 2, graph["y"] + 40)
    page.mouse.wheel(0, 400)
    page.wait_for_function("window.scrollY > 100")
    assert _zoom(page) == zoom
    shot("run-scrolled")

    # --- (8) the same in dark mode ---
    page.locator(".fy-theme-toggle").click()
    page.evaluate("window.scrollTo(0, 0)")
    shot("run-dark")
    page.goto(f"{server}/workflows")
    page.get_by_role("link", name="Lead routing").first.click()
    expect(page.locator(".vue-flow__node")).to_have_count(5)
    page.get_by_role("button", name="Show the palette").click()
    page.get_by_role("button", name="Show the inspector").click()
    expect(page.get_by_placeholder("Search agents")).to_be_visible()
    shot("editor-dark")


def test_tidy_with_the_inspector_open_shows_the_whole_small_graph_beside_it(
    server: str,
    page: Page,  # noqa: F811
) -> None:
    """The canvas beside an open inspector is narrower than the window: tidy fits the graph to what shows."""
    page.set_viewport_size({"width": 1440, "height": 900})
    shot = Shots(page, "small-tidy")
    page.goto(f"{server}/workflows")
    page.get_by_role("button", name="Use this example").first.click()
    page.wait_for_url(re.compile(r"/workflows/wf-"))
    expect(page.locator(".vue-flow__node")).to_have_count(4)
    _settle(page)
    _click_empty_canvas(page)
    page.keyboard.press("]")  # the inspector folds: the canvas is wide
    expect(page.get_by_role("button", name="Show the inspector")).to_be_visible()
    _settle(page)
    page.locator(".vue-flow__node").first.click()
    page.keyboard.press("]")  # and opens again beside it: tidy at once
    page.keyboard.press("Shift+Alt+T")
    page.wait_for_timeout(300)
    _settle(page)
    assert 0.75 <= _zoom(page) <= 1.0
    canvas = _box(page, ".fy-editor")
    expect(page.locator(".vue-flow__node")).to_have_count(4)
    for node in page.locator(".vue-flow__node").all():
        box = node.bounding_box()
        assert box is not None and _inside(box, canvas), node.get_attribute("data-id")
    shot("tidied-beside-inspector")


def test_a_runs_small_graph_opens_readable_and_every_step_can_be_reached(
    server: str,
    page: Page,  # noqa: F811
) -> None:
    """A run's page (1024 by 700): the graph opens at a readable zoom on its entry side, the rest a drag away."""
    page.set_viewport_size(SMALL)
    shot = Shots(page, "small-run-graph")
    run_id = _failed_run(server)
    page.goto(f"{server}/runs/{run_id}")
    expect(page.locator('.fy-node[data-key="divide"]')).to_have_attribute("data-status", "FAILED")
    _settle(page)
    assert 0.75 <= _zoom(page) <= 1.0
    canvas = _box(page, ".fy-editor")
    assert _inside(_box(page, '.vue-flow__node[data-id="divide"]'), canvas)  # the entry side
    shot("opened")
    for key in ("report", "archive"):
        _drag_graph_until_shown(page, key)
        assert _inside(_box(page, f'.vue-flow__node[data-id="{key}"]'), _box(page, ".fy-editor"))
    shot("dragged-to-the-end")
