"""Issue 14's journey, by mouse, in a real Chromium against the real `flowyard serve`: add an MCP server (the
test's stdio server, made with the official SDK) → make an agent with two of its tools, one needing approval,
and a saved `http` agent as a third tool, answering in a JSON schema → run a workflow whose step is that agent,
from the editor → watch the loop live on the run's page → the tool call waits in the inbox with its arguments →
edit them and approve → the run completes with the structured answer; the step shows its tokens and each call.

The model is a local OpenAI-compatible server on 127.0.0.1 that streams its text and its tool calls.
Screenshots: `.screenshots/act-<nn>-<what>.png`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, http, log_in
from tests.llm_server import ChatRequest, ChatServer, Reply, ToolCall
from tests.mcp_servers import STDIO_ARGS, STDIO_COMMAND
from tests.servers import LocalServer

pytestmark = pytest.mark.slow

HUMAN_MS = 15
ANSWER = {"fit": {"type": "boolean"}, "employees": {"type": "integer"}}
SCHEMA = json.dumps({"type": "object", "properties": ANSWER, "required": ["fit"]})


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as model:
        yield model


@pytest.fixture
def outside() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def _model(request: ChatRequest) -> Reply:
    """Looks the company up and asks the CRM at once; then answers with what the lookup said."""
    results = request.tool_results()
    if not results:
        return Reply(
            text="Let me look the company up and check the CRM.",
            pace=0.15,
            tool_calls=[
                ToolCall("lookup_company", {"domain": "acme.co"}, id="c1"),
                ToolCall("crm", {"company": "Acme"}, id="c2"),
            ],
        )
    lookup = json.loads(next(r["content"] for r in results if r["tool_call_id"] == "c1"))
    return Reply(tool_calls=[ToolCall("final_answer", {"fit": True, "employees": lookup["employees"]}, id="c3")])


def _shot(tab: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    tab.wait_for_timeout(250)
    tab.screenshot(path=str(SCREENSHOTS / f"act-{name}.png"))


def _add_mcp_server(tab: Page, url: str) -> None:
    tab.goto(f"{url}/mcp-servers")
    tab.get_by_role("button", name="Add server").click()
    dialog = tab.locator(".q-dialog .q-card")
    dialog.get_by_label("Name (how steps refer to it)").press_sequentially("company-tools", delay=HUMAN_MS)
    dialog.get_by_label("Command", exact=True).press_sequentially(STDIO_COMMAND, delay=HUMAN_MS)
    dialog.get_by_label("Arguments, one per line").press_sequentially(STDIO_ARGS[0], delay=HUMAN_MS)
    dialog.get_by_role("button", name="Save").click()
    expect(tab.locator(".q-dialog")).to_have_count(0)
    row = tab.locator(".fy-list__row").filter(has_text="company-tools")
    row.locator(".fy-list__cells").click()
    tab.get_by_role("button", name="Connect and list tools").click()
    expect(tab.get_by_text("lookup_company", exact=True)).to_be_visible(timeout=20_000)
    _shot(tab, "01-mcp-server")


def _type_into(tab: Page, label: str | re.Pattern[str], text: str) -> None:
    field = tab.get_by_label(label, exact=True) if isinstance(label, str) else tab.get_by_label(label)
    field.click()
    field.press("Control+a")
    field.press("Backspace")
    field.press_sequentially(text, delay=HUMAN_MS if len(text) < 60 else 2)


def _make_agent(tab: Page, url: str, chat: ChatServer) -> None:
    tab.goto(f"{url}/agents")
    tab.get_by_role("button", name="New agent").click()
    dialog = tab.locator(".q-dialog")
    dialog.get_by_label("Kind").click()
    tab.get_by_role("option", name="Agent", exact=True).click()
    dialog.get_by_label("Name", exact=True).press_sequentially("Qualifier", delay=HUMAN_MS)
    dialog.get_by_role("button", name="Create").click()
    expect(tab).to_have_url(re.compile("/agents/qualifier$"))
    _shot(tab, "02a-new-agent")

    _type_into(tab, "Base URL", chat.url)
    _type_into(tab, "Model", "tiny")
    _type_into(tab, "System Prompt", "You qualify companies for the sales team.")
    _type_into(tab, "JSON schema of the answer", SCHEMA)

    tab.get_by_role("button", name="Add tool").click()
    tab.get_by_role("menuitem", name="MCP server").click()
    tab.get_by_label("MCP server for tool 1").click()
    tab.get_by_role("option", name="company-tools").click()
    expect(tab.get_by_text("lookup_company", exact=True)).to_be_visible()
    tab.get_by_role("switch", name="Every tool it offers, also ones it adds later").click()
    tab.get_by_role("checkbox", name="May call add", exact=True).click()
    tab.get_by_role("checkbox", name="May call lookup_company", exact=True).click()
    tab.get_by_role("checkbox", name="lookup_company needs approval", exact=True).click()

    tab.get_by_role("button", name="Add tool").click()
    tab.get_by_role("menuitem", name="Saved agent").click()
    tab.get_by_label("Saved agent for tool 2").click()
    tab.get_by_role("option", name="CRM · HTTP request").click()
    expect(tab.locator(".q-select__focus-target:focus")).to_have_count(1)  # the picker gave the focus back
    tab.get_by_label("Tool name (optional)").press_sequentially("crm", delay=40)
    tab.get_by_role("button", name="Save", exact=True).click()
    expect(tab.get_by_text("Saved", exact=True)).to_be_visible()
    _shot(tab, "02-agent")


def _status(url: str, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = http.get(f"{url}/api/v1/workflows/runs/{run_id}", timeout=5).json()
    return run


def test_an_agent_with_mcp_tools_is_made_run_watched_and_its_tool_call_approved_by_mouse(
    shared_server: str,
    chat: ChatServer,
    outside: LocalServer,
    page: Page,  # noqa: F811
) -> None:
    url = shared_server
    log_in(page, url)
    page.set_viewport_size({"width": 1280, "height": 860})
    chat.respond = _model
    outside.reply("/crm", (200, {"account": "Acme", "stage": "lead"}))
    api_post(url, "/agents", {"id": "crm", "name": "CRM", "kind": "http", "config": {"url": f"{outside.url}/crm"}})

    _add_mcp_server(page, url)
    _make_agent(page, url, chat)
    config = http.get(f"{url}/api/v1/agents/qualifier", timeout=5).json()["config"]
    assert [t["type"] for t in config["tools"]] == ["mcp", "agent"]
    assert config["tools"][0]["approve_tools"] == ["lookup_company"]

    workflow_id: str = api_post(url, "/workflows", {"name": "Qualify a lead"})["id"]
    step = {"agentId": "qualifier", "key": "qualify", "name": "Qualify", "action": "Qualify {{ input.domain }}"}
    api_post(url, f"/workflows/{workflow_id}/steps", step)

    # --- run it from the editor, and watch the loop on the run's page ---
    page.goto(f"{url}/workflows/{workflow_id}")
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.locator(".q-dialog")
    dialog.get_by_label("Domain *").press_sequentially("acme.co", delay=HUMAN_MS)
    dialog.get_by_role("button", name="Run", exact=True).click()
    expect(page.locator(".q-notification").filter(has_text="Run waiting for approval")).to_be_visible(timeout=20_000)
    (run,) = http.get(f"{url}/api/v1/workflows/{workflow_id}/runs", timeout=5).json()["content"]
    page.goto(f"{url}/runs/{run['id']}")
    loop = page.locator(".fy-loop-step")
    expect(loop.get_by_text("Let me look the company up and check the CRM.")).to_be_visible()
    expect(loop.get_by_text("waiting for approval", exact=True)).to_be_visible()
    expect(loop.get_by_text("crm", exact=True).first).to_be_visible()  # ran meanwhile: it needs no approval
    _shot(page, "03-run-waiting")

    # --- the inbox: the proposed call and its arguments, edited and approved ---
    page.locator(".fy-nav").get_by_role("link", name="Inbox").click()
    expect(page.get_by_text("The agent wants to call a tool")).to_be_visible()
    expect(page.get_by_text("lookup_company", exact=True).first).to_be_visible()
    _type_into(page, re.compile(r"^Domain"), "acme.com")
    _shot(page, "04-inbox-edited")
    page.get_by_role("button", name="Approve with edits").click()
    expect(page.get_by_text("Approved with edits: the agent goes on")).to_be_visible()

    deadline = time.monotonic() + 30
    while (ended := _status(url, run["id"]))["status"] != "COMPLETED":
        assert time.monotonic() < deadline, ended
        time.sleep(0.2)
    assert ended["output"] == {"fit": True, "employees": 1200}  # the edited domain is the one looked up

    # --- the finished loop: tokens, each call, the approval ---
    page.goto(f"{url}/runs/{run['id']}")
    loop = page.locator(".fy-loop-step")
    loop.scroll_into_view_if_needed()
    _shot(page, "05-run-done")
    expect(loop.get_by_text(re.compile(r"2 turns · 2 tool calls · \d+ tokens"))).to_be_visible()
    expect(loop.get_by_text("approved by ada@example.com (edited)")).to_be_visible()
    expect(loop.get_by_text("final answer", exact=True)).to_be_visible()
    (step_run,) = ended["nodes"]
    assert step_run["usage"]["total_tokens"] > 0
    assert [(e["kind"], e["tool"]) for e in step_run["loop"]] == [
        ("turn", None),
        ("tool", "lookup_company"),
        ("tool", "crm"),
        ("turn", None),
        ("tool", "final_answer"),
    ]
    assert outside.calls_to("/crm")[0].json() == {"company": "Acme"}
