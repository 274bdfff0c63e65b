"""The graph editor in a real Chromium, driven like a user: mouse and keyboard on the canvas.

Each test opens its own page of `graph_editor_app.py` (one app process and one browser for the module) and
checks what reached Python through the app's `/api/state/{session}`: the editor's `graph`, `selection` and
the events it received. The editor's Python API is tested in `test_graph_editor_python_api.py`; the `Editor`
driver is in `graph_editor_helpers.py`.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.graph_editor_helpers import (
    BRANCHING_EDGES,
    Editor,
    app_url,  # noqa: F401  (a fixture)
    edge_set,
    node_of,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def editor(page: Page, app_url: str) -> Editor:  # noqa: F811  (the imported fixtures)
    return Editor(page, app_url)


# --- rendering ---------------------------------------------------------------------------------------------


def test_graph_renders_nodes_edges_and_outcome_handles(editor: Editor) -> None:
    editor.open("branching")
    assert editor.page.locator(".vue-flow__node").count() == 5
    assert editor.page.locator(".vue-flow__edge").count() == 4
    assert editor.node("enrich").locator(".fy-node__title").inner_text() == "Enrich lead"
    assert editor.node("enrich").locator(".fy-node__agent").inner_text() == "clearbit_lookup"
    assert editor.node("enrich").locator(".fy-badge").inner_text().strip() == "↻2"
    assert editor.node("notify").locator(".fy-badge--approval").count() == 1
    assert editor.node("nurture").locator(".fy-badge--problem").inner_text().strip().endswith("2")
    assert [h.get_attribute("data-handleid") for h in editor.output("route").all()] == ["hot", "warm", "cold"]
    assert editor.node("route").locator(".fy-node__outcome-label").all_inner_texts() == ["hot", "warm", "cold"]
    assert editor.input("score").count() == 1
    SCREENSHOTS.mkdir(exist_ok=True)
    editor.page.screenshot(path=str(SCREENSHOTS / "graph-editor-branching.png"))


def test_text_is_shown_as_text_never_as_html(editor: Editor) -> None:
    editor.open("branching")
    editor.call("update_node", "score", {"title": "<img src=x onerror=window.pwned=1>Score"})
    expect_title = "<img src=x onerror=window.pwned=1>Score"
    editor.page.wait_for_function(
        f"document.querySelector('.vue-flow__node[data-id=score] .fy-node__title').innerText === {expect_title!r}"
    )
    assert editor.node("score").locator("img").count() == 0
    assert editor.page.evaluate("window.pwned") is None


# --- editing with the mouse ----------------------------------------------------------------------------------


def test_drop_palette_entry_adds_node_at_drop_point(editor: Editor) -> None:
    editor.open("branching")
    pane = editor.page.locator(".vue-flow__pane").bounding_box()
    assert pane is not None
    drop = (pane["x"] + 200, pane["y"] + pane["height"] - 120)
    editor.page.locator("[data-testid=palette-approval]").drag_to(
        editor.page.locator(".vue-flow__pane"), target_position={"x": 200, "y": pane["height"] - 120}
    )
    state = editor.wait_for(lambda s: node_of(s, "approval") is not None)
    node = node_of(state, "approval")
    assert node is not None
    assert node["data"]["title"] == "Approval"
    assert node["data"]["kind"] == "approval"
    assert node["data"]["spec"] == {}
    assert editor.node("approval").is_visible()
    box = editor.node("approval").bounding_box()
    assert box is not None
    assert abs(box["x"] + box["width"] / 2 - drop[0]) < 25
    assert state["selection"]["nodes"] == ["approval"]

    editor.page.locator("[data-testid=palette-approval]").drag_to(
        editor.page.locator(".vue-flow__pane"), target_position={"x": 500, "y": pane["height"] - 120}
    )
    editor.wait_for(lambda s: node_of(s, "approval_2") is not None)


def test_drag_node_sends_new_position_on_drop(editor: Editor) -> None:
    editor.open("branching")
    before = node_of(editor.state(), "score")
    assert before is not None
    zoom = editor.zoom()
    start = editor.node("score").bounding_box()
    assert start is not None
    editor.drag(editor.node("score"), (start["x"] + start["width"] / 2 + 150, start["y"] + start["height"] / 2 + 90))
    state = editor.wait_for(lambda s: node_of(s, "score") != before)
    after = node_of(state, "score")
    assert after is not None
    assert after["position"]["x"] - before["position"]["x"] == pytest.approx(150 / zoom, abs=12)
    assert after["position"]["y"] - before["position"]["y"] == pytest.approx(90 / zoom, abs=12)
    assert after["data"]["spec"] == {"template": "x"}
    assert len(editor.events("change")) == 1


def test_connect_output_to_input_adds_edge(editor: Editor) -> None:
    editor.open("branching")
    editor.drag(editor.output("enrich"), editor.input("nurture"))
    state = editor.wait_for(lambda s: ("enrich", None, "nurture") in edge_set(s))
    assert edge_set(state) == BRANCHING_EDGES | {("enrich", None, "nurture")}
    assert editor.page.locator(".vue-flow__edge").count() == 5


def test_connect_from_outcome_handle_records_source_handle(editor: Editor) -> None:
    editor.open("branching")
    editor.drag(editor.output("route", "cold"), editor.input("notify"))
    state = editor.wait_for(lambda s: len(s["graph"]["edges"]) == 5)
    assert ("route", "cold", "notify") in edge_set(state)


def test_self_loops_and_duplicate_edges_are_refused(editor: Editor) -> None:
    editor.open("branching")
    editor.drag(editor.output("score"), editor.input("score"))
    editor.drag(editor.output("enrich"), editor.input("score"))
    editor.drag(editor.output("route", "hot"), editor.input("notify"))
    editor.drag(editor.output("notify"), editor.input("nurture"))  # a valid one, to know the others are done
    state = editor.wait_for(lambda s: ("notify", None, "nurture") in edge_set(s))
    assert edge_set(state) == BRANCHING_EDGES | {("notify", None, "nurture")}
    assert len(editor.events("change")) == 1


def test_shift_drag_box_selects_nodes(editor: Editor) -> None:
    editor.open("branching")
    first = editor.node("enrich").bounding_box()
    second = editor.node("score").bounding_box()
    assert first is not None and second is not None
    keyboard, mouse = editor.page.keyboard, editor.page.mouse
    keyboard.down("Shift")
    mouse.move(first["x"] - 20, first["y"] - 30)
    mouse.down()
    mouse.move(second["x"] + second["width"] + 20, second["y"] + second["height"] + 40, steps=10)
    mouse.up()
    keyboard.up("Shift")
    state = editor.wait_for(lambda s: sorted(s["selection"]["nodes"]) == ["enrich", "score"])
    assert node_of(state, "enrich") is not None


def test_shift_click_adds_to_selection(editor: Editor) -> None:
    editor.open("branching")
    editor.node("enrich").click()
    editor.node("notify").click(modifiers=["Shift"])
    editor.wait_for(lambda s: sorted(s["selection"]["nodes"]) == ["enrich", "notify"])


# --- keyboard ------------------------------------------------------------------------------------------------


def test_delete_removes_node_and_its_edges_then_undo_and_redo(editor: Editor) -> None:
    editor.open("branching")
    editor.node("score").click()
    editor.wait_for(lambda s: s["selection"]["nodes"] == ["score"])
    editor.page.keyboard.press("Delete")
    state = editor.wait_for(lambda s: node_of(s, "score") is None)
    assert edge_set(state) == {("route", "hot", "notify"), ("route", "warm", "nurture")}
    assert editor.node("score").count() == 0

    editor.page.keyboard.press("Control+z")
    state = editor.wait_for(lambda s: node_of(s, "score") is not None)
    assert edge_set(state) == BRANCHING_EDGES
    assert node_of(state, "score")["data"]["spec"] == {"template": "x"}  # type: ignore[index]

    editor.page.keyboard.press("Control+Shift+z")
    state = editor.wait_for(lambda s: node_of(s, "score") is None)
    assert len(state["graph"]["edges"]) == 2

    editor.page.keyboard.press("Control+z")
    editor.wait_for(lambda s: node_of(s, "score") is not None)
    editor.page.keyboard.press("Control+y")
    editor.wait_for(lambda s: node_of(s, "score") is None)


def test_backspace_deletes_a_selected_edge(editor: Editor) -> None:
    editor.open("branching")
    editor.page.locator('.vue-flow__edge[data-id="enrich->score"]').click(force=True)
    editor.wait_for(lambda s: s["selection"]["edges"] == ["enrich->score"])
    editor.page.keyboard.press("Backspace")
    state = editor.wait_for(lambda s: len(s["graph"]["edges"]) == 3)
    assert ("enrich", None, "score") not in edge_set(state)
    assert len(state["graph"]["nodes"]) == 5


def test_arrow_keys_move_the_selected_node(editor: Editor) -> None:
    editor.open("branching")
    before = node_of(editor.state(), "score")
    assert before is not None
    editor.node("score").click()
    for _ in range(3):
        editor.page.keyboard.press("ArrowDown")
    state = editor.wait_for(lambda s: node_of(s, "score") != before)
    after = node_of(state, "score")
    assert after is not None
    assert after["position"]["y"] > before["position"]["y"]
    assert after["position"]["x"] == before["position"]["x"]
    assert len(editor.events("change")) == 1  # three steps, one edit


def test_copy_paste_gives_fresh_keys_and_keeps_inner_edges(editor: Editor) -> None:
    editor.open("branching")
    editor.node("enrich").click()
    editor.node("score").click(modifiers=["Shift"])
    editor.wait_for(lambda s: sorted(s["selection"]["nodes"]) == ["enrich", "score"])
    editor.page.keyboard.press("Control+c")
    editor.page.keyboard.press("Control+v")
    state = editor.wait_for(lambda s: len(s["graph"]["nodes"]) == 7)
    original, copy = node_of(state, "score"), node_of(state, "score_2")
    assert original is not None and copy is not None
    assert node_of(state, "enrich_2") is not None
    assert copy["data"]["spec"] == {"template": "x"}
    assert copy["position"]["x"] == pytest.approx(original["position"]["x"] + 40)
    assert ("enrich_2", None, "score_2") in edge_set(state)
    assert len(state["graph"]["edges"]) == 5  # the edge between the copies only
    editor.wait_for(lambda s: sorted(s["selection"]["nodes"]) == ["enrich_2", "score_2"])

    editor.page.keyboard.press("Control+v")
    editor.wait_for(lambda s: node_of(s, "score_3") is not None and node_of(s, "enrich_3") is not None)


def test_select_all_then_delete_empties_the_canvas(editor: Editor) -> None:
    editor.open("branching")
    editor.click_pane()
    editor.page.keyboard.press("Control+a")
    editor.wait_for(lambda s: len(s["selection"]["nodes"]) == 5)
    editor.page.keyboard.press("Delete")
    editor.wait_for(lambda s: s["graph"] == {"nodes": [], "edges": [], "notes": []})
    assert editor.page.locator(".fy-empty").is_visible()


def test_shortcuts_emit_save_run_and_help(editor: Editor) -> None:
    editor.open("branching")
    editor.click_pane()
    for key in ("Control+s", "Control+Enter", "?"):
        editor.page.keyboard.press(key)
    state = editor.wait_for(lambda s: len(s["events"]) >= 3)
    assert [event["event"] for event in state["events"] if event["event"] != "select"] == ["save", "run", "help"]


def test_plus_and_bracket_keys_ask_the_page_to_add_a_step_and_toggle_its_panels(editor: Editor) -> None:
    editor.open("branching")
    editor.click_pane()
    for key in ("+", "[", "]"):  # "+" as a person types it: Shift and "=" on most layouts
        editor.page.keyboard.press(key)
    state = editor.wait_for(lambda s: len([e for e in s["events"] if e["event"] != "select"]) >= 3)
    shown = [(event["event"], event["args"]) for event in state["events"] if event["event"] != "select"]
    assert shown == [("add", None), ("panel", "palette"), ("panel", "inspector")]


def test_plus_does_nothing_on_a_read_only_canvas(editor: Editor) -> None:
    editor.open("branching", readonly=True)
    editor.click_pane()
    editor.page.keyboard.press("+")
    editor.page.keyboard.press("]")  # the details panel may still be hidden
    state = editor.wait_for(lambda s: any(e["event"] == "panel" for e in s["events"]))
    assert not [e for e in state["events"] if e["event"] == "add"]


def test_shortcuts_do_nothing_while_typing_in_an_input(editor: Editor) -> None:
    editor.open("branching")
    editor.node("score").click()
    editor.wait_for(lambda s: s["selection"]["nodes"] == ["score"])
    search = editor.page.locator("input[data-testid=search]")
    search.click()
    search.type("abc")
    for key in ("Backspace", "Delete", "Control+a", "Control+z", "Control+s"):
        editor.page.keyboard.press(key)
    time.sleep(0.3)
    assert node_of(editor.state(), "score") is not None
    assert not [e for e in editor.state()["events"] if e["event"] in {"change", "save"}]
    # back on the canvas the same keys act again
    editor.node("score").click()
    editor.page.keyboard.press("Delete")
    editor.wait_for(lambda s: node_of(s, "score") is None)


def test_tidy_lays_nodes_out_left_to_right(editor: Editor) -> None:
    editor.open("scrambled")
    editor.click_pane()
    editor.page.keyboard.press("Shift+Alt+T")
    state = editor.wait_for(lambda s: len(editor.events("change")) == 1)
    x = {node["id"]: node["position"]["x"] for node in state["graph"]["nodes"]}
    assert x["a"] < x["b"] < x["c"] < x["d"]
    editor.page.keyboard.press("Control+z")
    state = editor.wait_for(lambda s: len(editor.events("change")) == 2)
    x = {node["id"]: node["position"]["x"] for node in state["graph"]["nodes"]}
    assert x["a"] > x["b"] > x["c"] > x["d"]


def _tidy(editor: Editor) -> dict[str, float]:
    """Tidy with Shift+Alt+T; the nodes' tops (y) once Python has the new layout."""
    editor.click_pane()
    editor.page.keyboard.press("Shift+Alt+T")
    state = editor.wait_for(lambda s: len(editor.events("change")) == 1)
    editor.settle()
    return {node["id"]: node["position"]["y"] for node in state["graph"]["nodes"]}


