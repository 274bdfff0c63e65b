"""Runs of saved agents called directly (`POST /api/v2/agents/{agentId}/run`) in the pages: they show on the runs
page, the run's page and the inbox under "Agent: <name>", while the agent's own workflow is listed nowhere."""

from __future__ import annotations

from nicegui.testing import User

from app.engine.model import RunStatus
from app.root import Flowyard
from tests.ui.helpers import marked_rows


async def paused_agent_run(flowyard: Flowyard) -> str:
    """A run of a saved `approval` agent "Review draft", called directly, waiting for a person."""
    await flowyard.agents.create(id="review", name="Review draft", kind="approval")
    run = await flowyard.agent_runs.start("review", input={"draft": "Hello"})
    waiting = await flowyard.executor.wait(run.id, timeout=10)
    assert waiting is not None and waiting.status is RunStatus.PAUSED
    return run.id


async def test_an_agent_run_shows_on_the_runs_page_under_the_agents_name(user: User, flowyard: Flowyard) -> None:
    run_id = await paused_agent_run(flowyard)

    await user.open("/runs")

    await user.should_see("Agent: Review draft")
    assert marked_rows(user, "run-row") == [run_id]


async def test_an_agent_runs_page_leads_to_the_agents_not_an_editor(user: User, flowyard: Flowyard) -> None:
    run_id = await paused_agent_run(flowyard)

    await user.open(f"/runs/{run_id}")

    await user.should_see("Agent: Review draft")
    assert user.find(marker="workflow-link").elements.pop().props["href"] == "/agents"


async def test_an_agent_run_waits_in_the_inbox(user: User, flowyard: Flowyard) -> None:
    await paused_agent_run(flowyard)

    await user.open("/inbox")

    await user.should_see("Agent: Review draft")


async def test_the_agents_own_workflow_is_not_on_the_workflows_page(user: User, flowyard: Flowyard) -> None:
    await paused_agent_run(flowyard)

    await user.open("/workflows")

    await user.should_see("No workflows yet — start from an example")
    await user.should_not_see("Agent: Review draft")


async def test_the_agents_own_workflow_opens_no_editor(user: User, flowyard: Flowyard) -> None:
    workflow_id = await flowyard.agent_runs.workflow_for("transform")

    await user.open(f"/workflows/{workflow_id}")

    await user.should_see("runs the agent 'transform' when it is called directly")
    await user.should_see("Open the agents")
