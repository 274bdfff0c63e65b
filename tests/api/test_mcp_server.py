"""Flowyard as an MCP server: the SDK's own client against `/mcp` of a real server on 127.0.0.1.

One server (the API in this process, served by uvicorn in a thread) answers the module's MCP tests; the
workflows it offers are made once. `FLOWYARD_MCP_WAIT_SECONDS` is 1.5 there, so a "slow" run (2.5 s) outlasts a
call. The last test runs two `flowyard serve` processes on one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import httpx2
import mcp_types as types
import pytest
import uvicorn
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from app.main import create_api
from app.models.people import ROLE_PERMISSIONS, Role, TokenCreate, scopes_for
from app.root import Flowyard
from app.services.people import principal_of
from app.settings import Settings
from tests.api.helpers import V1, add_step, assert_refused, create_workflow
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.databases import fresh_data_dir
from tests.ui.conftest import add_person

T = TypeVar("T")


# --- the server and its workflows ------------------------------------------------------------------------------


@dataclass
class Served:
    """The module's server: its URL, a way to run coroutines on its loop, and what was set up on it."""

    url: str
    loop: asyncio.AbstractEventLoop
    flowyard: Flowyard
    tools: dict[str, str]  # workflow id by what it is for ("fast", "slow"…)
    viewer_token: str = ""
    approver_token: str = ""

    def on_server(self, work: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=10)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _workflow(api: httpx.Client, name: str, *steps: tuple[str, str], description: str = "", offer: bool = True) -> str:
    created = api.post(f"{V1}/workflows", json={"name": name, "description": description}).json()
    for agent, action in steps:
        assert api.post(f"{V1}/workflows/{created['id']}/steps", json={"agentId": agent, "action": action}).is_success
    if offer:
        assert api.patch(f"{V1}/workflows/{created['id']}", json={"offerAsTool": True}).json()["offerAsTool"] is True
    return str(created["id"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = Settings(
        data_dir=fresh_data_dir(tmp_path_factory.mktemp("mcp") / "data"),
        admin_token=ADMIN_TOKEN,
        lease_seconds=5,
        recovery_interval_seconds=0.5,
        mcp_wait_seconds=1.5,
    )
    app = create_api(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as api:
        tools = {
            "fast": _workflow(
                api, "Summarize news!", ("transform", "Summary of {{ input.topic }}"), description="Sums up a topic."
            ),
            "slow": _workflow(api, "Slow digest", ("transform", "{{ input.topic }}"), ("delay", "2.5")),
            "review": _workflow(api, "Reviewed post", ("transform", "Post: {{ input.topic }}"), ("approval", "")),
            "broken": _workflow(api, "Broken", ("delay", "-1")),
            "text": _workflow(api, "Shout", ("transform", "{{ input | upper }}")),
            "hidden": _workflow(api, "Not offered", ("transform", "{{ input.topic }}"), offer=False),
        }
    shared = Served(url, loop, app.state.flowyard, tools)

    async def token(email: str, role: Role) -> str:
        owner = principal_of(await add_person(shared.flowyard, email, role))
        scopes = scopes_for(ROLE_PERMISSIONS[role])
        return (await shared.flowyard.tokens.create(owner, TokenCreate(name="mcp", scopes=scopes))).token

    shared.viewer_token = shared.on_server(token("vic@example.com", Role.VIEWER))
    shared.approver_token = shared.on_server(token("apu@example.com", Role.APPROVER))
    yield shared
    server.should_exit = True
    thread.join(timeout=20)
    loop.close()


@asynccontextmanager
async def mcp_session(url: str, token: str = ADMIN_TOKEN) -> AsyncIterator[ClientSession]:
    """An initialized MCP client session with `/mcp` of `url`, sending `token`."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _structured(result: types.CallToolResult) -> dict[str, Any]:
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


# --- listing ---------------------------------------------------------------------------------------------------


async def test_list_tools_offers_only_the_offered_workflows_and_the_status_tool(served: Served) -> None:
    async with mcp_session(served.url) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}

    assert set(tools) == {
        "summarize_news",
        "slow_digest",
        "reviewed_post",
        "broken",
        "shout",
        "flowyard_run_status",
    }
    fast = tools["summarize_news"]
    assert fast.title == "Summarize news!"
    assert fast.description == "Sums up a topic."
    assert fast.input_schema["type"] == "object"
    assert fast.input_schema["required"] == ["topic"]
    assert set(fast.input_schema["properties"]) == {"topic"}
    assert "Slow digest" in (tools["slow_digest"].description or "")  # no description: says what it runs
    assert tools["flowyard_run_status"].input_schema["required"] == ["runId"]


async def test_list_tools_gives_each_tool_its_workflows_input_schema(served: Served) -> None:
    with httpx.Client(base_url=served.url, headers=AUTH) as api:
        declared = api.get(f"{V1}/workflows/{served.tools['fast']}/input").json()["inputSchema"]

    async with mcp_session(served.url) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}

    assert tools["summarize_news"].input_schema == declared


# --- calling ---------------------------------------------------------------------------------------------------


async def test_call_tool_answers_with_the_runs_output(served: Served) -> None:
    async with mcp_session(served.url) as session:
        result = await session.call_tool("summarize_news", {"topic": "rivers"})

    assert result.is_error is False
    answer = _structured(result)
    assert answer["status"] == "COMPLETED"
    assert answer["output"] == "Summary of rivers"
    assert isinstance(result.content[0], types.TextContent)
    assert '"output": "Summary of rivers"' in result.content[0].text
    run = served.on_server(served.flowyard.runs.get(answer["runId"]))
    assert run.trigger.value == "mcp"


async def test_call_tool_records_the_tokens_person_as_starter(served: Served) -> None:
    async with mcp_session(served.url) as session:
        answer = _structured(await session.call_tool("summarize_news", {"topic": "tides"}))

    admin = served.on_server(served.flowyard.tokens.principal(ADMIN_TOKEN, ip=None))
    assert admin is not None
    run = served.on_server(served.flowyard.runs.get(answer["runId"]))
    assert run.started_by == admin.label


async def test_call_tool_with_a_text_input_takes_it_as_the_input_argument(served: Served) -> None:
    async with mcp_session(served.url) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        result = await session.call_tool("shout", {"input": "hello"})

    assert list(tools["shout"].input_schema["properties"]) == ["input"]
    assert _structured(result)["output"] == "HELLO"


async def test_call_tool_with_arguments_that_do_not_fit_is_an_error_naming_the_field(served: Served) -> None:
    async with mcp_session(served.url) as session:
        result = await session.call_tool("summarize_news", {"subject": "rivers"})

    assert result.is_error is True
    assert isinstance(result.content[0], types.TextContent)
    assert "topic" in result.content[0].text


async def test_a_slow_run_answers_its_run_id_and_the_status_tool_gives_the_output(served: Served) -> None:
    async with mcp_session(served.url) as session:
        started = time.monotonic()
        first = _structured(await session.call_tool("slow_digest", {"topic": "glaciers"}))
        waited = time.monotonic() - started
        assert first["status"] in ("QUEUED", "RUNNING")
        assert "flowyard_run_status" in first["hint"]
        assert 1.2 < waited < 2.4  # FLOWYARD_MCP_WAIT_SECONDS

        # asks for longer than the server allows: waits 1.5 s, enough for the rest of the run's 2.5 s
        done = await session.call_tool("flowyard_run_status", {"runId": first["runId"], "wait_seconds": 600})

    assert _structured(done) == {"runId": first["runId"], "status": "COMPLETED", "output": "glaciers"}


async def test_a_run_paused_for_approval_says_so_with_the_inbox_link(served: Served) -> None:
    async with mcp_session(served.url) as session:
        answer = _structured(await session.call_tool("reviewed_post", {"topic": "otters"}))
        again = _structured(await session.call_tool("flowyard_run_status", {"runId": answer["runId"]}))

    assert answer["status"] == "PAUSED"
    waiting = answer["waitingFor"]
    assert waiting["inbox"] == f"/inbox?approval={waiting['approvalId']}"
    assert waiting["step"]
    assert "approve" in answer["hint"]
    assert again["status"] == "PAUSED"
    assert again["waitingFor"] == waiting


async def test_a_failed_run_is_an_error_result_with_the_error(served: Served) -> None:
    async with mcp_session(served.url) as session:
        result = await session.call_tool("broken", {})

    assert result.is_error is True
    answer = _structured(result)
    assert answer["status"] == "FAILED"
    assert "negative" in answer["error"]


async def test_the_status_of_a_run_that_does_not_exist_is_an_error(served: Served) -> None:
    async with mcp_session(served.url) as session:
        result = await session.call_tool("flowyard_run_status", {"runId": "wr-nothing"})

    assert result.is_error is True
    assert isinstance(result.content[0], types.TextContent)
    assert "wr-nothing" in result.content[0].text


async def test_a_workflow_not_offered_cannot_be_called(served: Served) -> None:
    async with mcp_session(served.url) as session:
        with pytest.raises(MCPError, match="unknown tool"):
            await session.call_tool("not_offered", {"topic": "x"})


async def test_the_modern_protocol_lists_and_calls_too(served: Served) -> None:
    async with (
        httpx2.AsyncClient(headers=AUTH, timeout=30) as http,
        streamable_http_client(f"{served.url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.discover()
        names = {t.name for t in (await session.list_tools()).tools}
        result = await session.call_tool("summarize_news", {"topic": "moss"})

    assert "summarize_news" in names
    assert _structured(result)["output"] == "Summary of moss"


# --- who may ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token-at-all"}])
def test_mcp_without_a_valid_token_is_refused_with_401(served: Served, headers: dict[str, str]) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept = {"Accept": "application/json, text/event-stream", **headers}

    response = httpx.post(f"{served.url}/mcp", json=body, headers=accept)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_mcp_for_a_role_that_may_not_see_workflows_is_refused_with_403(served: Served) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Authorization": f"Bearer {served.approver_token}", "Accept": "application/json, text/event-stream"}

    response = httpx.post(f"{served.url}/mcp", json=body, headers=headers)

    assert response.status_code == 403
    assert "may not" in response.json()["detail"]


def test_mcp_from_a_web_page_of_another_site_is_refused(served: Served) -> None:
    headers = {**AUTH, "Origin": "https://evil.example", "Accept": "application/json, text/event-stream"}

    response = httpx.post(f"{served.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)

    assert response.status_code == 403


async def test_a_viewer_token_lists_the_tools_but_may_not_call_one(served: Served) -> None:
    async with mcp_session(served.url, served.viewer_token) as session:
        names = {t.name for t in (await session.list_tools()).tools}
        result = await session.call_tool("summarize_news", {"topic": "rivers"})

    assert "summarize_news" in names
    assert result.is_error is True
    assert isinstance(result.content[0], types.TextContent)
    assert "may not" in result.content[0].text


# --- offerAsTool in the API ----------------------------------------------------------------------------------


async def test_patch_offer_as_tool_shows_in_get(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Offered")
    assert workflow["offerAsTool"] is False

    patched = await api.patch(f"{V1}/workflows/{workflow['id']}", json={"offerAsTool": True})
    shown = await api.get(f"{V1}/workflows/{workflow['id']}")

    assert patched.status_code == 200
    assert patched.json()["offerAsTool"] is True
    assert shown.json()["offerAsTool"] is True
    listed = (await api.get(f"{V1}/workflows")).json()["content"]
    assert [w["offerAsTool"] for w in listed] == [True]


async def test_patch_without_offer_as_tool_keeps_it(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Offered")
    await api.patch(f"{V1}/workflows/{workflow['id']}", json={"offerAsTool": True})

    renamed = await api.patch(f"{V1}/workflows/{workflow['id']}", json={"name": "Still offered"})

    assert renamed.json()["offerAsTool"] is True


@pytest.mark.parametrize("value", ["yes", 1, None, {"on": True}])
async def test_patch_offer_as_tool_refuses_what_is_not_a_boolean(api: httpx.AsyncClient, value: Any) -> None:
    workflow = await create_workflow(api, "Offered")

    response = await api.patch(f"{V1}/workflows/{workflow['id']}", json={"offerAsTool": value})

    if value is None:  # null is "keep it", like every other field of the PATCH
        assert response.status_code == 200
        assert response.json()["offerAsTool"] is False
    else:
        assert_refused(response, "offerAsTool")


async def test_export_and_import_keep_offer_as_tool(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await create_workflow(api, "Offered")
    await add_step(api, workflow["id"], "transform", "{{ input }}")
    await api.patch(f"{V1}/workflows/{workflow['id']}", json={"offerAsTool": True})

    document = await flowyard_of.workflows.export(workflow["id"])
    copy = await flowyard_of.workflows.import_document(document.model_dump(mode="json"))

    assert document.offer_as_tool is True
    assert copy.offer_as_tool is True


async def test_a_clone_is_not_offered_until_someone_offers_it(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Offered")
    await api.patch(f"{V1}/workflows/{workflow['id']}", json={"offerAsTool": True})

    clone = (await api.post(f"{V1}/workflows/{workflow['id']}/clone")).json()

    assert clone["offerAsTool"] is False


# --- several processes -----------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_run_started_through_one_process_is_followed_through_another(
    tmp_path: Path, own_migrated_postgres_url: str
) -> None:
    from tests.e2e.conftest import flowyard_server, free_port

    database = {"FLOWYARD_DATABASE_URL": own_migrated_postgres_url}
    first_port, second_port = free_port(), free_port()
    servers = [
        flowyard_server(tmp_path / "a", first_port, env={**database, "FLOWYARD_MCP_WAIT_SECONDS": "0.2"}, admin=False),
        flowyard_server(tmp_path / "b", second_port, env=database, admin=False),
    ]
    for name in ("a", "b"):
        fresh_data_dir(tmp_path / name)  # (here: Alembic, which makes the SQLite template, is not thread-safe)
    with ExitStack() as running:
        with ThreadPoolExecutor(2) as starting:  # both start at once: half the wait
            starts = [starting.submit(server.__enter__) for server in servers]
        for server, start in zip(servers, starts, strict=True):
            if start.exception() is None:
                running.push(server.__exit__)
        for start in starts:
            start.result()
        first, second = f"http://127.0.0.1:{first_port}", f"http://127.0.0.1:{second_port}"
        with httpx.Client(base_url=first, headers=AUTH, timeout=10) as api:
            _workflow(api, "Slow digest", ("transform", "{{ input.topic }}"), ("delay", "1.5"))

        async with mcp_session(first) as session:
            started = _structured(await session.call_tool("slow_digest", {"topic": "dunes"}))
        async with mcp_session(second) as session:
            done = _structured(
                await session.call_tool("flowyard_run_status", {"runId": started["runId"], "wait_seconds": 20})
            )

    assert started["status"] in ("QUEUED", "RUNNING")
    assert done == {"runId": started["runId"], "status": "COMPLETED", "output": "dunes"}