def test_tidy_orders_a_branch_s_steps_by_its_outcomes_without_crossings(editor: Editor) -> None:
    editor.open("crossed")
    y = _tidy(editor)
    # hot, warm, cold: top to bottom, as the branch lists its outcome handles
    assert y["to_hot"] < y["to_warm"] < y["to_cold"]
    assert y["after_hot"] == pytest.approx(y["to_hot"], abs=1)  # a chain stays straight
    # what is on screen: each outcome handle lies above the next one's step
    handles = [editor.output("route", name).bounding_box() for name in ("hot", "warm", "cold")]
    steps = [editor.node(key).bounding_box() for key in ("to_hot", "to_warm", "to_cold")]
    assert all(box is not None for box in handles + steps)
    assert [b["y"] for b in handles] == sorted(b["y"] for b in handles)  # type: ignore[index]
    assert [b["y"] for b in steps] == sorted(b["y"] for b in steps)  # type: ignore[index]


def test_tidy_fits_a_small_graph_at_a_readable_zoom_never_above_100_percent(editor: Editor) -> None:
    editor.open("scrambled")
    _tidy(editor)
    assert 0.75 <= editor.zoom() <= 1.0
    editor.page.set_viewport_size({"width": 1024, "height": 700})
    narrow = Editor(editor.page, editor.url).open("crossed")
    _tidy(narrow)
    assert 0.75 <= narrow.zoom() <= 1.0
    assert narrow.node("start").is_visible()  # too wide to fit: it shows the entry side


