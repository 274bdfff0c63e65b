"""An agent step's loop, end to end: the real `flowyard serve`, a real Chromium, a local chat model that calls
tools and a local HTTP server behind the tools.

The agent looks two companies up at once (one lookup fails, and its next turn tries another domain), then
wants to notify sales: that tool needs approval, so the person opens the inbox, reads the conversation, edits
an argument in the form and approves; the agent answers. The run's page shows the loop, turn by turn.
Screenshots of the inbox item and of the loop, light and dark, at 1280x800 and 1024x700:
`.screenshots/agent-loop-<what>-<theme>-<width>.png` (the README's `assets/screenshots/agent-loop.png` is the
light run page at 1280x800).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, http, log_in
from tests.llm_server import ChatServer, Reply, ToolCall
from tests.servers import LocalServer

pytestmark = pytest.mark.slow

SIZES = ((1280, 800), (1024, 700))


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as model:
        yield model


@pytest.fixture
def outside() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def _arrange(url: str, chat: ChatServer, outside: LocalServer) -> str:
    api_post(url, "/agents", {
        "id": "lookup", "name": "Look up company", "kind": "http",
        "description": "Finds a company's size and industry by its web domain.",
        "config": {"url": f"{outside.url}/lookup/{{{{ input.domain }}}}"},
    })  # fmt: skip
    api_post(url, "/agents", {
        "id": "notify_sales", "name": "Notify sales", "kind": "http",
        "description": "Posts a short note about a company to the sales channel.",
        "config": {"url": f"{outside.url}/notify", "body": {
            "company": "{{ input.company }}", "note": "{{ input.note }}", "channel": "{{ input.channel }}"}},
    })  # fmt: skip
    api_post(url, "/agents", {
        "id": "researcher", "name": "Researcher", "kind": "agent",
        "config": {
            "base_url": chat.url, "model": "tiny", "stream": False, "retry_backoff_seconds": 0,
            "system_prompt": "You research companies for the sales team. Be brief.",
            "tools": [
                {"type": "agent", "agent_id": "lookup", "name": "lookup"},
                {"type": "agent", "agent_id": "notify_sales", "name": "notify_sales", "needs_approval": True},
            ],
        },
    })  # fmt: skip
    workflow_id: str = api_post(url, "/workflows", {"name": "Company research"})["id"]
    api_post(url, f"/workflows/{workflow_id}/steps", {
        "agentId": "researcher", "key": "research", "name": "Research the leads",
        "action": "Research {{ input.domains | join(', ') }} and tell sales about the best fit.",
    })  # fmt: skip
    return workflow_id


def _script(chat: ChatServer, outside: LocalServer) -> None:
    outside.reply("/lookup/acme.io", (200, {"company": "Acme Robotics", "employees": 40, "industry": "robotics"}))
    outside.reply("/lookup/beta.io", (503, {"error": "upstream timeout"}))
    outside.reply("/lookup/www.beta.io", (200, {"company": "Beta Foods", "employees": 1200, "industry": "food"}))
    outside.reply("/notify", (200, {"ok": True}))
    chat.script(
        Reply(
            text="I'll look up both domains first.",
            tool_calls=[
                ToolCall("lookup", {"domain": "acme.io"}, id="c1"),
                ToolCall("lookup", {"domain": "beta.io"}, id="c2"),
            ],
        ),
        Reply(
            text="The beta.io lookup failed; I'll try its www domain.",
            tool_calls=[ToolCall("lookup", {"domain": "www.beta.io"}, id="c3")],
        ),
        Reply(
            text="Acme Robotics is the best fit. I'll let sales know.",
            tool_calls=[
                ToolCall(
                    "notify_sales",
                    {"company": "Acme Robotics", "note": "40 people, robotics: a good fit.", "channel": "general"},
                    id="c4",
                )
            ],
        ),
        "Acme Robotics (40 people, robotics) is the best fit; Beta Foods is too large. Sales has been told.",
    )


def _theme(tab: Page, theme: str) -> None:
    body, toggle = tab.locator("body"), tab.locator(".fy-theme-toggle")
    for _ in range(3):
        shown = "body--dark" in (body.get_attribute("class") or "")
        if shown == (theme == "dark") and "brightness_auto" not in toggle.inner_text():
            tab.mouse.move(1, 300)  # away from the toggle: its tooltip would cover the page
            tab.wait_for_timeout(200)
            return
        toggle.click()
        tab.wait_for_timeout(200)
    raise AssertionError(f"the toggle did not switch to the {theme} theme")


def _shots(tab: Page, what: str, ready: str, scroll_to: str | None = None) -> None:
    """The page in both themes at both sizes: `.screenshots/agent-loop-<what>-<theme>-<width>.png`."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for theme in ("light", "dark"):
        _theme(tab, theme)
        for width, height in SIZES:
            tab.set_viewport_size({"width": width, "height": height})
            expect(tab.locator(ready).first).to_be_visible()
            if scroll_to is not None:
                tab.evaluate(f"document.querySelector({scroll_to!r}).scrollIntoView({{block: 'start'}})")
            tab.wait_for_timeout(300)
            tab.screenshot(path=str(SCREENSHOTS / f"agent-loop-{what}-{theme}-{width}.png"))
            if width == SIZES[0][0] and scroll_to is None:  # and all of it, to read what lies below the fold
                tab.screenshot(path=str(SCREENSHOTS / f"agent-loop-{what}-{theme}-full.png"), full_page=True)
    _theme(tab, "light")


