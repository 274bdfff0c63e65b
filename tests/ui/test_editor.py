"""The editor as a user meets it: the canvas's edits arrive as graphs, are validated, saved and run."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, ClassVar

import pytest
from nicegui.testing import User

from app.agents import registry
from app.agents.base import AgentContext, AgentKind
from app.engine.model import NodeSpec, Note, Position, RunStatus, WorkflowDefinition
from app.root import Flowyard
from components.graph_editor import GraphEditor
from components.template_editor import TemplateEditor
from tests.people import person
from tests.ui.helpers import steps


def _canvas(user: User) -> GraphEditor:
    [canvas] = [e for e in user.find(GraphEditor).elements if not e.props.get("readonly")]  # not a version's view
    assert isinstance(canvas, GraphEditor)
    return canvas


def _edit(user: User, change: Any) -> dict[str, Any]:
    """Do what the browser does after an edit on the canvas: send the whole new graph."""
    canvas = _canvas(user)
    graph = copy.deepcopy(canvas.graph)
    change(graph)
    user.find(GraphEditor).trigger("change", graph)
    return graph


def _node(agent_id: str, key: str, x: float = 0) -> dict[str, Any]:
    return {
        "id": key,
        "position": {"x": x, "y": 0},
        "data": {"title": key.title(), "agentId": agent_id, "kind": agent_id, "icon": "extension", "spec": {}},
    }


async def test_open_unknown_workflow_says_so(user: User) -> None:
    await user.open("/workflows/wf-nope")

    await user.should_see("There is no workflow 'wf-nope'.")


async def test_open_shows_the_graph_palette_and_saved_state(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}", "{{ input }}!"))

    await user.open(f"/workflows/{workflow.id}")

    await user.should_see("Saved · v1")
    await user.should_see("No problems")
    await user.should_see("Search agents")
    assert [n["id"] for n in _canvas(user).graph["nodes"]] == ["s1", "s2"]


async def test_edit_marks_unsaved_and_validates_at_once(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")

    _edit(user, lambda g: g["nodes"].append(_node("transform", "loose", 300)))

    await user.should_see("Unsaved changes")
    await user.should_see("2 problems")  # neither s1 nor the new node is connected to the other
    assert _canvas(user).node("loose")["data"]["problems"] == [
        "step 'loose' is not connected to the rest of the workflow"
    ]


async def test_fixing_the_problem_clears_the_mark(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    _edit(user, lambda g: g["nodes"].append(_node("transform", "loose", 300)))
    await user.should_see("2 problems")

    _edit(
        user, lambda g: g["edges"].append({"id": "s1->loose", "source": "s1", "target": "loose", "sourceHandle": None})
    )

    await user.should_see("No problems")
    assert _canvas(user).node("loose")["data"]["problems"] == []


async def test_save_keeps_a_new_version_with_the_edit(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")

    def add_step(graph: dict[str, Any]) -> None:
        graph["nodes"].append(_node("transform", "shout", 300))
        graph["nodes"][-1]["data"]["spec"] = {"action": "{{ input | upper }}"}
        graph["edges"].append({"id": "s1->shout", "source": "s1", "target": "shout", "sourceHandle": None})

    _edit(user, add_step)
    user.find("Save").click()

    await user.should_see("Saved · v2")
    definition = await flowyard.workflows.definition(workflow.id)
    assert [(n.key, n.action) for n in definition.nodes] == [("s1", "{{ input }}"), ("shout", "{{ input | upper }}")]
    assert [v.version for v in await flowyard.workflows.versions(workflow.id)] == [2]


async def test_saving_in_the_editor_keeps_the_workflows_sticky_notes(user: User, flowyard: Flowyard) -> None:
    note = Note(id="why", text="Ask sales before changing the threshold", position=Position(x=0, y=-120))
    definition = steps("{{ input }}").model_copy(update={"notes": [note]})
    workflow = await flowyard.workflows.create(name="Digest", definition=definition)
    await user.open(f"/workflows/{workflow.id}")

    _edit(user, lambda graph: graph["nodes"].append(_node("transform", "shout", 300)))
    user.find("Save").click()

    await user.should_see("Saved · v2")
    assert (await flowyard.workflows.definition(workflow.id)).notes == [note]


async def test_an_older_version_is_viewed_read_only_then_restored(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}", "{{ input | upper }}"))  # v2: two nodes
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}"))  # v3: one again
    await user.open(f"/workflows/{workflow.id}")
    _edit(user, lambda g: g["nodes"][0]["position"].update(x=500))  # an unsaved edit

    user.find("History").click()
    await user.should_see("Version history")
    user.find(marker="view-v2").click()

    await user.should_see("Digest — version 2")
    [canvas] = [e for e in user.find(marker="version-canvas").elements if isinstance(e, GraphEditor)]
    assert canvas.props["readonly"] is True
    assert [n["id"] for n in canvas.graph["nodes"]] == ["s1", "s2"]
    assert len(_canvas(user).graph["nodes"]) == 1  # the editor's own canvas is untouched

    user.find("Restore this version").click()
    await user.should_see("Your unsaved changes will be lost.")
    user.find("Keep editing").click()
    await user.should_see("Unsaved changes")
    assert [v.version for v in await flowyard.workflows.versions(workflow.id)] == [3, 2]

    user.find("Restore this version").click()
    user.find("Discard and restore").click()
    await user.should_see("Restored version 2 as version 4")
    assert [n["id"] for n in _canvas(user).graph["nodes"]] == ["s1", "s2"]
    assert len((await flowyard.workflows.definition(workflow.id)).nodes) == 2


async def test_ctrl_s_from_the_canvas_saves(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    _edit(user, lambda g: g["nodes"][0]["position"].update(x=500))

    user.find(GraphEditor).trigger("save")

    await user.should_see("Saved · v2")
    assert (await flowyard.workflows.definition(workflow.id)).nodes[0].position.x == 500


async def test_selecting_a_node_opens_its_settings(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }} news"))
    await user.open(f"/workflows/{workflow.id}")
    await user.should_see("Select a step to edit it")

    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})

    await user.should_see("Key (used as nodes.<key>.output)")
    await user.should_see("Transform settings")
    await user.should_see("Try")


async def test_run_refused_while_there_are_problems(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Empty")
    await user.open(f"/workflows/{workflow.id}")

    user.find(GraphEditor).trigger("run")

    await user.should_see("Cannot run: 1 problem(s) to fix first")
    await user.should_see("the workflow has no steps; add one first")


async def test_run_from_the_editor_colours_the_nodes(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}!", "{{ input }}?"))
    await user.open(f"/workflows/{workflow.id}")

    user.find(marker="run-workflow").click()
    await user.should_see("Run workflow")
    user.find(marker="start-run").click()

    for _ in range(100):
        statuses = {n["id"]: n["data"].get("status") for n in _canvas(user).graph["nodes"]}
        if statuses == {"s1": "COMPLETED", "s2": "COMPLETED"}:
            break
        await asyncio.sleep(0.05)
    assert statuses == {"s1": "COMPLETED", "s2": "COMPLETED"}
    runs = await flowyard.runs.list(workflow.id, page=0, size=5)
    assert [r.status for r in runs.items] == [RunStatus.COMPLETED.value]
    assert runs.items[0].trigger == "ui"


async def test_a_failed_run_shows_the_steps_it_never_reached_as_skipped_not_queued(
    user: User, flowyard: Flowyard
) -> None:
    workflow = await flowyard.workflows.create(name="Breaks", definition=steps("{{ 1 // 0 }}", "{{ input }}?"))
    await user.open(f"/workflows/{workflow.id}")

    user.find(marker="run-workflow").click()
    await user.should_see("Run workflow")
    user.find(marker="start-run").click()

    for _ in range(100):
        statuses = {n["id"]: n["data"].get("status") for n in _canvas(user).graph["nodes"]}
        if statuses == {"s1": "FAILED", "s2": "SKIPPED"}:
            break
        await asyncio.sleep(0.05)
    assert statuses == {"s1": "FAILED", "s2": "SKIPPED"}


async def test_output_tab_names_the_last_runs_status_in_the_chips_words(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Breaks", definition=steps("{{ 1 // 0 }}"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(marker="run-workflow").click()
    await user.should_see("Run workflow")
    user.find(marker="start-run").click()
    for _ in range(100):
        if _canvas(user).graph["nodes"][0]["data"].get("status") == "FAILED":
            break
        await asyncio.sleep(0.05)

    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    user.find("Output").click()

    await user.should_see("Status in the last run: Failed")
    await user.should_not_see("Status in the last run: FAILED")


async def test_a_run_that_waits_then_ends_keeps_one_notice_that_says_so(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.examples.import_example("newsletter-with-approval")
    await user.open(f"/workflows/{workflow.id}")
    user.find(marker="run-workflow").click()
    await user.should_see("Run workflow")
    user.find(marker="start-run").click()
    await user.should_see("Run waiting for approval", retries=100)

    [approval] = (await flowyard.approvals.pending()).items
    await flowyard.approvals.decide(approval.id, "approve", by=person("ada"))

    await user.should_see("Run completed", retries=100)
    notices = user.find(marker="run-notice").elements
    assert len(notices) == 1  # the one notice of the run, updated: not one more for each turn
    assert "waiting" not in next(iter(notices)).message
    assert not any("Approval needed" in message for message in user.notify.messages)  # the notice says it


def _code_editor(user: User, marker: str) -> TemplateEditor:
    [editor] = user.find(marker=marker).elements
    assert isinstance(editor, TemplateEditor)
    return editor


def _type(user: User, marker: str, text: str) -> None:
    """What the browser reports as someone types: the whole text after the edit."""
    user.find(marker=marker).trigger("change", text)


async def test_typed_action_is_applied_on_blur_or_when_the_selection_changes_first(
    user: User, flowyard: Flowyard
) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}", "{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    canvas = user.find(GraphEditor)
    canvas.trigger("select", {"nodes": ["s2"], "edges": []})
    await user.should_see("Transform settings")

    _type(user, "action-editor", "{{ input }} and more")
    await user.should_see("Unsaved changes")  # typing alone marks the workflow changed
    assert _canvas(user).node("s2")["data"]["spec"]["action"] == "{{ input }}"  # type: ignore[index]
    user.find(marker="action-editor").trigger("blur", "{{ input }} and more")
    assert _canvas(user).node("s2")["data"]["spec"]["action"] == "{{ input }} and more"  # type: ignore[index]

    # clicking the canvas selects before CodeMirror reports its blur: the typed text is applied all the same
    _type(user, "action-editor", "{{ input }} and even more")
    canvas.trigger("select", {"nodes": ["s1"], "edges": []})
    await user.should_not_see("{{ input }} and even more")
    assert _canvas(user).node("s2")["data"]["spec"]["action"] == "{{ input }} and even more"  # type: ignore[index]
    assert _canvas(user).node("s1")["data"]["spec"]["action"] == "{{ input }}"  # type: ignore[index]


async def test_typed_mapping_previews_live_and_is_applied_on_blur(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}", "{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s2"], "edges": []})
    await user.should_see("No output from 's1' yet")  # before a run there is nothing to preview, and that is fine
    assert "nodes.s1.output" in _code_editor(user, "mapping-editor").props["completions"]
    assert "payload" in _code_editor(user, "action-editor").props["completions"]

    _type(user, "mapping-editor", '{"sum": "{{ 1 + 2 }}"}')
    await user.should_see('"sum": 3')  # the preview follows the typing
    assert _canvas(user).node("s2")["data"]["spec"].get("input_mapping") is None  # type: ignore[union-attr]

    user.find(marker="mapping-editor").trigger("blur", '{"sum": "{{ 1 + 2 }}"}')
    assert _canvas(user).node("s2")["data"]["spec"]["input_mapping"] == {"sum": "{{ 1 + 2 }}"}  # type: ignore[index]
    await user.should_see("Unsaved changes")

    _type(user, "mapping-editor", "{{ nodes.s1.output }}")
    await user.should_see("No output from 's1' yet")


async def test_inspector_problems_follow_validation(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    _edit(user, lambda g: g["nodes"].append(_node("transform", "loose", 300)))
    user.find(GraphEditor).trigger("select", {"nodes": ["loose"], "edges": []})
    await user.should_see("step 'loose' is not connected to the rest of the workflow")

    _edit(
        user, lambda g: g["edges"].append({"id": "s1->loose", "source": "s1", "target": "loose", "sourceHandle": None})
    )

    await user.should_see("No problems")
    await user.should_not_see("step 'loose' is not connected to the rest of the workflow")


async def test_an_approval_step_takes_a_deadline_and_what_happens_then(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Review", definition=steps("{{ input }}", agent_id="approval"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    await user.should_see("When it passes")

    [hours] = user.find(marker="approval-deadline").elements
    hours.value = 2  # type: ignore[attr-defined]
    user.find(marker="approval-deadline").trigger("blur")
    [policy] = user.find(marker="on-deadline").elements
    policy.value = "reject"  # type: ignore[attr-defined]

    spec = _canvas(user).node("s1")["data"]["spec"]  # type: ignore[index]
    assert (spec["approval_deadline_seconds"], spec["on_deadline"]) == (7200, "reject")
    user.find("Save").click()
    await user.should_see("Saved · v2")
    node = (await flowyard.workflows.definition(workflow.id)).nodes[0]
    assert (node.approval_deadline_seconds, node.on_deadline) == (7200, "reject")


class _Greeter(AgentKind):
    """A kind whose input schema asks for named fields (as enrichment or plugin kinds do)."""

    kind: ClassVar[str] = "greeter_test"
    title: ClassVar[str] = "Greeter"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"email": {"type": "string", "title": "Email"}, "seats": {"type": "integer"}},
        "required": ["email"],
    }

    async def run(self, ctx: AgentContext) -> Any:
        return f"hello {ctx.input['email']}"


async def test_run_form_comes_from_the_entry_steps_input_schema(
    user: User, flowyard: Flowyard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.KINDS, _Greeter.kind, _Greeter)
    await flowyard.agents.create(id="greeter", name="Greeter", kind=_Greeter.kind)
    workflow = await flowyard.workflows.create(name="Greet", definition=steps("", agent_id="greeter"))
    await user.open(f"/workflows/{workflow.id}")
    await user.should_see("No problems")

    user.find(GraphEditor).trigger("run")
    await user.should_see("Input for the first step")
    user.find(marker="start-run").click()  # the email is required
    await user.should_see("The input does not fit the first step")
    assert (await flowyard.runs.list_all()).items == []

    user.find("Email *").type("ada@example.com")
    user.find(marker="start-run").click()

    for _ in range(100):
        runs = (await flowyard.runs.list_all()).items
        if runs and runs[0].status == RunStatus.COMPLETED:
            break
        await asyncio.sleep(0.05)
    run = await flowyard.runs.get(runs[0].id)
    assert (run.input, run.output) == ({"email": "ada@example.com"}, "hello ada@example.com")


async def test_a_step_running_this_same_workflow_is_a_problem_while_editing(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Loop", definition=steps("{{ input }}"))
    await flowyard.workflows.save_definition(
        workflow.id,
        WorkflowDefinition(nodes=[NodeSpec(key="again", agent_id="workflow", config={"workflow_id": workflow.id})]),
    )

    await user.open(f"/workflows/{workflow.id}")

    await user.should_see("1 problem")  # found in the database (what the step runs), not only in the graph
    [message] = _canvas(user).node("again")["data"]["problems"]
    assert "itself" in message or "recurs" in message, message


async def test_a_late_confirmation_of_the_inspectors_own_edit_does_not_redraw_it(
    user: User, flowyard: Flowyard
) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    title = user.find(marker="step-title")
    [field] = title.elements
    title.clear().type("One").trigger("blur")
    after_one = copy.deepcopy(_canvas(user).graph)
    title.clear().type("One and two").trigger("blur")
    after_two = copy.deepcopy(_canvas(user).graph)

    user.find(GraphEditor).trigger("change", after_one)  # the canvas confirms the first edit after the second
    user.find(GraphEditor).trigger("change", after_two)

    [still] = user.find(marker="step-title").elements
    assert still is field  # not redrawn under the person typing
    assert _canvas(user).node("s1")["data"]["title"] == "One and two"  # type: ignore[index]


async def test_an_edit_confirmed_after_saving_leaves_it_saved(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    user.find(marker="step-title").clear().type("Renamed")
    await user.should_see("Unsaved changes")  # at the first key, before the field is left
    user.find(marker="step-title").trigger("blur")
    user.find(GraphEditor).trigger("save")
    await user.should_see("Saved · v2")

    user.find(GraphEditor).trigger("change", copy.deepcopy(_canvas(user).graph))  # the canvas confirms the title

    await user.should_see("Saved · v2")
    await user.should_not_see("Unsaved changes")


async def test_a_step_renamed_in_the_inspector_takes_the_next_edits_there(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    user.find(marker="step-key").clear().type("digest").trigger("blur")
    user.find(marker="step-title").clear().type("Digest the news").trigger("blur")

    assert _canvas(user).node("digest")["data"]["title"] == "Digest the news"  # type: ignore[index]