# --- sticky notes and turned-off steps ---------------------------------------------------------------------------


def test_notes_are_not_steps_and_keep_their_place_through_tidy(editor: Editor) -> None:
    editor.open("noted")
    note = editor.page.locator(".vue-flow__node-note")
    expect(note).to_have_count(1)
    expect(note.locator("strong")).to_have_text("Enrich")
    expect(note.locator("li")).to_have_text(["then score"])
    given = editor.state()["graph"]["notes"]
    assert [n["id"] for n in given] == ["plan"]
    note.click()
    expect(note.locator(".vue-flow__resize-control.handle")).to_have_count(4)
    editor.page.keyboard.press("d")  # turns steps off, and a note is none
    editor.page.keyboard.press("Shift+Alt+T")
    state = editor.wait_for(lambda s: len(editor.events("change")) == 1)
    assert state["graph"]["notes"] == given  # tidy lays out the steps only
    assert state["selection"]["nodes"] == []
    assert not any(n["data"].get("disabled") for n in state["graph"]["nodes"])


def test_a_copied_note_pastes_as_a_new_note_and_undo_removes_it(editor: Editor) -> None:
    editor.open("noted")
    editor.page.locator(".vue-flow__node-note").click()
    editor.page.keyboard.press("Control+c")
    editor.page.keyboard.press("Control+v")
    state = editor.wait_for(lambda s: len(s["graph"]["notes"]) == 2)
    first, copy = state["graph"]["notes"]
    assert copy["id"] != first["id"] and copy["text"] == first["text"]
    assert (copy["position"]["x"] - first["position"]["x"], copy["width"]) == (40, first["width"])
    expect(editor.page.locator(".vue-flow__node-note")).to_have_count(2)
    editor.page.keyboard.press("Control+z")
    editor.wait_for(lambda s: len(s["graph"]["notes"]) == 1)
    expect(editor.page.locator(".vue-flow__node-note")).to_have_count(1)