def _status(url: str, run_id: str) -> str:
    status: str = http.get(f"{url}/api/v1/workflows/runs/{run_id}", timeout=5).json()["status"]
    return status


def test_a_tool_call_is_approved_with_an_edit_and_the_loop_shows_on_the_run_page(
    server: str,
    chat: ChatServer,
    outside: LocalServer,
    page: Page,  # noqa: F811
) -> None:
    workflow_id = _arrange(server, chat, outside)
    _script(chat, outside)
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"domains": ["acme.io", "beta.io"]}})["runId"]
    deadline = time.monotonic() + 20
    while _status(server, run_id) != "PAUSED":
        assert time.monotonic() < deadline, "the run never paused for the tool call"
        time.sleep(0.2)

    # --- the run's page while it waits: the call links to the inbox ---
    page.goto(f"{server}/runs/{run_id}")
    expect(page.get_by_text("waiting for approval", exact=True)).to_be_visible()
    page.evaluate("document.querySelector('.fy-loop-step').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "agent-loop-run-waiting-light-1280.png"))

    # --- the inbox: the proposed call, in a form, with the conversation so far ---
    page.goto(f"{server}/inbox")
    expect(page.get_by_text("The agent wants to call a tool")).to_be_visible()
    expect(page.get_by_text("calls notify_sales", exact=False).first).to_be_visible()
    _shots(page, "inbox", ".fy-tool-card")

    channel = page.get_by_label("Channel")
    channel.fill("")
    channel.press_sequentially("sales-leads", delay=40)
    expect(page.get_by_role("button", name="Approve with edits")).to_be_visible()
    page.get_by_role("button", name="Approve with edits").click()
    expect(page.get_by_text("Approved with edits: the agent goes on")).to_be_visible()
    expect(page.get_by_text("(edited)", exact=False).first).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "agent-loop-inbox-decided-light-1024.png"))

    deadline = time.monotonic() + 20
    while _status(server, run_id) != "COMPLETED":
        assert time.monotonic() < deadline, "the run never finished"
        time.sleep(0.2)
    assert outside.calls_to("/notify")[0].json()["channel"] == "sales-leads"

    # --- the run's page: the loop, turn by turn ---
    page.goto(f"{server}/runs/{run_id}")
    loop = page.locator(".fy-loop-step")
    expect(loop.get_by_text("4 turns · 4 tool calls", exact=False)).to_be_visible()
    expect(loop.get_by_text("approved by ada@example.com (edited)")).to_be_visible()
    expect(loop.get_by_text("503", exact=False).first).to_be_visible()
    _shots(page, "run", ".fy-loop-step", scroll_to=".fy-loop-step")

    # --- the step selected: its panel sums the loop up and leads to it ---
    page.set_viewport_size({"width": 1280, "height": 800})
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(".vue-flow__node").first.click()
    expect(page.get_by_role("button", name="Show the loop")).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOTS / "agent-loop-run-panel-light-1280.png"))
    page.get_by_role("button", name="Show the loop").click()
    expect(page.locator(".fy-loop-step")).to_be_in_viewport()


