"""An LLM agent from scratch, end to end: the real `flowyard serve`, a real Chromium, a real OpenAI-compatible
chat server and an HTTP API on 127.0.0.1.

The person adds a credential, creates an `llm` agent that uses it, tests it on the agent's page, drops it onto
a workflow's canvas after an `http` step and connects the two, runs the workflow and watches the answer
stream into the run page, then sees the token count on the node. Screenshots: `.screenshots/agents-<nn>-*.png`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, log_in
from tests.llm_server import ChatServer, Reply
from tests.servers import LocalServer

pytestmark = pytest.mark.slow

KEY = "sk-journey-4c1d8e2f"
ANSWER = "Ada is the CTO of Acme, a 500-person company: a strong fit for the enterprise plan."


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as local:
        yield local


@pytest.fixture
def crm() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def _field(tab: Page, label: str) -> Any:
    """The input of a form field by its label (Quasar fields label their native input)."""
    return tab.get_by_label(label, exact=True)


def _add_credential(tab: Page, server: str, shot: Shots) -> None:
    """(1) a credential, typed once."""
    tab.goto(f"{server}/credentials")
    expect(tab.get_by_text("No credentials yet")).to_be_visible()
    tab.get_by_role("button", name="New credential").click()
    _field(tab, "Name (how agents refer to it)").fill("local-llm")
    _field(tab, "Token or key").fill(KEY)
    tab.get_by_role("button", name="Save").click()
    expect(tab.get_by_text("Saved “local-llm”")).to_be_visible()
    shot("credential")


def _create_llm_agent(tab: Page, server: str, chat: ChatServer, shot: Shots) -> None:
    """(2) an llm agent that uses it."""
    tab.goto(f"{server}/agents")
    tab.get_by_role("button", name="New agent").click()
    dialog = tab.locator(".q-dialog")
    dialog.get_by_label("Kind").click()
    tab.get_by_role("option", name="LLM", exact=True).click()
    _field(tab, "Name").fill("Lead summary")
    dialog.get_by_role("button", name="Create").click()
    expect(tab).to_have_url(re.compile("/agents/lead_summary$"))
    _field(tab, "Base URL").fill(chat.url)
    _field(tab, "Model").fill("local-model")
    _field(tab, "Credential").click()  # a picker of the stored credentials
    tab.get_by_role("option", name=re.compile("^local-llm")).click()
    tab.get_by_role("button", name="Save").click()
    expect(tab.get_by_text("Saved", exact=True)).to_be_visible()
    shot("agent")


def _test_agent(tab: Page, chat: ChatServer, shot: Shots) -> None:
    """(3) tested on a sample input: the answer, the tokens, the key sent as a bearer token."""
    tab.locator(".fy-template-editor .cm-content").click()
    tab.keyboard.type("Summarize this lead in one sentence.")
    tab.get_by_role("button", name="Run test").click()
    expect(tab.get_by_text(re.compile(r"Output in .* · \d+ tokens"))).to_be_visible(timeout=10_000)
    expect(tab.get_by_text(ANSWER)).to_be_visible()
    assert chat.requests[-1].headers.get("authorization") == f"Bearer {KEY}"
    shot("tested")


def _build_workflow(tab: Page, server: str, lookup: str, shot: Shots) -> str:
    """(4) a workflow: an http lookup, then the llm agent dropped after it and connected. Returns its id."""
    workflow_id: str = api_post(server, "/workflows", {"name": "Lead brief"})["id"]
    api_post(
        server,
        f"/workflows/{workflow_id}/steps",
        {"agentId": "http", "key": "lookup", "action": f"GET {lookup}", "name": "Look the lead up"},
    )
    tab.goto(f"{server}/workflows/{workflow_id}")
    pane = tab.locator(".vue-flow__pane")
    expect(tab.locator(".vue-flow__node")).to_have_count(1)
    box = pane.bounding_box()
    assert box is not None
    item = tab.locator('[draggable="true"]').filter(has=tab.get_by_text("lead_summary", exact=True))
    item.drag_to(pane, target_position={"x": box["width"] * 0.75, "y": box["height"] * 0.2})
    expect(tab.locator(".vue-flow__node")).to_have_count(2)
    tab.wait_for_timeout(300)  # the drop's own animation ends
    source = tab.locator('.vue-flow__node[data-id="lookup"] .vue-flow__handle.source').bounding_box()
    target = tab.locator('.vue-flow__node[data-id="lead_summary"] .vue-flow__handle.target').bounding_box()
    assert source is not None and target is not None
    tab.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    tab.mouse.down()
    tab.mouse.move(source["x"] + 10, source["y"] + 10, steps=2)
    tab.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=12)
    tab.mouse.up()
    expect(tab.locator(".vue-flow__edge")).to_have_count(1)
    tab.locator('.vue-flow__node[data-id="lead_summary"]').click()
    tab.locator(".q-tab-panel .fy-template-editor .cm-content").first.click()
    tab.keyboard.type("Write a one-line brief of this lead for the sales team.")
    pane.click(position={"x": 10, "y": 10})  # leaving the editor applies the action
    tab.get_by_role("button", name="Save", exact=True).click()  # (Ctrl+S is the editor journey's)
    expect(tab.get_by_text("Saved · v")).to_be_visible()
    shot("workflow")
    return workflow_id


def _run_and_watch(tab: Page, server: str, workflow_id: str, chat: ChatServer, crm: LocalServer, shot: Shots) -> None:
    """(5) run it, and watch the answer stream in on the run page; then the tokens on the node."""
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"lead": "ada"}})["runId"]
    tab.goto(f"{server}/runs/{run_id}")
    node = tab.locator('.vue-flow__node[data-id="lead_summary"]')
    node.click()
    stream = tab.locator(".fy-stream")
    expect(stream).to_contain_text("Acme", timeout=10_000)  # part of the answer, while the step still runs
    expect(node.locator(".fy-node")).to_have_class(re.compile(r"\bfy-status--running\b"))
    shot("streaming")
    expect(node.locator(".fy-node")).to_have_class(re.compile(r"\bfy-status--completed\b"), timeout=15_000)
    expect(node.locator(".fy-badge--note")).to_have_text(re.compile(r"^\d+ tokens$"))
    expect(tab.locator(".fy-page-header").get_by_text(re.compile(r"\d+ tokens"))).to_be_visible()
    expect(tab.get_by_text(ANSWER).first).to_be_visible()
    shot("completed")
    assert crm.hits["/leads/ada"] == 1
    brief = chat.requests[-1].messages[-1]["content"]
    assert "Acme" in brief  # the llm step got the http step's output as its content


def test_credential_llm_agent_test_workflow_run_stream_and_tokens(
    server: str,
    chat: ChatServer,
    crm: LocalServer,
    page: Page,  # noqa: F811
) -> None:
    shot = Shots(page, "agents")
    chat.script(Reply(text=ANSWER, pace=0.4))  # slow enough to watch even on a loaded machine
    lookup = crm.reply("/leads/ada", (200, {"name": "Ada", "company": "Acme", "title": "CTO", "size": 500}))

    _add_credential(page, server, shot)
    _create_llm_agent(page, server, chat, shot)
    _test_agent(page, chat, shot)
    workflow_id = _build_workflow(page, server, lookup, shot)
    _run_and_watch(page, server, workflow_id, chat, crm, shot)
