"""Comparing two saved versions from the editor's history: changed steps marked on a read-only canvas, each
changed setting before | after beside it."""

from __future__ import annotations

from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.engine.model import EdgeSpec, NodeSpec, Position, WorkflowDefinition
from app.root import Flowyard
from components.graph_editor import GraphEditor
from tests.ui.helpers import steps


def _compared(user: User) -> GraphEditor:
    [canvas] = [e for e in user.find(marker="compare-canvas").elements if isinstance(e, GraphEditor)]
    return canvas


def _marks(canvas: GraphEditor) -> dict[str, Any]:
    return {node["id"]: node["data"].get("diff") for node in canvas.graph["nodes"]}


async def test_the_newest_version_is_compared_with_the_one_before(
    user: User, flowyard: Flowyard, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}", "{{ input | upper }}"))  # v2
    newer = WorkflowDefinition(
        nodes=[
            NodeSpec(key="s1", agent_id="transform", action="{{ input }}!", step_order=1),
            NodeSpec(key="notify", agent_id="transform", name="Notify", step_order=2),
        ],
        edges=[EdgeSpec(source="s1", target="notify")],
    )
    await flowyard.workflows.save_definition(workflow.id, newer)  # v3: s1 changed, s2 gone, notify new
    await user.open(f"/workflows/{workflow.id}")

    user.find("History").click()
    await user.should_see("Version history")
    user.find(marker="compare-latest").click()

    await user.should_see("From version 2 to version 3")
    assert _compared(user).props["readonly"] is True
    assert _marks(_compared(user)) == {"s1": "changed", "notify": "added", "s2": "removed"}
    await user.should_see("3 steps and 2 connections changed")
    await user.should_see("action")
    await user.should_see("{{ input }}!")  # after, beside the before
    await user.should_see("s1 → notify added")
    await user.should_see("s1 → s2 removed")

    shown: list[str] = []
    monkeypatch.setattr(GraphEditor, "select_node", lambda _canvas, key: shown.append(key))
    user.find(marker="show-notify").click()
    assert shown == ["notify"]  # clicking a change selects and centres its step


async def test_versions_that_only_moved_steps_say_no_differences(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest")
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}"))  # v2
    moved = steps("{{ input }}")
    moved.nodes[0].position = Position(x=400, y=80)
    await flowyard.workflows.save_definition(workflow.id, moved)  # v3: moved only
    await user.open(f"/workflows/{workflow.id}")

    user.find("History").click()
    await user.should_see("Version history")
    user.find(marker="compare-v2").click()

    await user.should_see("No differences")
    await user.should_see("1 step only moved on the canvas.")
    assert _marks(_compared(user)) == {"s1": "moved"}


async def test_any_two_versions_can_be_picked(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest")
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}"))  # v2
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}", "two"))  # v3
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}", "two", "three"))  # v4
    await user.open(f"/workflows/{workflow.id}")
    user.find("History").click()
    await user.should_see("Version history")
    user.find(marker="compare-v3").click()  # with the saved version
    await user.should_see("From version 3 to version 4")

    [older] = [e for e in user.find(marker="compare-before").elements if isinstance(e, ui.select)]
    older.value = 2

    await user.should_see("From version 2 to version 4")
    assert _marks(_compared(user)) == {"s1": None, "s2": "added", "s3": "added"}


async def test_a_long_setting_is_folded_to_its_first_line(user: User, flowyard: Flowyard) -> None:
    long = "\n".join(f"line {i}: {{{{ input.field_{i} }}}}" for i in range(12))
    workflow = await flowyard.workflows.create(name="Digest")
    await flowyard.workflows.save_definition(workflow.id, steps("{{ input }}"))  # v2
    await flowyard.workflows.save_definition(workflow.id, steps(long))  # v3
    await user.open(f"/workflows/{workflow.id}")
    user.find("History").click()
    await user.should_see("Version history")
    user.find(marker="compare-latest").click()

    await user.should_see("line 0: {{ input.field_0 }}… (12 lines)")
    assert len(user.find(marker="folded").elements) == 1  # the short "before" is shown whole