def test_d_turns_the_selected_steps_off_and_on(editor: Editor) -> None:
    editor.open("branching")
    editor.node("score").click()
    editor.node("enrich").click(modifiers=["Shift"])
    editor.page.keyboard.press("d")
    state = editor.wait_for(lambda s: node_of(s, "score")["data"].get("disabled") is True)  # type: ignore[index]
    for key in ("score", "enrich"):
        node = node_of(state, key)
        assert node is not None and node["data"]["spec"]["disabled"] is True
        expect(editor.node(key).locator(".fy-node")).to_have_class(re.compile(r"\bfy-node--off\b"))
        expect(editor.node(key).locator(".fy-badge--off")).to_be_visible()
    assert node_of(state, "route")["data"].get("disabled") is None  # type: ignore[index]
    editor.page.keyboard.press("d")
    editor.wait_for(lambda s: node_of(s, "score")["data"]["disabled"] is False)  # type: ignore[index]
    expect(editor.node("score").locator(".fy-node")).not_to_have_class(re.compile(r"\bfy-node--off\b"))


def test_a_read_only_canvas_shows_notes_without_editing_them(editor: Editor) -> None:
    editor.open("noted", readonly=True)
    note = editor.page.locator(".vue-flow__node-note")
    expect(note.locator("strong")).to_have_text("Enrich")
    note.click()
    note.dblclick()
    editor.page.keyboard.press("Shift+S")
    time.sleep(0.3)
    assert note.locator("textarea").count() == 0
    assert note.locator(".vue-flow__resize-control").count() == 0
    assert editor.page.locator(".vue-flow__node-note").count() == 1
    assert editor.page.locator(".fy-add-note").count() == 0
    assert editor.events("change") == []