def test_a_reached_token_budget_is_allowed_in_the_inbox(
    server: str,
    chat: ChatServer,
    outside: LocalServer,
    page: Page,  # noqa: F811
) -> None:
    _arrange(server, chat, outside)
    api_post(server, "/agents", {
        "id": "spender", "name": "Spender", "kind": "agent",
        "config": {"base_url": chat.url, "model": "tiny", "stream": False, "retry_backoff_seconds": 0,
                   "token_budget": 6, "on_budget": "ask",
                   "tools": [{"type": "agent", "agent_id": "lookup", "name": "lookup"}]},
    })  # fmt: skip
    workflow_id: str = api_post(server, "/workflows", {"name": "Budgeted research"})["id"]
    api_post(server, f"/workflows/{workflow_id}/steps", {
        "agentId": "spender", "key": "research", "name": "Research on a budget", "action": "Research {{ input }}",
    })  # fmt: skip
    outside.reply("/lookup/acme.io", (200, {"company": "Acme Robotics"}))
    chat.script(Reply(text="Looking.", tool_calls=[ToolCall("lookup", {"domain": "acme.io"}, id="c1")]), "Done.")
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": "acme.io and more"})["runId"]
    deadline = time.monotonic() + 20
    while _status(server, run_id) != "PAUSED":
        assert time.monotonic() < deadline, "the run never paused at its budget"
        time.sleep(0.2)

    page.goto(f"{server}/inbox")
    expect(page.get_by_text("more?", exact=False)).to_be_visible()
    _shots(page, "budget", ".fy-budget")
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Allowed: the agent goes on")).to_be_visible()
    deadline = time.monotonic() + 20
    while _status(server, run_id) != "COMPLETED":
        assert time.monotonic() < deadline, http.get(f"{server}/api/v1/workflows/runs/{run_id}", timeout=5).text
        time.sleep(0.2)


def test_a_turns_text_streams_into_the_loop(
    server: str,
    chat: ChatServer,
    outside: LocalServer,
    page: Page,  # noqa: F811
) -> None:
    _arrange(server, chat, outside)
    api_post(server, "/agents", {
        "id": "writer", "name": "Writer", "kind": "agent",
        "config": {"base_url": chat.url, "model": "tiny", "stream": True, "retry_backoff_seconds": 0,
                   "tools": [{"type": "agent", "agent_id": "lookup", "name": "lookup"}]},
    })  # fmt: skip
    workflow_id: str = api_post(server, "/workflows", {"name": "Company brief"})["id"]
    api_post(server, f"/workflows/{workflow_id}/steps", {
        "agentId": "writer", "key": "brief", "name": "Write the brief", "action": "Write a brief on {{ input }}",
    })  # fmt: skip
    outside.reply("/lookup/acme.io", (200, {"company": "Acme Robotics", "employees": 40}))
    chat.script(
        Reply(text="Looking Acme up first.", tool_calls=[ToolCall("lookup", {"domain": "acme.io"}, id="c1")]),
        Reply(text="Acme Robotics builds warehouse robots with a team of forty, and sells in Europe.", pace=0.25),
    )
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": "acme.io"})["runId"]
    page.goto(f"{server}/runs/{run_id}")

    live = page.locator(".fy-loop__text--live")
    expect(live).to_contain_text("Acme Robotics builds", timeout=15_000)
    page.evaluate("document.querySelector('.fy-loop-step').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(SCREENSHOTS / "agent-loop-run-streaming-light-1280.png"))
    expect(page.locator(".fy-loop__text").last).to_contain_text("sells in Europe.", timeout=20_000)
    expect(page.locator(".fy-loop-step").get_by_text("the answer")).to_be_visible()
