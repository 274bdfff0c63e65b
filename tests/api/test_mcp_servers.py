"""MCP servers through the API (`/api/v1/mcp-servers`): kept, listed, test-called; secrets never shown; stdio for
admins only; and the `mcp` kind calling a tool as a step of a real workflow run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.models.people import Role, TokenCreate, scopes_for
from app.root import Flowyard
from app.services.people import principal_of
from tests.api.helpers import V1, add_step, assert_refused, create_workflow, run_to_end
from tests.mcp_servers import STDIO_ARGS, STDIO_COMMAND
from tests.ui.conftest import add_person

SERVERS = f"{V1}/mcp-servers"
SECRET = "env-secret-Zq81xW-7c0ffee"
HEADER_SECRET = "hdr-secret-91kk2-deadbeef"


def stdio_body(name: str = "tools", **fields: Any) -> dict[str, Any]:
    return {"name": name, "transport": "stdio", "command": STDIO_COMMAND, "args": STDIO_ARGS,
            "env": {"MCP_SECRET": SECRET}, **fields}  # fmt: skip


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(SERVERS, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def mcp_agent(api: httpx.AsyncClient) -> str:
    """A saved agent of the mcp kind (steps give it their server, tool and arguments)."""
    response = await api.post(f"{V1}/agents", json={"id": "mcp-tool", "name": "MCP tool", "kind": "mcp", "config": {}})
    assert response.status_code == 201, response.text
    return "mcp-tool"


async def as_role(api: httpx.AsyncClient, flowyard: Flowyard, role: Role) -> dict[str, str]:
    owner = principal_of(await add_person(flowyard, f"{role.value}@example.com", role))
    token = await flowyard.tokens.create(owner, TokenCreate(name="t", scopes=scopes_for(owner.permissions)))
    return {"Authorization": f"Bearer {token.token}"}


# --- keeping servers -----------------------------------------------------------------------------------------------


async def test_create_stdio_server_shows_env_names_never_values(api: httpx.AsyncClient) -> None:
    created = await create(api, stdio_body())

    assert created["id"].startswith("mcp-")
    assert created["transport"] == "stdio"
    assert created["command"] == STDIO_COMMAND
    assert created["envNames"] == ["MCP_SECRET"]
    assert created["tools"] is None
    for response in (
        await api.get(SERVERS),
        await api.get(f"{SERVERS}/{created['id']}"),
        await api.get(f"{SERVERS}/tools"),
    ):
        assert SECRET not in response.text


async def test_create_http_server_shows_header_names_never_values(api: httpx.AsyncClient) -> None:
    body = {
        "name": "web",
        "transport": "http",
        "url": "https://mcp.example.com/mcp",
        "headers": {"X-Key": HEADER_SECRET},
    }
    created = await create(api, body)

    assert created["headerNames"] == ["X-Key"]
    assert HEADER_SECRET not in (await api.get(SERVERS)).text


async def test_get_by_name_patch_and_delete(api: httpx.AsyncClient) -> None:
    created = await create(api, stdio_body())

    assert (await api.get(f"{SERVERS}/tools")).json()["id"] == created["id"]
    patched = await api.patch(f"{SERVERS}/{created['id']}", json={"description": "Test tools", "timeoutSeconds": 5})
    assert patched.status_code == 200, patched.text
    assert patched.json()["description"] == "Test tools" and patched.json()["timeoutSeconds"] == 5
    assert patched.json()["envNames"] == ["MCP_SECRET"]  # secrets not given stay
    assert (await api.delete(f"{SERVERS}/{created['id']}")).status_code == 204
    assert (await api.get(f"{SERVERS}/{created['id']}")).status_code == 404


async def test_duplicate_name_is_409(api: httpx.AsyncClient) -> None:
    await create(api, stdio_body())

    response = await api.post(SERVERS, json=stdio_body())

    assert response.status_code == 409
    assert "named 'tools' exists already" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "transport": "stdio"}, "command"),
        ({"name": "x", "transport": "http"}, "url"),
        ({"name": "x", "transport": "http", "url": "ftp://x.test/mcp"}, "url"),
        ({"name": "x", "transport": "http", "url": "http://[::1/mcp"}, "url"),
        ({"name": "x", "transport": "http", "url": "http://x.test:99999/mcp"}, "url"),
        ({"name": "x", "transport": "http", "url": "https://x.test/mcp", "env": {"A": "b"}}, "env"),
        ({"name": "x", "transport": "stdio", "command": "sh", "url": "https://x.test"}, "url"),
        ({"name": "x", "transport": "stdio", "command": "sh", "env": {"1BAD": "v"}}, "env.1BAD"),
        (
            {"name": "x", "transport": "http", "url": "https://x.test/mcp", "headers": {"Bad Name": "v"}},
            "headers.Bad Name",
        ),
        ({"name": "x", "transport": "http", "url": "https://x.test/mcp", "headers": {"Accept": "v"}}, "headers.Accept"),
        ({"name": "x", "transport": "http", "url": "https://x.test/mcp", "credential": "nope"}, "credential"),
        ({"name": "x", "transport": "carrier-pigeon"}, "transport"),
        ({"name": " ", "transport": "stdio", "command": "sh"}, "name"),
        ({"name": "x", "transport": "stdio", "command": "sh", "timeoutSeconds": 0}, "timeoutSeconds"),
    ],
)
async def test_bad_input_is_422_naming_the_field(api: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
    assert_refused(await api.post(SERVERS, json=body), field)
    assert (await api.get(SERVERS)).json() == []


async def test_unknown_server_is_404(api: httpx.AsyncClient) -> None:
    for response in (
        await api.get(f"{SERVERS}/nowhere"),
        await api.patch(f"{SERVERS}/nowhere", json={"description": "x"}),
        await api.delete(f"{SERVERS}/nowhere"),
        await api.get(f"{SERVERS}/nowhere/tools"),
        await api.post(f"{SERVERS}/nowhere/tools/add/call", json={"arguments": {}}),
    ):
        assert response.status_code == 404, response.text


# --- roles ---------------------------------------------------------------------------------------------------------


async def test_editor_may_add_an_http_server_but_not_a_stdio_one(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    editor = await as_role(api, flowyard_of, Role.EDITOR)

    refused = await api.post(SERVERS, json=stdio_body(), headers=editor)
    http = await api.post(
        SERVERS, json={"name": "web", "transport": "http", "url": "https://x.test/mcp"}, headers=editor
    )

    assert refused.status_code == 403
    assert "runs a command on this host" in refused.json()["detail"]
    assert http.status_code == 201, http.text


async def test_editor_may_not_change_or_delete_a_stdio_server(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    created = await create(api, stdio_body())
    editor = await as_role(api, flowyard_of, Role.EDITOR)

    patched = await api.patch(f"{SERVERS}/{created['id']}", json={"args": ["evil.py"]}, headers=editor)
    deleted = await api.delete(f"{SERVERS}/{created['id']}", headers=editor)

    assert (patched.status_code, deleted.status_code) == (403, 403)
    assert (await api.get(f"{SERVERS}/{created['id']}")).json()["args"] == STDIO_ARGS


async def test_viewer_sees_servers_but_may_not_add_or_test_call(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    created = await create(api, stdio_body())
    viewer = await as_role(api, flowyard_of, Role.VIEWER)

    assert (await api.get(SERVERS, headers=viewer)).status_code == 200
    body = {"name": "web", "transport": "http", "url": "https://x.test/mcp"}
    assert (await api.post(SERVERS, json=body, headers=viewer)).status_code == 403
    call = await api.post(f"{SERVERS}/{created['id']}/tools/add/call", json={"arguments": {}}, headers=viewer)
    assert call.status_code == 403


async def test_creating_a_server_is_audited(api: httpx.AsyncClient) -> None:
    await create(api, stdio_body())

    entries = (await api.get(f"{V1}/audit")).json()
    items = entries["items"] if isinstance(entries, dict) else entries
    assert any(e["action"] == "mcp_server.create" and e["target"] == "tools" for e in items)
    assert SECRET not in str(entries)


# --- connecting ----------------------------------------------------------------------------------------------------


async def test_list_tools_connects_and_keeps_the_listing(api: httpx.AsyncClient) -> None:
    created = await create(api, stdio_body())

    response = await api.get(f"{SERVERS}/{created['id']}/tools")

    assert response.status_code == 200, response.text
    tools = {tool["name"]: tool for tool in response.json()}
    assert tools["add"]["inputSchema"]["required"] == ["a", "b"]
    kept = (await api.get(f"{SERVERS}/{created['id']}")).json()
    assert {tool["name"] for tool in kept["tools"]} == set(tools)
    assert kept["toolsListedAt"] is not None


async def test_test_call_gives_the_result_or_the_error(api: httpx.AsyncClient) -> None:
    created = await create(api, stdio_body())
    calls = f"{SERVERS}/{created['id']}/tools"

    ok = (await api.post(f"{calls}/lookup_company/call", json={"arguments": {"domain": "initech.com"}})).json()
    failed = (await api.post(f"{calls}/fail/call", json={"arguments": {"message": "nope"}})).json()

    assert ok["ok"] is True and ok["result"]["name"] == "Initech" and ok["durationMs"] >= 0
    assert failed["ok"] is False and "tool 'fail' failed" in failed["error"] and failed["retryable"] is False


async def test_test_call_arguments_must_be_an_object(api: httpx.AsyncClient) -> None:
    created = await create(api, stdio_body())

    response = await api.post(f"{SERVERS}/{created['id']}/tools/add/call", json={"arguments": [1, 2]})

    assert_refused(response, "arguments")


async def test_unreachable_server_listing_is_502_naming_it(api: httpx.AsyncClient, closed_url: str) -> None:
    created = await create(api, {"name": "gone", "transport": "http", "url": closed_url + "mcp", "timeoutSeconds": 3})

    response = await api.get(f"{SERVERS}/{created['id']}/tools")

    assert response.status_code == 502
    assert "MCP server 'gone' could not be reached" in response.json()["detail"]


# --- the mcp kind in a workflow run ----------------------------------------------------------------------------------


async def test_mcp_step_calls_a_tool_with_rendered_arguments(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    await create(api, stdio_body())
    workflow = await create_workflow(api, "Enrich")
    config = {"server": "tools", "tool": "lookup_company", "arguments": {"domain": "{{ input.email.split('@')[1] }}"}}
    await add_step(api, workflow["id"], await mcp_agent(api), "", config=config)

    run = await run_to_end(api, flowyard_of, workflow["id"], {"email": "ada@acme.com"})

    assert run["status"] == "COMPLETED", run
    assert run["output"] == {"domain": "acme.com", "name": "Acme Corporation", "employees": 1200,
                             "industry": "manufacturing"}  # fmt: skip


async def test_mcp_step_without_arguments_sends_its_input(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    await create(api, stdio_body())
    workflow = await create_workflow(api, "Sum")
    await add_step(api, workflow["id"], await mcp_agent(api), "", config={"server": "tools", "tool": "add"})

    run = await run_to_end(api, flowyard_of, workflow["id"], {"a": 20, "b": 22})

    assert run["status"] == "COMPLETED", run
    assert run["output"] == {"result": 42.0}


async def test_mcp_step_whose_tool_fails_fails_the_run_naming_server_and_tool(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    await create(api, stdio_body())
    workflow = await create_workflow(api, "Fails")
    config = {"server": "tools", "tool": "fail", "arguments": {"message": "quota exceeded"}}
    await add_step(api, workflow["id"], await mcp_agent(api), "", config=config, retries=2, retryBackoffSeconds=0)

    run = await run_to_end(api, flowyard_of, workflow["id"], {})

    assert run["status"] == "FAILED"
    step = run["nodes"][0]
    assert "MCP server 'tools': tool 'fail' failed" in step["error"] and "quota exceeded" in step["error"]
    assert step["attempt"] == 1  # a tool's own failure is not retried


async def test_mcp_step_whose_server_dies_is_retried_and_fails_naming_it(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    await create(api, stdio_body())
    workflow = await create_workflow(api, "Dies")
    config = {"server": "tools", "tool": "crash"}
    await add_step(api, workflow["id"], await mcp_agent(api), "", config=config, retries=1, retryBackoffSeconds=0)

    run = await run_to_end(api, flowyard_of, workflow["id"], {})

    assert run["status"] == "FAILED"
    step = run["nodes"][0]
    assert "MCP server 'tools' exited (its process ended) during tool 'crash'" in step["error"]
    assert step["attempt"] == 2  # the server died: worth another attempt, on a new connection
