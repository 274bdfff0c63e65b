"""The editor with templates that break the limits: the page opens, says which step is wrong, previews say why."""

from __future__ import annotations

from nicegui.testing import User

from app.root import Flowyard
from components.graph_editor import GraphEditor
from tests.ui.helpers import steps


async def test_a_template_bomb_is_a_problem_of_its_step_in_the_editor(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Bombed", definition=steps("{{ (10**5000)|string }}"))

    await user.open(f"/workflows/{workflow.id}")

    await user.should_see("1 problem")
    [canvas] = [e for e in user.find(GraphEditor).elements if not e.props.get("readonly")]
    assert isinstance(canvas, GraphEditor)
    [message] = canvas.node("s1")["data"]["problems"]  # type: ignore[index]
    assert "at most 4,300 digits" in message


async def test_previewing_a_cpu_bomb_mapping_says_it_was_stopped(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Bombed", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    await user.should_see("Transform settings")

    bomb = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    user.find(marker="mapping-editor").trigger("change", '{"text": "' + bomb + '"}')

    await user.should_see("stopped: the template")
