"""The agents page and one agent's page, as a person uses them (NiceGUI's simulated user)."""

from __future__ import annotations

from nicegui.testing import User

from app.root import Flowyard
from tests.ui.helpers import landed_on, marked_rows, steps


async def test_agents_are_listed_with_their_kind_and_use(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))

    await user.open("/agents")

    assert {"transform", "http", "branch", "approval", "delay"} <= set(marked_rows(user, "agent-row"))
    await user.should_see("1 workflow")  # transform, used by Digest
    await user.should_see("HTTP request")


async def test_create_an_agent_and_land_on_its_page(user: User, flowyard: Flowyard) -> None:
    await user.open("/agents")
    user.find(marker="create").click()
    user.find(marker="name").type("Lead scorer")
    [kind] = user.find(marker="kind").elements
    kind.value = "transform"  # type: ignore[attr-defined]

    user.find(marker="confirm").click()

    assert await landed_on(user, "/agents/lead_scorer") == "/agents/lead_scorer"
    agent = await flowyard.agents.get("lead_scorer")
    assert (agent.name, agent.kind) == ("Lead scorer", "transform")


async def test_a_bad_id_is_refused_and_nothing_is_created(user: User, flowyard: Flowyard) -> None:
    before = len(await flowyard.agents.summaries())
    await user.open("/agents")
    user.find(marker="create").click()
    user.find(marker="name").type("X")
    [agent_id] = user.find(marker="agent-id").elements
    agent_id.value = "Bad Id!"  # type: ignore[attr-defined]

    user.find(marker="confirm").click()

    await user.should_see("The id is 2 to 100 lowercase letters")
    assert len(await flowyard.agents.summaries()) == before


async def test_edit_and_save_an_agent(user: User, flowyard: Flowyard) -> None:
    await flowyard.agents.create(id="shout", name="Shout", kind="transform")
    await user.open("/agents/shout")
    await user.should_see("Settings")

    [name] = user.find(marker="name").elements
    name.value = "Shout louder"  # type: ignore[attr-defined]
    user.find(marker="save").click()

    await user.should_see("Saved")
    assert (await flowyard.agents.get("shout")).name == "Shout louder"


async def test_duplicate_an_agent(user: User, flowyard: Flowyard) -> None:
    await flowyard.agents.create(id="shout", name="Shout", kind="transform", description="loud")
    await user.open("/agents")

    user.find(marker="duplicate-shout").click()

    await user.should_see("Duplicated as “Shout (copy)”")
    copy = await flowyard.agents.get("shout_2")
    assert (copy.name, copy.kind, copy.description) == ("Shout (copy)", "transform", "loud")
    assert "shout_2" in marked_rows(user, "agent-row")


async def test_delete_is_refused_while_a_workflow_uses_the_agent(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))
    await user.open("/agents")

    user.find(marker="delete-transform").click()

    await user.should_see("It cannot be deleted while workflows use it:")
    await user.should_see("Digest")
    assert await flowyard.agents.get("transform")


async def test_delete_an_unused_agent(user: User, flowyard: Flowyard) -> None:
    await flowyard.agents.create(id="shout", name="Shout", kind="transform")
    await user.open("/agents")

    user.find(marker="delete-shout").click()
    user.find(marker="confirm").click()

    await user.should_see("Deleted “Shout”")
    assert "shout" not in marked_rows(user, "agent-row")
    assert "shout" not in {a.id for a in await flowyard.agents.summaries()}


async def test_run_a_test_of_an_agent(user: User, flowyard: Flowyard) -> None:
    await user.open("/agents/transform")
    await user.should_see("Run test")
    user.find(marker="test-action").trigger("change", "{{ input.email | upper }}")

    user.find(marker="run-test").click()

    await user.should_see("Output in")
    with user.scope(marker="test-output"):
        await user.should_see("ADA@EXAMPLE.COM")


async def test_a_failing_test_says_why(user: User, flowyard: Flowyard) -> None:
    await user.open("/agents/transform")
    user.find(marker="test-action").trigger("change", "{{ input.nope.deeper }}")

    user.find(marker="run-test").click()

    await user.should_see("nope")
