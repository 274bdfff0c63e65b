"""The editor's "Workflow settings": whoever may edit a workflow offers it to MCP clients as a tool at /mcp (the
switch shows the tool's name); whoever may only see it sees the setting but cannot change it. The runs that MCP
clients start are labelled MCP on the runs page."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.engine.model import Trigger
from app.models.people import Role, UserUpdate
from app.pages.access import LOGIN_COOKIE
from app.root import Flowyard
from tests.ui.conftest import log_in_as
from tests.ui.helpers import marked_rows, steps


async def test_an_editor_offers_a_workflow_as_a_tool_and_takes_it_back(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Daily digest", definition=steps("{{ input }}"))
    await user.open(f"/workflows/{workflow.id}")

    user.find(marker="workflow-settings-menu").click()
    await user.should_see("Offer as a tool (MCP)")
    await user.should_see("/mcp")
    user.find(marker="offer-as-tool").click()

    await user.should_see("Offered to MCP clients as the tool “daily_digest”")
    assert (await flowyard.workflows.get(workflow.id)).offer_as_tool is True
    await user.should_see(marker="tool-name")

    user.find(marker="offer-as-tool").click()
    await user.should_see("No longer offered to MCP clients")
    assert (await flowyard.workflows.get(workflow.id)).offer_as_tool is False


async def test_a_viewer_sees_the_setting_but_cannot_change_it(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Daily digest", definition=steps("{{ input }}"))
    await flowyard.workflows.update(workflow.id, offer_as_tool=True)
    await log_in_as(user, flowyard, "vic@example.com", Role.VIEWER)
    await user.open(f"/workflows/{workflow.id}")

    user.find(marker="workflow-settings-menu").click()
    await user.should_see(marker="tool-name")
    [switch] = user.find(marker="offer-as-tool").elements
    assert isinstance(switch, ui.switch) and switch.value is True and not switch.enabled


async def test_the_switch_asks_the_server_again_who_may_change_it(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Daily digest", definition=steps("{{ input }}"))
    admin = await flowyard.logins.principal(user.http_client.cookies.get(LOGIN_COOKIE))
    assert admin is not None
    await log_in_as(user, flowyard, "ed@example.com", Role.EDITOR)
    await user.open(f"/workflows/{workflow.id}")
    user.find(marker="workflow-settings-menu").click()
    await user.should_see("Offer as a tool (MCP)")
    editor = await flowyard.users.by_email("ed@example.com")
    assert editor is not None
    await flowyard.users.update(editor.id, UserUpdate(role=Role.VIEWER), by=admin)  # while the page is open

    user.find(marker="offer-as-tool").click()

    await user.should_see("Your login has ended")
    assert (await flowyard.workflows.get(workflow.id)).offer_as_tool is False


async def test_runs_started_by_mcp_clients_are_filtered_and_labelled_mcp(user: User, flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Daily digest", definition=steps("{{ input }}"))
    by_mcp = await flowyard.runs.start(workflow.id, input="x", trigger=Trigger.MCP)
    await flowyard.runs.start(workflow.id, input="y", trigger=Trigger.API)
    await flowyard.executor.wait(by_mcp.id, timeout=10)

    await user.open("/runs?trigger=mcp")

    await user.should_see("MCP")
    assert marked_rows(user, "run-row") == [by_mcp.id]
