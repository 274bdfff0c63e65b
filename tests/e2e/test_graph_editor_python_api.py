"""The graph editor's Python API (`set_statuses`, `update_node`, `set_graph`, ...) in a real Chromium.

Each test opens its own page of `graph_editor_app.py` (one app process and one browser for the module), calls
the editor from Python through the app's `/api/call/{session}/{method}` and checks what the browser shows and
what reached Python through `/api/state/{session}`. The `Editor` driver is in `graph_editor_helpers.py`.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page

from components.graph_editor import unique_key
from tests.e2e.browser import browser, page  # noqa: F401  (fixtures)
from tests.e2e.graph_editor_helpers import (
    STRIPE_RGB,
    Editor,
    app_url,  # noqa: F401  (a fixture)
    edge_set,
    node_of,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def editor(page: Page, app_url: str) -> Editor:  # noqa: F811  (the imported fixtures)
    return Editor(page, app_url)


# --- the Python API ------------------------------------------------------------------------------------------------


def test_set_statuses_colours_stripes_without_an_edit(editor: Editor) -> None:
    editor.open("branching")
    editor.call("set_statuses", {"enrich": "COMPLETED", "score": "RUNNING", "route": "FAILED"})
    editor.page.wait_for_selector('.vue-flow__node[data-id="score"] .fy-node.fy-status--running')
    for key, status in (("enrich", "COMPLETED"), ("score", "RUNNING"), ("route", "FAILED")):
        stripe = editor.node(key).locator(".fy-node__stripe")
        assert stripe.evaluate("el => getComputedStyle(el).backgroundColor") == STRIPE_RGB[status]
    assert editor.node("notify").locator(".fy-node").get_attribute("class") == "fy-node"
    assert node_of(editor.state(), "score")["data"]["status"] == "RUNNING"  # type: ignore[index]

    editor.call("set_statuses", {"score": None})
    editor.page.wait_for_selector('.vue-flow__node[data-id="score"] .fy-node:not(.fy-status--running)')
    assert editor.node("enrich").locator(".fy-node.fy-status--completed").count() == 1
    assert editor.events("change") == []


def test_set_problems_marks_nodes_with_a_count_and_tooltip(editor: Editor) -> None:
    editor.open("branching")
    editor.call("set_problems", {"score": ["No template", "Retries must be ≥ 0"]})
    badge = editor.node("score").locator(".fy-badge--problem")
    badge.wait_for()
    assert badge.inner_text().strip().endswith("2")
    assert editor.node("nurture").locator(".fy-badge--problem").count() == 0  # replaced, not merged
    badge.hover()
    tooltip = editor.page.locator(".q-tooltip")
    tooltip.wait_for()
    assert "No template" in tooltip.inner_text()
    assert editor.events("change") == []


def test_update_and_rename_node_are_undoable_edits(editor: Editor) -> None:
    editor.open("branching")
    editor.call("update_node", "score", {"title": "Qualify lead", "spec": {"template": "y"}, "retries": 3})
    state = editor.wait_for(lambda s: len(editor.events("change")) == 1)
    assert node_of(state, "score")["data"]["title"] == "Qualify lead"  # type: ignore[index]
    assert editor.node("score").locator(".fy-node__title").inner_text() == "Qualify lead"

    editor.call("rename_node", "score", "qualify")
    state = editor.wait_for(lambda s: len(editor.events("change")) == 2)
    assert ("enrich", None, "qualify") in edge_set(state)
    assert ("qualify", None, "route") in edge_set(state)
    assert editor.node("qualify").count() == 1

    editor.click_pane()
    editor.page.keyboard.press("Control+z")
    state = editor.wait_for(lambda s: node_of(s, "score") is not None)
    assert node_of(state, "score")["data"]["title"] == "Qualify lead"  # type: ignore[index]
    editor.page.keyboard.press("Control+z")
    state = editor.wait_for(lambda s: node_of(s, "score")["data"]["title"] == "Score lead")  # type: ignore[index]
    assert node_of(state, "score")["data"]["spec"] == {"template": "x"}  # type: ignore[index]


def test_update_node_handles_drops_edges_of_removed_outcomes(editor: Editor) -> None:
    editor.open("branching")
    editor.call("update_node", "route", {"handles": ["hot", "cold"]})
    state = editor.wait_for(lambda s: len(s["graph"]["edges"]) == 3)
    assert ("route", "warm", "nurture") not in edge_set(state)
    editor.page.wait_for_function(
        "document.querySelectorAll('.vue-flow__node[data-id=route] .vue-flow__handle.source').length === 2"
    )


def test_add_node_and_select_node_from_python(editor: Editor) -> None:
    editor.open("branching")
    key = editor.call("add_node", {"agentId": "branch"})
    assert key == "branch"
    state = editor.wait_for(lambda s: len(editor.events("change")) == 1)
    node = node_of(state, "branch")
    assert node is not None
    assert node["data"]["handles"] == ["true", "false"]  # completed from the palette entry
    assert editor.output("branch").count() == 2
    editor.call("select_node", "branch")
    editor.wait_for(lambda s: s["selection"]["nodes"] == ["branch"])
    assert editor.call("add_node", {"agentId": "branch", "title": "Second"}, {"x": 10, "y": 600}) == "branch_2"


def test_set_graph_replaces_everything_and_clears_undo(editor: Editor) -> None:
    editor.open("branching")
    editor.call("set_graph", {"nodes": [], "edges": []})
    editor.page.locator(".fy-empty").wait_for()
    editor.click_pane()
    editor.page.keyboard.press("Control+z")
    time.sleep(0.3)
    assert editor.state()["graph"] == {"nodes": [], "edges": [], "notes": []}
    assert editor.page.locator(".vue-flow__node").count() == 0


def test_keys_match_between_python_and_the_browser(editor: Editor) -> None:
    editor.open("empty")
    texts = ["transform", "HTTP request", "3d-model", "Ünïcode agent", "", "a" * 80, "__x__", "score_2"]
    taken = ["transform", "transform_2", "http_request", "a" * 64]
    browser_keys = editor.page.evaluate(
        """async ([texts, taken]) => {
            const m = await import('flowyard-graph-editor');
            return texts.map(t => m.uniqueKey(t, new Set(taken)));
        }""",
        [texts, taken],
    )
    assert browser_keys == [unique_key(text, taken) for text in texts]
    assert browser_keys[:4] == ["transform_3", "http_request_2", "node_3d_model", "unicode_agent"]