# --- the minimap and the wheel ----------------------------------------------------------------------------------


def test_minimap_keeps_to_a_corner_hides_on_a_narrow_canvas_and_toggles(editor: Editor) -> None:
    editor.open("branching")
    minimap = editor.page.locator(".vue-flow__minimap")
    canvas = editor.page.locator(".fy-editor").bounding_box()
    box = minimap.bounding_box()
    assert canvas is not None and box is not None
    assert box["width"] * box["height"] <= 0.06 * canvas["width"] * canvas["height"]
    assert box["x"] > canvas["x"] + canvas["width"] / 2 and box["y"] > canvas["y"] + canvas["height"] / 2
    toggle = editor.page.locator(".fy-minimap-toggle")
    toggle.click()
    expect(minimap).to_have_count(0)
    toggle.click()
    expect(minimap).to_have_count(1)
    # a narrow canvas (the window of a small laptop with both side panels open) has no room for it
    editor.page.set_viewport_size({"width": 760, "height": 700})
    expect(minimap).to_have_count(0)
    toggle.click()  # unless asked for
    expect(minimap).to_have_count(1)
    box, canvas = minimap.bounding_box(), editor.page.locator(".fy-editor").bounding_box()
    assert box is not None and canvas is not None
    assert box["width"] <= canvas["width"] / 3


