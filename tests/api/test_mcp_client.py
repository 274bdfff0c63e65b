"""Flowyard's MCP client (`app.services.mcp.McpService`) against real MCP servers made with the official SDK.

One stdio server process and one Streamable HTTP server serve the whole module (connections are pooled, so
the tests share them, as steps of one process do); the tests that kill a server or hang a call use their own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app import clock, outbound
from app.engine.exceptions import AgentError, Forbidden, InvalidInput
from app.models.mcp import McpServerCreate, McpServerUpdate
from app.models.people import Principal, Role
from app.services.audit import AuditService
from app.services.credentials import CredentialService, StoredCredentials, Vault
from app.services.mcp import McpService
from storage.db import Database
from tests.databases import fresh_sqlite_url
from tests.mcp_servers import GARBAGE_ARGS, STDIO_ARGS, STDIO_COMMAND, HttpMcpServer, free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

LOOPBACK = outbound.DestinationPolicy.allowing("127.0.0.1/32")
KEY = "rKChccyBGEFNj36tA7h-X9sNsc1H7LurO0rKrFM0UFU="


@pytest.fixture(scope="module")
def http_server() -> Iterator[HttpMcpServer]:
    with HttpMcpServer() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory, http_server: HttpMcpServer) -> AsyncIterator[McpService]:
    """One McpService (loopback allowed, as the suite's settings do) knowing `tools` (stdio) and `web` (http)."""
    folder = tmp_path_factory.mktemp("mcp")
    db = Database.from_url(fresh_sqlite_url(folder / "flowyard.db"))
    vault = Vault(KEY)
    audit = AuditService(db, now=clock.now, retention_days=30)
    credentials = CredentialService(db, vault, audit, now=clock.now)
    await credentials.create("mcp-token", "bearer", {"token": "tok-123456"})
    mcp = McpService(db, vault, audit, StoredCredentials(db, vault), policy=LOOPBACK, now=clock.now)
    count_file = folder / "count.txt"
    await mcp.create(
        McpServerCreate(
            name="tools",
            transport="stdio",
            command=STDIO_COMMAND,
            args=STDIO_ARGS,
            env={"MCP_SECRET": "s3cret-env", "MCP_COUNT_FILE": str(count_file)},
        )
    )
    await mcp.create(
        McpServerCreate(
            name="web", transport="http", url=http_server.url, credential="mcp-token", headers={"X-Team": "blue"}
        )
    )
    yield mcp
    await mcp.close()
    db.dispose()


async def test_list_tools_over_stdio_gives_names_descriptions_and_schemas(service: McpService) -> None:
    tools = {tool["name"]: tool for tool in await service.tools("tools")}

    assert {"add", "lookup_company", "echo", "slow", "fail", "crash", "count", "whoami"} <= tools.keys()
    assert tools["add"]["description"] == "Add two numbers."
    assert tools["add"]["inputSchema"]["required"] == ["a", "b"]
    cached = await service.get("tools")
    assert cached.tools is not None and {t.name for t in cached.tools} == set(tools)
    assert cached.tools_listed_at is not None


async def test_call_over_stdio_gives_the_structured_content(service: McpService) -> None:
    assert await service.call("tools", "add", {"a": 2, "b": 3}) == {"result": 5.0}
    assert await service.call("tools", "lookup_company", {"domain": "acme.com"}) == {
        "domain": "acme.com",
        "name": "Acme Corporation",
        "employees": 1200,
        "industry": "manufacturing",
    }


async def test_call_of_a_text_tool_gives_its_text_and_several_texts_a_list(service: McpService) -> None:
    assert await service.call("tools", "echo", {"text": "hello"}) == "hello"
    assert await service.call("tools", "two_texts", {"first": "a", "second": "b"}) == ["a", "b"]


async def test_stdio_server_gets_its_environment(service: McpService) -> None:
    assert (await service.call("tools", "whoami", {}))["secret"] == "s3cret-env"


async def test_tool_error_is_a_final_agent_error_with_the_servers_text(service: McpService) -> None:
    with pytest.raises(AgentError) as caught:
        await service.call("tools", "fail", {"message": "no such customer"})

    assert "MCP server 'tools': tool 'fail' failed" in str(caught.value)
    assert "no such customer" in str(caught.value)
    assert caught.value.retryable is False


async def test_unknown_tool_and_bad_arguments_are_final_errors_naming_the_tool(service: McpService) -> None:
    with pytest.raises(AgentError, match="tool 'nope' failed: Unknown tool: nope") as unknown:
        await service.call("tools", "nope", {})
    with pytest.raises(AgentError, match="tool 'add' failed") as bad:
        await service.call("tools", "add", {"a": "x"})

    assert unknown.value.retryable is False and bad.value.retryable is False


async def test_unknown_server_is_a_final_error_naming_it(service: McpService) -> None:
    with pytest.raises(AgentError, match="MCP server 'nowhere' does not exist") as caught:
        await service.call("nowhere", "add", {})

    assert caught.value.retryable is False


async def test_server_is_found_by_id_as_well_as_by_name(service: McpService) -> None:
    server = await service.get("tools")

    assert await service.call(server.id, "add", {"a": 1, "b": 1}) == {"result": 2.0}


async def test_call_runs_once(service: McpService, tmp_path: Path) -> None:
    first = (await service.call("tools", "count", {}))["count"]

    assert (await service.call("tools", "count", {}))["count"] == first + 1


async def test_hung_call_times_out_and_the_connection_still_serves(service: McpService) -> None:
    started = time.monotonic()
    with pytest.raises(AgentError, match=r"MCP server 'tools' did not answer tool 'slow' within 0.3 s") as caught:
        await service.call("tools", "slow", {"seconds": 5}, timeout=0.3)

    assert time.monotonic() - started < 2
    assert caught.value.retryable is True
    assert await service.call("tools", "add", {"a": 1, "b": 2}) == {"result": 3.0}


async def test_server_that_dies_fails_the_call_clearly_and_the_next_call_reconnects(service: McpService) -> None:
    await service.create(McpServerCreate(name="mortal", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS))
    assert await service.call("mortal", "add", {"a": 1, "b": 1}) == {"result": 2.0}

    with pytest.raises(AgentError, match="MCP server 'mortal' exited") as caught:
        await service.call("mortal", "crash", {})

    assert caught.value.retryable is True
    assert await service.call("mortal", "add", {"a": 2, "b": 2}) == {"result": 4.0}


async def test_command_that_does_not_exist_is_a_final_error(service: McpService) -> None:
    await service.create(McpServerCreate(name="missing", transport="stdio", command="/no/such/mcp-server"))

    with pytest.raises(AgentError, match="MCP server 'missing' cannot be started: '/no/such/mcp-server'") as caught:
        await service.tools("missing")

    assert caught.value.retryable is False


async def test_command_that_exits_at_once_fails_with_what_it_said(service: McpService) -> None:
    script = "import sys; sys.stderr.write('ModuleNotFoundError: no module named crm_tools\\n'); sys.exit(1)"
    await service.create(McpServerCreate(name="broken", transport="stdio", command=STDIO_COMMAND, args=["-c", script]))

    with pytest.raises(AgentError, match="MCP server 'broken' exited") as caught:
        await service.tools("broken")

    assert "ModuleNotFoundError: no module named crm_tools" in str(caught.value)


async def test_command_that_is_not_an_mcp_server_times_out_naming_it(service: McpService) -> None:
    await service.create(
        McpServerCreate(name="garbage", transport="stdio", command=STDIO_COMMAND, args=GARBAGE_ARGS, timeout_seconds=1)
    )

    with pytest.raises(AgentError, match="MCP server 'garbage' did not complete the MCP handshake within 1 s"):
        await service.tools("garbage")


# --- Streamable HTTP -------------------------------------------------------------------------------------------


async def test_http_server_lists_and_calls_tools(service: McpService) -> None:
    tools = await service.tools("web")

    assert "lookup_company" in {tool["name"] for tool in tools}
    assert await service.call("web", "lookup_company", {"domain": "globex.com"}) == {
        "domain": "globex.com",
        "name": "Globex",
        "employees": 5400,
        "industry": "energy",
    }


async def test_http_server_gets_the_credential_and_the_headers(service: McpService) -> None:
    seen: dict[str, Any] = await service.call("web", "whoami", {})

    assert seen["headers"] == {"authorization": "Bearer tok-123456", "x-team": "blue"}


async def test_http_tool_error_is_final(service: McpService) -> None:
    with pytest.raises(AgentError, match=r"tool 'fail' failed: .*boom") as caught:
        await service.call("web", "fail", {"message": "boom"})

    assert caught.value.retryable is False


async def test_http_hang_times_out(service: McpService) -> None:
    with pytest.raises(AgentError, match=r"did not answer tool 'slow' within 0\.3 s"):
        await service.call("web", "slow", {"seconds": 5}, timeout=0.3)

    assert await service.call("web", "add", {"a": 1, "b": 2}) == {"result": 3.0}


async def test_http_server_that_dies_fails_clearly_and_the_next_call_reconnects(service: McpService) -> None:
    with HttpMcpServer() as server:
        await service.create(McpServerCreate(name="web-mortal", transport="http", url=server.url, timeout_seconds=5))
        assert await service.call("web-mortal", "add", {"a": 1, "b": 1}) == {"result": 2.0}

        with pytest.raises(AgentError, match="MCP server 'web-mortal'") as caught:
            await service.call("web-mortal", "crash", {})
        assert caught.value.retryable is True

        server.start()  # (same port)
        assert await service.call("web-mortal", "add", {"a": 2, "b": 2}) == {"result": 4.0}


async def test_http_server_restarted_while_idle_is_called_again(service: McpService) -> None:
    with HttpMcpServer(stateful=True) as server:
        await service.create(McpServerCreate(name="web-stateful", transport="http", url=server.url))
        assert await service.call("web-stateful", "add", {"a": 1, "b": 1}) == {"result": 2.0}

        server.start()  # a restart while the connection is pooled (a legacy session would be gone)

        assert await service.call("web-stateful", "add", {"a": 2, "b": 3}) == {"result": 5.0}


async def test_http_server_that_is_not_there_is_a_retryable_error(service: McpService) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    await service.create(McpServerCreate(name="absent", transport="http", url=url, timeout_seconds=3))

    with pytest.raises(AgentError, match=f"MCP server 'absent' could not be reached at {url}") as caught:
        await service.tools("absent")

    assert caught.value.retryable is True


async def test_private_network_policy_refuses_an_http_server_unless_allowed(
    service: McpService, http_server: HttpMcpServer
) -> None:
    strict = McpService(
        service._db,
        service._vault,
        service._audit,
        service._credentials,
        policy=outbound.DestinationPolicy(),
        now=clock.now,
    )
    try:
        with pytest.raises(AgentError, match=r"refused to connect to 127.0.0.1 \(loopback\)") as caught:
            await strict.call("web", "add", {"a": 1, "b": 2})
        assert caught.value.retryable is False
    finally:
        await strict.close()


# --- keeping servers ---------------------------------------------------------------------------------------------


async def test_changing_a_server_reconnects_with_the_new_settings(service: McpService) -> None:
    await service.create(
        McpServerCreate(name="changing", transport="stdio", command=STDIO_COMMAND, args=STDIO_ARGS,
                        env={"MCP_SECRET": "one"})
    )  # fmt: skip
    assert (await service.call("changing", "whoami", {}))["secret"] == "one"

    await service.update("changing", McpServerUpdate(env={"MCP_SECRET": "two"}))

    assert (await service.call("changing", "whoami", {}))["secret"] == "two"


async def test_secret_given_as_null_keeps_its_value(service: McpService) -> None:
    await service.update("web", McpServerUpdate(headers={"X-Team": None, "X-Extra": "more"}))

    seen = await service.call("web", "whoami", {})

    assert seen["headers"]["x-team"] == "blue" and seen["headers"]["x-extra"] == "more"
    assert (await service.get("web")).header_names == ["X-Extra", "X-Team"]


async def test_only_admins_add_a_stdio_server(service: McpService) -> None:
    editor = Principal(kind="user", permissions=_editor_permissions(), role=Role.EDITOR)

    with pytest.raises(Forbidden, match="runs a command on this host"):
        await service.create(McpServerCreate(name="sneaky", transport="stdio", command="sh"), by=editor)
    created = await service.create(
        McpServerCreate(name="editor-web", transport="http", url="https://example.com/mcp"), by=editor
    )
    assert created.created_by == "user"


async def test_fields_of_the_other_transport_are_refused_naming_them(service: McpService) -> None:
    with pytest.raises(InvalidInput) as caught:
        await service.create(McpServerCreate(name="mixed", transport="http", url="https://x.test/mcp", command="sh"))

    assert caught.value.field == "command"


def _editor_permissions() -> frozenset[Any]:
    from app.models.people import ROLE_PERMISSIONS

    return ROLE_PERMISSIONS[Role.EDITOR]
