"""The `agent` kind through the API, in a whole Flowyard: tools from a real MCP server (stdio, made with the
official SDK) and a saved `http` agent, one tool call approved with edited arguments, the loop in the run's
detail, and the decision recorded like a step's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.root import Flowyard
from tests.api.helpers import V1, add_step, create_workflow, finished_run, start_run
from tests.llm_server import ChatRequest, ChatServer, Reply, ToolCall
from tests.mcp_servers import STDIO_ARGS, STDIO_COMMAND
from tests.servers import LocalServer

SCHEMA = {"type": "object", "properties": {"fit": {"type": "boolean"}, "why": {"type": "string"}}, "required": ["fit"]}


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


def _model(request: ChatRequest) -> Reply | str:
    """Looks the company up and counts (in parallel), asks the CRM, then answers through final_answer."""
    done = len(request.tool_results())
    if done == 0:
        return Reply(
            tool_calls=[
                ToolCall("lookup_company", {"domain": "acme.com"}, id="l1"),
                ToolCall("count", {}, id="n1"),
            ]
        )
    if done == 2:
        return Reply(tool_calls=[ToolCall("crm", {"company": "Acme", "stage": "lead"}, id="c1")])
    return Reply(tool_calls=[ToolCall("final_answer", {"fit": True, "why": "1200 people"}, id="f1")])


async def _setup(api: httpx.AsyncClient, chat: ChatServer, web: LocalServer, count_file: Path) -> str:
    server = {
        "name": "Test tools",
        "transport": "stdio",
        "command": STDIO_COMMAND,
        "args": STDIO_ARGS,
        "env": {"MCP_COUNT_FILE": str(count_file)},
    }
    created = await api.post(f"{V1}/mcp-servers", json=server)
    assert created.status_code == 201, created.text
    crm = {"id": "crm", "name": "crm", "kind": "http", "config": {"url": f"{web.url}/crm"}}
    assert (await api.post(f"{V1}/agents", json=crm)).status_code == 201
    tools = [
        {"type": "mcp", "server": "Test tools", "tools": ["lookup_company", "count"]},
        {"type": "agent", "agent_id": "crm", "needs_approval": True},
    ]
    config = {"base_url": chat.url, "model": "tiny", "tools": tools, "json_schema": SCHEMA}
    agent = {"id": "qualifier", "name": "Qualifier", "kind": "agent", "config": config}
    assert (await api.post(f"{V1}/agents", json=agent)).status_code == 201, "agent"
    workflow = await create_workflow(api, "Qualify")
    await add_step(api, workflow["id"], "qualifier", "Qualify {{ input.domain }}", key="qualify")
    return str(workflow["id"])


async def test_an_agent_calls_mcp_tools_and_a_saved_agent_with_an_approval_in_between(
    api: httpx.AsyncClient, flowyard_of: Flowyard, chat: ChatServer, web: LocalServer, tmp_path: Path
) -> None:
    chat.respond = _model
    count_file = tmp_path / "count.txt"
    workflow_id = await _setup(api, chat, web, count_file)

    run = await finished_run(api, flowyard_of, (await start_run(api, workflow_id, {"domain": "acme.com"}))["runId"])

    assert run["status"] == "PAUSED", run
    (approval,) = [a for a in run["approvals"] if a["status"] == "PENDING"]
    assert approval["proposal"] == {"company": "Acme", "stage": "lead"}
    call = approval["details"]["toolCall"]
    assert call["tool"] == "crm" and call["conversation"][0]["role"] == "system"
    assert web.calls_to("/crm") == []
    first = chat.requests[0]
    assert sorted(first.tools) == ["count", "crm", "final_answer", "lookup_company"]
    lookup = json.loads(chat.requests[1].tool_results()[0]["content"])
    assert lookup["employees"] == 1200

    resumed = await api.post(
        f"{V1}/workflows/runs/{run['id']}/resume", json={"output": {"company": "Acme Corporation", "stage": "lead"}}
    )
    assert resumed.status_code == 202, resumed.text
    run = await finished_run(api, flowyard_of, run["id"])

    assert run["status"] == "COMPLETED", run.get("error")
    assert run["output"] == {"fit": True, "why": "1200 people"}
    assert [r.json() for r in web.calls_to("/crm")] == [{"company": "Acme Corporation", "stage": "lead"}]
    assert count_file.read_text().count("call") == 1  # the paused step ran again: the count call was not repeated
    (step,) = run["nodes"]
    entries: list[dict[str, Any]] = step["loop"]
    assert [(e["kind"], e["tool"], e["status"]) for e in entries] == [
        ("turn", None, "COMPLETED"),
        ("tool", "lookup_company", "COMPLETED"),
        ("tool", "count", "COMPLETED"),
        ("turn", None, "COMPLETED"),
        ("tool", "crm", "COMPLETED"),
        ("turn", None, "COMPLETED"),
        ("tool", "final_answer", "COMPLETED"),
    ]
    decided = next(a for a in run["approvals"] if a["id"] == approval["id"])
    assert decided["status"] == "APPROVED" and decided["output"] == {"company": "Acme Corporation", "stage": "lead"}
    assert entries[4]["approvalId"] == approval["id"]
    assert step["usage"]["total_tokens"] == sum(e["usage"]["total_tokens"] for e in entries if e["usage"])


async def test_an_mcp_tool_that_does_not_exist_names_the_server_and_its_tools(
    api: httpx.AsyncClient, flowyard_of: Flowyard, chat: ChatServer, web: LocalServer, tmp_path: Path
) -> None:
    workflow_id = await _setup(api, chat, web, tmp_path / "count.txt")
    config = {
        "base_url": chat.url,
        "model": "tiny",
        "tools": [{"type": "mcp", "server": "Test tools", "tools": ["nope"]}],
    }
    assert (await api.patch(f"{V1}/agents/qualifier", json={"config": config})).status_code == 200

    run = await finished_run(api, flowyard_of, (await start_run(api, workflow_id, {"domain": "x"}))["runId"])

    assert run["status"] == "FAILED"
    assert "MCP server 'Test tools' has no tool 'nope'" in run["error"] and "lookup_company" in run["error"]


async def test_an_agent_used_as_a_tool_cannot_be_deleted_and_the_refusal_names_who_uses_it(
    api: httpx.AsyncClient, chat: ChatServer, web: LocalServer, tmp_path: Path
) -> None:
    await _setup(api, chat, web, tmp_path / "count.txt")

    refused = await api.delete(f"{V1}/agents/crm")

    assert refused.status_code == 409
    assert "tool of agent(s) 'Qualifier' (qualifier)" in refused.text
    assert (await api.get(f"{V1}/agents/crm")).status_code == 200