def test_wheel_scrolls_the_page_over_a_canvas_in_a_page_and_ctrl_wheel_zooms(editor: Editor) -> None:
    editor.open("branching", wheel="scroll")
    zoom = editor.zoom()
    pane = editor.page.locator(".vue-flow__pane").bounding_box()
    assert pane is not None
    editor.page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
    editor.page.mouse.wheel(0, 300)
    editor.page.wait_for_function("window.scrollY > 100")
    assert editor.zoom() == zoom
    expect(editor.page.locator(".fy-wheel-hint")).to_be_visible()  # how to zoom instead
    editor.page.keyboard.down("Control")
    editor.page.mouse.wheel(0, -300)
    editor.page.keyboard.up("Control")
    editor.page.wait_for_timeout(300)
    assert editor.zoom() > zoom


# --- read-only and size --------------------------------------------------------------------------------------


def test_readonly_allows_selecting_but_no_edits(editor: Editor) -> None:
    editor.open("branching", readonly=True)
    graph = editor.state()["graph"]

    def gap() -> tuple[float, float]:  # where score sits relative to enrich: dragging may pan, never move
        score, enrich = editor.node("score").bounding_box(), editor.node("enrich").bounding_box()
        assert score is not None and enrich is not None
        return round(score["x"] - enrich["x"]), round(score["y"] - enrich["y"])

    before = gap()
    start = editor.node("score").bounding_box()
    assert start is not None
    editor.drag(editor.node("score"), (start["x"] + 300, start["y"] + 200))
    editor.drag(editor.output("enrich"), editor.input("nurture"))
    editor.page.locator("[data-testid=palette-transform]").drag_to(editor.page.locator(".vue-flow__pane"))
    editor.node("score").click()
    editor.wait_for(lambda s: s["selection"]["nodes"] == ["score"])
    for key in ("Delete", "Control+v", "Shift+Alt+T"):
        editor.page.keyboard.press(key)
    time.sleep(0.3)
    assert gap() == before
    assert editor.events("change") == []
    assert editor.state()["graph"] == graph
    editor.call("fit_view")  # dragging panned the view: bring every node back into it
    editor.page.wait_for_function("document.querySelectorAll('.vue-flow__node').length === 5")
    assert editor.page.locator(".vue-flow__edge").count() == 4


def test_large_graph_opens_readable_drags_and_fits(editor: Editor) -> None:
    editor.open("big")
    # it opens at a readable zoom on its entry side, rendering only what is in view
    assert editor.zoom() == pytest.approx(0.5)
    assert 0 < editor.page.locator(".vue-flow__node").count() < 300
    assert editor.node("n0").is_visible()
    assert editor.page.locator(".vue-flow__edge").count() > 50
    before = editor.node("n16").bounding_box()
    assert before is not None
    editor.drag(editor.node("n16"), (before["x"] + before["width"] / 2 + 120, before["y"] + before["height"] / 2 + 40))
    state = editor.wait_for(lambda s: len(editor.events("change")) == 1)
    assert len(state["graph"]["nodes"]) == 300
    assert len(state["graph"]["edges"]) == 400
    editor.page.locator(".vue-flow__controls-fitview").click()
    editor.page.wait_for_function("document.querySelectorAll('.vue-flow__node').length === 300", timeout=10_000)
    editor.page.wait_for_function("document.querySelectorAll('.vue-flow__edge').length === 400", timeout=10_000)
