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
from tests.e2e.conftest import api_post, flowyard_server, free_port
from tests.llm_server import ChatServer, Reply
from tests.servers import LocalServer

pytestmark = pytest.mark.slow

KEY = "sk-journey-4c1d8e2f"
ANSWER = "Ada is the CTO of Acme, a 500-person company: a strong fit for the enterprise plan."


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        yield f"http://127.0.0.1:{port}"


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


def test_credential_llm_agent_test_workflow_run_stream_and_tokens(
    server: str,
    chat: ChatServer,
    crm: LocalServer,
    page: Page,  # noqa: F811
) -> None:
    shot = Shots(page, "agents")
    chat.script(Reply(text=ANSWER, pace=0.4))  # slow enough to watch even on a loaded machine
    lookup = crm.reply("/leads/ada", (200, {"name": "Ada", "company": "Acme", "title": "CTO", "size": 500}))

    # --- (1) a credential, typed once ---
    page.goto(f"{server}/credentials")
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    page.get_by_role("button", name="New credential").click()
    _field(page, "Name (how agents refer to it)").fill("local-llm")
    _field(page, "Token or key").fill(KEY)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “local-llm”")).to_be_visible()
    shot("credential")

    # --- (2) an llm agent that uses it ---
    page.goto(f"{server}/agents")
    page.get_by_role("button", name="New agent").click()
    dialog = page.locator(".q-dialog")
    dialog.get_by_label("Kind").click()
    page.get_by_role("option", name="LLM", exact=True).click()
    _field(page, "Name").fill("Lead summary")
    dialog.get_by_role("button", name="Create").click()
    expect(page).to_have_url(re.compile("/agents/lead_summary$"))
    _field(page, "Base Url").fill(chat.url)
    _field(page, "Model").fill("local-model")
    _field(page, "Credential").fill("local-llm")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved", exact=True)).to_be_visible()
    shot("agent")

    # --- (3) tested on a sample input: the answer, the tokens, the key sent as a bearer token ---
    page.locator(".fy-template-editor .cm-content").click()
    page.keyboard.type("Summarize this lead in one sentence.")
    page.get_by_role("button", name="Run test").click()
    expect(page.get_by_text(re.compile(r"Output in .* · \d+ tokens"))).to_be_visible(timeout=10_000)
    expect(page.get_by_text(ANSWER)).to_be_visible()
    assert chat.requests[-1].headers.get("authorization") == f"Bearer {KEY}"
    shot("tested")

    # --- (4) a workflow: an http lookup, then the llm agent dropped after it and connected ---
    workflow_id = api_post(server, "/workflows", {"name": "Lead brief"})["id"]
    api_post(
        server,
        f"/workflows/{workflow_id}/steps",
        {"agentId": "http", "key": "lookup", "action": f"GET {lookup}", "name": "Look the lead up"},
    )
    page.goto(f"{server}/workflows/{workflow_id}")
    pane = page.locator(".vue-flow__pane")
    expect(page.locator(".vue-flow__node")).to_have_count(1)
    box = pane.bounding_box()
    assert box is not None
    item = page.locator('[draggable="true"]').filter(has=page.get_by_text("lead_summary", exact=True))
    item.drag_to(pane, target_position={"x": box["width"] * 0.75, "y": box["height"] * 0.2})
    expect(page.locator(".vue-flow__node")).to_have_count(2)
    page.wait_for_timeout(300)  # the drop's own animation ends
    source = page.locator('.vue-flow__node[data-id="lookup"] .vue-flow__handle.source').bounding_box()
    target = page.locator('.vue-flow__node[data-id="lead_summary"] .vue-flow__handle.target').bounding_box()
    assert source is not None and target is not None
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(source["x"] + 10, source["y"] + 10, steps=2)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=12)
    page.mouse.up()
    expect(page.locator(".vue-flow__edge")).to_have_count(1)
    page.locator('.vue-flow__node[data-id="lead_summary"]').click()
    page.locator(".q-tab-panel .fy-template-editor .cm-content").first.click()
    page.keyboard.type("Write a one-line brief of this lead for the sales team.")
    pane.click(position={"x": 10, "y": 10})  # leaving the editor applies the action
    page.get_by_role("button", name="Save", exact=True).click()  # (Ctrl+S is the editor journey's)
    expect(page.get_by_text("Saved · v")).to_be_visible()
    shot("workflow")

    # --- (5) run it, and watch the answer stream in on the run page; then the tokens on the node ---
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"lead": "ada"}})["runId"]
    page.goto(f"{server}/runs/{run_id}")
    node = page.locator('.vue-flow__node[data-id="lead_summary"]')
    node.click()
    stream = page.locator(".fy-stream")
    expect(stream).to_contain_text("Acme", timeout=10_000)  # part of the answer, while the step still runs
    expect(node.locator(".fy-node")).to_have_class(re.compile(r"\bfy-status--running\b"))
    shot("streaming")
    expect(node.locator(".fy-node")).to_have_class(re.compile(r"\bfy-status--completed\b"), timeout=15_000)
    expect(node.locator(".fy-badge--note")).to_have_text(re.compile(r"^\d+ tokens$"))
    expect(page.locator(".fy-page-header").get_by_text(re.compile(r"\d+ tokens"))).to_be_visible()
    expect(page.get_by_text(ANSWER).first).to_be_visible()
    shot("completed")
    assert crm.hits["/leads/ada"] == 1
    brief = chat.requests[-1].messages[-1]["content"]
    assert "Acme" in brief  # the llm step got the http step's output as its content
