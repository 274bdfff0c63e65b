"""An agent's tools, chosen by mouse: the tool cards of the agent's page and of the editor's inspector.

The MCP server is real: the test server of tests/mcp_servers, started by command (stdio) when its tools are listed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from nicegui.testing import User

from app.models.mcp import McpServerCreate
from app.root import Flowyard
from components.graph_editor import GraphEditor
from tests.llm_server import ChatServer
from tests.ui.helpers import landed_on, steps

TOOLS_SERVER = Path(__file__).parents[1] / "mcp_servers" / "tools_server.py"


async def _mcp_server(flowyard: Flowyard, *, listed: bool = False) -> str:
    server = await flowyard.mcp.create(
        McpServerCreate(name="company-tools", transport="stdio", command=sys.executable, args=[str(TOOLS_SERVER)])
    )
    if listed:
        await flowyard.mcp.refresh_tools(server.id)
    return server.id


async def _http_agent(flowyard: Flowyard) -> None:
    await flowyard.agents.create(
        id="crm_lookup", name="CRM lookup", kind="http", config={"url": "http://127.0.0.1:9/x"}
    )


async def _saved_config(flowyard: Flowyard, agent_id: str, before: Any = None) -> dict[str, Any]:
    """The agent's config once a save changed its tools from `before` (the Save button's handler runs on)."""
    for _ in range(100):
        config = (await flowyard.agents.get(agent_id)).config
        if config.get("tools", before) != before:
            return config
        await asyncio.sleep(0.05)
    raise AssertionError(f"{agent_id} was not saved with tools")


def _one(user: User, marker: str) -> Any:
    [element] = user.find(marker=marker).elements
    return element


async def test_create_an_agent_with_two_mcp_tools_and_a_saved_agent(user: User, flowyard: Flowyard) -> None:
    server_id = await _mcp_server(flowyard)
    await _http_agent(flowyard)
    await user.open("/agents")
    user.find(marker="create").click()
    _one(user, "kind").value = "agent"
    await user.should_see("A chat model that calls tools")  # the kind, said before it is created
    user.find(marker="name").type("Researcher")
    user.find(marker="confirm").click()
    await landed_on(user, "/agents/researcher")
    await user.should_see("No tools yet")

    user.find(marker="add-tool-mcp").click()
    _one(user, "tool-target-0").value = server_id
    await user.should_see("Its tools have not been listed yet.")
    user.find(marker="tool-refresh-0").click()  # the server is started and asked
    await user.should_see("lookup_company", retries=100)
    _one(user, "tool-all-0").value = False  # not every tool: these two
    await user.should_see("Tick the tools the model may call")
    _one(user, "tool-call-0-add").value = True
    _one(user, "tool-call-0-lookup_company").value = True
    _one(user, "tool-approve-0-lookup_company").value = True
    user.find(marker="add-tool-agent").click()
    _one(user, "tool-target-1").value = "crm_lookup"
    user.find(marker="save").click()

    config = await _saved_config(flowyard, "researcher")
    assert config["tools"] == [
        {"type": "mcp", "server": server_id, "tools": ["add", "lookup_company"], "approve_tools": ["lookup_company"]},
        {"type": "agent", "agent_id": "crm_lookup"},
    ]


async def test_a_tool_with_nothing_chosen_is_refused_in_plain_words(user: User, flowyard: Flowyard) -> None:
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent")
    await user.open("/agents/researcher")

    user.find(marker="add-tool-agent").click()
    user.find(marker="save").click()

    await user.should_see("Choose a saved agent")
    await user.should_see("Not saved: fix the settings marked above.")
    assert (await flowyard.agents.get("researcher")).config == {}


async def test_a_saved_agent_tool_takes_a_name_a_description_and_approval(user: User, flowyard: Flowyard) -> None:
    await _http_agent(flowyard)
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent")
    await user.open("/agents/researcher")

    user.find(marker="add-tool-agent").click()
    _one(user, "tool-target-0").value = "crm_lookup"
    user.find(marker="tool-name-0").type("crm")
    user.find(marker="tool-description-0").type("Finds a customer in the CRM by email.")
    _one(user, "tool-approval-0").value = True
    user.find(marker="save").click()

    assert (await _saved_config(flowyard, "researcher"))["tools"] == [
        {
            "type": "agent",
            "agent_id": "crm_lookup",
            "name": "crm",
            "description": "Finds a customer in the CRM by email.",
            "needs_approval": True,
        }
    ]


async def test_pickers_offer_neither_the_agent_itself_nor_hidden_workflows(user: User, flowyard: Flowyard) -> None:
    await _http_agent(flowyard)
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent")
    workflow = await flowyard.workflows.create(name="Enrich a lead", definition=steps("{{ input }}"))
    await flowyard.agent_runs.workflow_for("crm_lookup")  # the hidden one-step workflow of direct calls
    await _mcp_server(flowyard)
    await user.open("/agents/researcher")

    user.find(marker="add-tool-agent").click()
    user.find(marker="add-tool-workflow").click()
    user.find(marker="add-tool-mcp").click()

    agents = _one(user, "tool-target-0").options
    assert agents["crm_lookup"] == "CRM lookup · HTTP request"
    assert "researcher" not in agents
    assert _one(user, "tool-target-1").options == {workflow.id: "Enrich a lead"}
    assert list(_one(user, "tool-target-2").options.values()) == ["company-tools"]


async def test_remove_a_tool(user: User, flowyard: Flowyard) -> None:
    await _http_agent(flowyard)
    tools = [{"type": "agent", "agent_id": "crm_lookup"}, {"type": "agent", "agent_id": "transform"}]
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent", config={"tools": tools})
    await user.open("/agents/researcher")

    user.find(marker="remove-tool-0").click()
    user.find(marker="save").click()

    saved = await _saved_config(flowyard, "researcher", before=tools)
    assert saved["tools"] == [{"type": "agent", "agent_id": "transform"}]


async def test_an_agent_step_chooses_its_tools_in_the_inspector(user: User, flowyard: Flowyard) -> None:
    server_id = await _mcp_server(flowyard, listed=True)
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent")
    workflow = await flowyard.workflows.create(name="Research", definition=steps("", agent_id="researcher"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    await user.should_see("Agent settings")

    user.find(marker="add-tool-mcp").click()
    _one(user, "tool-target-0").value = server_id
    await user.should_see("lookup_company")
    _one(user, "tool-approve-0-echo").value = True

    [canvas] = [e for e in user.find(GraphEditor).elements if not e.props.get("readonly")]
    assert isinstance(canvas, GraphEditor)
    node = canvas.node("s1")
    assert node is not None
    assert node["data"]["spec"]["config"]["tools"] == [
        {"type": "mcp", "server": server_id, "tools": None, "approve_tools": ["echo"]}
    ]
    await user.should_see("Unsaved changes")


async def test_test_an_agent_on_its_page(user: User, flowyard: Flowyard) -> None:
    with ChatServer() as chat:
        chat.script("Acme makes everything.")
        config = {"base_url": chat.url, "model": "tiny", "stream": False}
        await flowyard.agents.create(id="researcher", name="Researcher", kind="agent", config=config)
        await user.open("/agents/researcher")

        user.find(marker="run-test").click()

        await user.should_see("Output in", retries=100)
        with user.scope(marker="test-output"):
            await user.should_see("Acme makes everything.")


async def test_a_server_that_cannot_list_its_tools_says_why(user: User, flowyard: Flowyard) -> None:
    server = await flowyard.mcp.create(McpServerCreate(name="gone", transport="stdio", command="/nonexistent/mcp"))
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent")
    await user.open("/agents/researcher")

    user.find(marker="add-tool-mcp").click()
    _one(user, "tool-target-0").value = server.id
    user.find(marker="tool-refresh-0").click()

    await user.should_see("MCP server 'gone' cannot be started", retries=100)


async def test_the_inspector_says_in_words_what_a_tool_lacks(user: User, flowyard: Flowyard) -> None:
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent")
    workflow = await flowyard.workflows.create(name="Research", definition=steps("", agent_id="researcher"))
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})
    await user.should_see("Agent settings")

    user.find(marker="add-tool-workflow").click()

    await user.should_see("Choose a workflow")
