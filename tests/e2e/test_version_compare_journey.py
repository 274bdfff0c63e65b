"""Comparing two versions in a real Chromium, as a person does it: change a step's setting, save, open the history,
compare, and see the changed step marked on the canvas with its setting before | after beside it.
Screenshots: `.screenshots/compare-<nn>-<step>-<theme>.png` (light and dark)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, log_in

pytestmark = pytest.mark.slow

HUMAN_MS = 40


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


def _retitle(tab: Page, text: str) -> None:
    """Type a new title for the selected step, key by key, and save."""
    title = tab.locator(".nicegui-column.w-96").get_by_label("Title", exact=True)
    title.click()
    tab.keyboard.press("Control+a")
    tab.keyboard.press("Backspace")
    title.press_sequentially(text, delay=HUMAN_MS)
    tab.get_by_role("button", name="Save").click()
    expect(tab.get_by_text(re.compile(r"^Saved · v\d+$"))).to_be_visible()


def _comparison(tab: Page) -> Locator:
    return tab.locator(".q-dialog").filter(has_text="compare versions")


def _open_comparison(tab: Page) -> Locator:
    tab.get_by_role("button", name="History").click()
    tab.locator(".q-dialog").get_by_role("button", name=re.compile(r"^What changed in v\d+")).click()
    view = _comparison(tab)
    expect(view.locator('.vue-flow__node[data-id="score"]')).to_be_visible()
    return view


def test_a_changed_setting_is_marked_on_the_canvas_and_shown_before_and_after(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = api_post(server, "/workflows", {"name": "Lead scoring"})["id"]
    for step in (
        {"agentId": "transform", "key": "score", "action": "{{ input }}"},
        {"agentId": "transform", "key": "notify", "name": "Notify", "action": "{{ input }}"},
    ):
        api_post(server, f"/workflows/{workflow_id}/steps", step)
    page.goto(f"{server}/workflows/{workflow_id}")
    page.locator('.vue-flow__node[data-id="score"]').click()
    page.locator(".nicegui-column.w-96").get_by_role("tab", name="Settings").click()
    _retitle(page, "Score")  # one saved version…
    _retitle(page, "Score the lead")  # …and the next

    view = _open_comparison(page)

    changed = view.locator('.vue-flow__node[data-id="score"] .fy-node')
    expect(changed).to_have_class(re.compile(r"fy-node--diff-changed"))
    expect(changed.locator(".fy-node__diff")).to_have_text("changed")
    expect(view.locator('.vue-flow__node[data-id="notify"] .fy-node')).not_to_have_class(re.compile("fy-node--diff"))
    change = view.locator(".fy-compare__step").filter(has_text="Score the lead")
    expect(change.locator(".fy-compare__path")).to_have_text("name")
    expect(change.locator(".fy-compare__value--before")).to_have_text("Score")
    expect(change.locator(".fy-compare__value--after")).to_have_text("Score the lead")

    change.get_by_role("button").first.click()  # the change: its step is selected and centred
    expect(view.locator('.vue-flow__node.selected[data-id="score"]')).to_be_in_viewport()

    SCREENSHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "compare-01-changed-light.png"))
    view.get_by_role("button", name="Close").click()
    page.locator(".fy-theme-toggle").click()
    view = _open_comparison(page)
    expect(view.locator(".fy-compare__value--after")).to_have_text("Score the lead")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "compare-01-changed-dark.png"))
