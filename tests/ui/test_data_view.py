"""The inspector's Data tab: a step's input and output side by side, fields to pick into its mapping or action."""

from __future__ import annotations

import json

import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction

from app.root import Flowyard
from components.graph_editor import GraphEditor
from components.json_view import JsonView
from components.template_editor import TemplateEditor
from tests.ui.helpers import run_to_end, steps

LEADS = steps('{{ {"email": input.email, "score": 7} }}', "{{ input }}")


def _editor(user: User, marker: str) -> TemplateEditor:
    [editor] = user.find(marker=marker).elements
    assert isinstance(editor, TemplateEditor)
    return editor


def _html(user: User, marker: str) -> ui.html:
    [view] = user.find(marker=marker).elements
    assert isinstance(view, JsonView)
    [tree] = [e for e in view.descendants() if isinstance(e, ui.html)]
    return tree


def _tree(user: User, marker: str) -> str:
    return str(_html(user, marker).content)


async def _open_data_tab(user: User, flowyard: Flowyard, *, run: bool = True) -> str:
    workflow = await flowyard.workflows.create(name="Leads", definition=LEADS)
    if run:
        await run_to_end(flowyard, workflow.id, {"email": "ada@example.com"})
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s2"], "edges": []})
    user.find("Data").click()
    await user.should_see("What it can read, from the last run" if run else "What it can read, from a sample input")
    return workflow.id


async def test_the_data_tab_shows_what_flows_in_and_the_last_output_side_by_side(
    user: User, flowyard: Flowyard
) -> None:
    await _open_data_tab(user, flowyard)

    inflow = _tree(user, "data-source-input")
    assert 'data-ref="input.email"' in inflow
    assert 'data-ref="input.score"' in inflow
    assert 'data-ref="nodes.s1.output.score"' in _tree(user, "data-source-nodes.s1.output")
    assert 'data-ref="payload.email"' in _tree(user, "data-source-payload")
    assert "ada@example.com" in _tree(user, "data-output")  # this step's output, on the right
    await user.should_see("A picked field goes into the input mapping, at its cursor.")


async def test_picking_a_field_inserts_it_into_the_editor_last_typed_in(
    user: User, flowyard: Flowyard, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _open_data_tab(user, flowyard)
    mapping, action = _editor(user, "data-mapping-editor"), _editor(user, "data-action-editor")
    sent: list[tuple[int, str]] = []  # what the browser is asked to insert, and into which editor
    monkeypatch.setattr(TemplateEditor, "insert", lambda self, text: sent.append((self.id, text)))

    # what the tree's JavaScript reports when a field is clicked: its reference
    UserInteraction(user, {_html(user, "data-source-input")}, None).trigger("click", "input.email")
    assert sent == [(mapping.id, "{{ input.email }}")]

    user.find(marker="data-action-editor").trigger("blur", "{{ input }}")  # the person was typing in the action
    await user.should_see("A picked field goes into the action, at its cursor.")
    user.find(marker="pick-nodes.s1.output").click()
    assert sent[-1] == (action.id, "{{ nodes.s1.output }}")


async def test_a_mapping_typed_in_the_data_tab_shows_in_the_input_tab_and_is_applied_once(
    user: User, flowyard: Flowyard
) -> None:
    await _open_data_tab(user, flowyard)

    user.find(marker="data-mapping-editor").trigger("change", '{"to": "{{ input.email }}"}')
    await user.should_see("Unsaved changes")
    assert _editor(user, "mapping-editor").value == '{"to": "{{ input.email }}"}'  # the Input tab's twin follows
    await user.should_see('"to": "ada@example.com"')  # and its live preview with it

    user.find(marker="data-mapping-editor").trigger("blur", '{"to": "{{ input.email }}"}')
    [canvas] = user.find(GraphEditor).elements
    assert isinstance(canvas, GraphEditor)
    node = canvas.node("s2")
    assert node is not None
    assert node["data"]["spec"]["input_mapping"] == {"to": "{{ input.email }}"}


async def test_before_any_run_the_data_tab_says_what_will_show(user: User, flowyard: Flowyard) -> None:
    await _open_data_tab(user, flowyard, run=False)

    await user.should_see("No run has reached this step yet.")
    await user.should_see("Nothing yet: run the workflow to see it")


async def test_the_canvas_confirming_an_edit_with_whole_numbers_does_not_redraw_the_tab(
    user: User, flowyard: Flowyard
) -> None:
    await _open_data_tab(user, flowyard)
    [typed_in] = user.find(marker="data-mapping-editor").elements
    user.find(marker="data-mapping-editor").trigger("blur", "{{ input.email }}")
    [canvas] = user.find(GraphEditor).elements
    assert isinstance(canvas, GraphEditor)
    confirmed = json.loads(json.dumps(canvas.graph).replace(".0,", ",").replace(".0}", "}"))  # as JavaScript sends it

    user.find(GraphEditor).trigger("change", confirmed)

    [still] = user.find(marker="data-mapping-editor").elements
    assert still is typed_in  # a retry backoff of 1.0 that comes back as 1 is no edit from elsewhere
