"""The MCP servers page, as a person uses it (NiceGUI's simulated user), against the real stdio test server."""

from __future__ import annotations

from nicegui import ElementFilter
from nicegui.testing import User

from app.models.mcp import McpServerCreate
from app.models.people import Role
from app.root import Flowyard
from tests.mcp_servers import STDIO_ARGS, STDIO_COMMAND
from tests.ui.conftest import log_in_as
from tests.ui.helpers import marked_rows

SECRET = "env-secret-5b1d-9c7e"


async def test_add_a_stdio_server_and_its_secret_is_never_shown(user: User, flowyard: Flowyard) -> None:
    await user.open("/mcp-servers")
    await user.should_see("No MCP servers yet")
    user.find(marker="create").click()
    await user.should_see(marker="name")
    user.find(marker="name").type("tools")
    user.find(marker="command").type(STDIO_COMMAND)
    user.find(marker="args").type("\n".join(STDIO_ARGS))
    user.find(marker="add-variable").click()
    user.find(marker="variable-name").type("MCP_SECRET")
    user.find(marker="variable-value").type(SECRET)

    user.find(marker="confirm").click()

    await user.should_see("Saved “tools”")
    assert marked_rows(user, "mcp-row") == ["tools"]
    [server] = await flowyard.mcp.list()
    assert (server.transport, server.command, server.args, server.env_names) == (
        "stdio", STDIO_COMMAND, STDIO_ARGS, ["MCP_SECRET"]
    )  # fmt: skip
    with user:
        assert not [e for e in ElementFilter(local_scope=False) if SECRET in str(e.props)]


async def test_connect_lists_tools_and_test_calls_one(user: User, flowyard: Flowyard) -> None:
    await flowyard.mcp.create(McpServerCreate(name="tools", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS))
    await user.open("/mcp-servers/tools")
    await user.should_see("Not connected yet")

    user.find(marker="list-tools").click()

    await user.should_see(marker="tool-lookup_company", retries=100)
    await user.should_see("Look a company up by its web domain: name, head count, industry.")
    user.find(marker="schema-lookup_company").click()
    await user.should_see("lookup_companyArguments")
    user.find(marker="test-lookup_company").click()
    [editor] = user.find(marker="arguments").elements
    editor.value = '{"domain": "initech.com"}'  # type: ignore[attr-defined]
    user.find(marker="confirm").click()
    await user.should_see("Result in", retries=100)
    await user.should_see("Initech")


async def test_a_failing_tool_shows_its_error(user: User, flowyard: Flowyard) -> None:
    await flowyard.mcp.create(McpServerCreate(name="tools", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS))
    await flowyard.mcp.tools("tools")
    await user.open("/mcp-servers/tools")

    user.find(marker="test-fail").click()
    [editor] = user.find(marker="arguments").elements
    editor.value = '{"message": "quota exceeded"}'  # type: ignore[attr-defined]
    user.find(marker="confirm").click()

    await user.should_see("quota exceeded", retries=100)
    await user.should_see("tool 'fail' failed")


async def test_bad_input_is_named_in_the_dialog(user: User, flowyard: Flowyard) -> None:
    await user.open("/mcp-servers")
    user.find(marker="create").click()
    await user.should_see(marker="name")
    user.find(marker="name").type("web")
    user.find(marker="transport").click()
    [toggle] = user.find(marker="transport").elements
    toggle.value = "http"  # type: ignore[attr-defined]
    user.find(marker="url").type("ftp://example.com/mcp")

    user.find(marker="confirm").click()

    await user.should_see("URL: must be an http:// or https:// URL with a host")
    assert await flowyard.mcp.list() == []


async def test_an_editor_adds_only_url_servers_and_cannot_edit_a_command(user: User, flowyard: Flowyard) -> None:
    await flowyard.mcp.create(McpServerCreate(name="tools", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS))
    await log_in_as(user, flowyard, "ed@example.com", Role.EDITOR)
    await user.open("/mcp-servers")

    user.find(marker="create").click()

    await user.should_see("Only an admin can add a server by command")
    [toggle] = user.find(marker="transport").elements
    assert list(toggle.options) == ["http"]  # type: ignore[attr-defined]
    await user.should_not_see(marker="edit-tools")


async def test_a_viewer_sees_servers_but_no_add_or_test(user: User, flowyard: Flowyard) -> None:
    await flowyard.mcp.create(McpServerCreate(name="tools", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS))
    await log_in_as(user, flowyard, "vi@example.com", Role.VIEWER)

    await user.open("/mcp-servers/tools")

    await user.should_see("tools")
    await user.should_not_see(marker="create")
    await user.should_not_see(marker="edit-tools")


async def test_edit_keeps_a_secret_left_empty_and_replaces_a_typed_one(user: User, flowyard: Flowyard) -> None:
    body = McpServerCreate(
        name="tools", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS, env={"MCP_SECRET": "one", "B": "b"}
    )
    await flowyard.mcp.create(body)
    await user.open("/mcp-servers")
    user.find(marker="edit-tools").click()
    await user.should_see(marker="description")
    user.find(marker="description").type("Test tools")
    [value_of_b] = [
        field
        for field in user.find(marker="variable-value").elements
        if any(getattr(e, "value", None) == "B" for e in field.parent_slot.parent.default_slot.children)  # type: ignore[union-attr]
    ]
    value_of_b.value = "bee"  # type: ignore[attr-defined]

    user.find(marker="confirm").click()

    await user.should_see("Saved “tools”")
    target = await flowyard.mcp._target("tools")
    assert target.env == {"B": "bee", "MCP_SECRET": "one"}
    assert (await flowyard.mcp.get("tools")).description == "Test tools"


async def test_mcp_step_settings_pick_a_server_and_then_one_of_its_tools(user: User, flowyard: Flowyard) -> None:
    await flowyard.mcp.create(McpServerCreate(name="tools", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS))
    await flowyard.mcp.tools("tools")
    await flowyard.agents.create(id="lookup", name="Lookup", kind="mcp", config={})
    await user.open("/agents/lookup")
    [server] = user.find(marker="mcp-server").elements
    [tool] = user.find(marker="mcp-tool").elements
    assert list(server.options) == ["tools"]  # type: ignore[attr-defined]
    assert list(tool.options) == []  # type: ignore[attr-defined]

    server.value = "tools"  # type: ignore[attr-defined]

    assert "lookup_company" in tool.options  # type: ignore[attr-defined]
    assert tool.options["add"] == "add · Add two numbers."  # type: ignore[attr-defined]
