"""An agent's tools on its page, in a real Chromium: chosen by mouse, seen in both themes and on two window sizes.

The real `flowyard serve`, the test MCP server of tests/mcp_servers started by command, a saved `http` agent.
Screenshots: `.screenshots/agent-tools-<theme>-<width>x<height>.png` (the window), `…-list.png` (the tools) and
`agent-tools-inspector-<theme>-1280x800.png` (an agent step's tools in the editor).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, http, log_in
from tests.e2e.test_accessibility import axe_violations, describe

pytestmark = pytest.mark.slow

TOOLS_SERVER = Path(__file__).parents[1] / "mcp_servers" / "tools_server.py"
SIZES = ((1280, 800), (1024, 700))


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


def _arrange(url: str) -> str:
    """An MCP server whose tools were listed and a saved http agent."""
    body = {"name": "company-tools", "transport": "stdio", "command": sys.executable, "args": [str(TOOLS_SERVER)]}
    server_id: str = api_post(url, "/mcp-servers", body)["id"]
    listed = http.get(f"{url}/api/v1/mcp-servers/{server_id}/tools", timeout=30)
    assert listed.status_code == 200, listed.text
    api_post(url, "/agents", {"id": "crm_lookup", "name": "CRM lookup", "kind": "http",
                              "config": {"url": "http://127.0.0.1:9/lookup"}})  # fmt: skip
    return server_id


def _choose_theme(tab: Page, theme: str) -> None:
    """With the header's toggle, as a person would."""
    body, toggle = tab.locator("body"), tab.locator(".fy-theme-toggle")
    for _ in range(3):
        shown = "body--dark" in (body.get_attribute("class") or "")
        if shown == (theme == "dark") and "brightness_auto" not in toggle.inner_text():
            return
        toggle.click()
        tab.wait_for_timeout(200)
    raise AssertionError(f"the toggle did not switch to the {theme} theme")


def _create_agent(tab: Page, url: str) -> None:
    """(1) New agent → kind Agent (said what it is before it is created) → its page, with no tools yet."""
    tab.set_viewport_size({"width": 1280, "height": 800})
    tab.goto(f"{url}/agents")
    tab.get_by_role("button", name="New agent").click()
    dialog = tab.locator(".q-dialog")
    dialog.get_by_label("Kind").click()
    tab.get_by_role("option", name="Agent", exact=True).click()
    expect(dialog.get_by_text(re.compile("^A chat model that calls tools"))).to_be_visible()
    dialog.get_by_label("Name", exact=True).press_sequentially("Researcher", delay=20)
    tab.wait_for_timeout(300)
    SCREENSHOTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "agent-tools-new-agent-light-1280x800.png"))
    dialog.get_by_role("button", name="Create").click()
    expect(tab).to_have_url(re.compile("/agents/researcher$"))
    expect(tab.get_by_text("No tools yet")).to_be_visible()


def _choose_tools(tab: Page) -> None:
    """(2) Two of the MCP server's tools, one needing approval, and the saved http agent, renamed, by mouse."""
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
    tab.get_by_role("option", name="CRM lookup · HTTP request").click()
    expect(tab.locator(".q-select__focus-target:focus")).to_have_count(1)  # the picker's menu gave the focus back
    tab.get_by_label("Tool name (optional)").press_sequentially("crm", delay=40)
    tab.get_by_role("switch", name="Needs approval (a person approves every call)").click()
    tab.get_by_role("button", name="Save", exact=True).click()
    expect(tab.get_by_text("Saved", exact=True)).to_be_visible()


def _add_and_remove_by_keyboard(tab: Page) -> None:
    """(3) Add tool → Workflow (Enter) puts the focus in the new tool's picker; its Remove is a Tab away and gives
    the focus back to Add tool."""
    tab.get_by_role("button", name="Add tool").focus()
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("menu")).to_be_focused()
    tab.keyboard.press("Tab")  # Saved agent
    tab.keyboard.press("Tab")
    expect(tab.get_by_role("menuitem", name="Workflow")).to_be_focused()
    tab.keyboard.press("Enter")
    expect(tab.locator(".q-select__focus-target:focus")).to_have_count(1)
    expect(tab.get_by_text("No workflows")).to_be_visible()  # (there is none to choose yet)
    tab.keyboard.press("Tab")
    expect(tab.get_by_role("button", name="Remove tool 3 (Workflow)")).to_be_focused()
    tab.keyboard.press("Enter")
    expect(tab.get_by_role("button", name="Remove tool 3 (Workflow)")).to_have_count(0)
    expect(tab.get_by_role("button", name="Add tool")).to_be_focused()


def _screenshots(tab: Page, url: str) -> list[str]:
    """(4) The agent's page in both themes on both window sizes, and an agent step's inspector; what axe-core
    finds wrong with the agent's page (serious or critical), one line each."""
    problems: list[str] = []
    for theme in ("light", "dark"):
        tab.goto(f"{url}/workflows")
        _choose_theme(tab, theme)
        for width, height in SIZES:
            tab.set_viewport_size({"width": width, "height": height})
            tab.goto(f"{url}/agents/researcher")
            expect(tab.get_by_text("lookup_company", exact=True)).to_be_visible()
            tab.get_by_text("Tools", exact=True).scroll_into_view_if_needed()
            tab.wait_for_timeout(300)
            name = f"agent-tools-{theme}-{width}x{height}"
            tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
            tab.locator(".fy-tools").screenshot(path=str(SCREENSHOTS / f"{name}-list.png"))
            problems += describe(name, axe_violations(tab))

    workflow_id: str = api_post(url, "/workflows", {"name": "Company research"})["id"]
    step = {"agentId": "researcher", "key": "research", "action": "Research {{ input }}"}
    api_post(url, f"/workflows/{workflow_id}/steps", step)
    tab.set_viewport_size({"width": 1280, "height": 800})
    for theme in ("dark", "light"):
        _choose_theme(tab, theme)
        tab.goto(f"{url}/workflows/{workflow_id}")
        tab.locator('.vue-flow__node[data-id="research"]').click()
        inspector = tab.locator(".nicegui-column.w-96")
        expect(inspector.get_by_text("lookup_company", exact=True)).to_be_visible()  # the agent's tools, inherited
        inspector.get_by_text("Tools", exact=True).scroll_into_view_if_needed()
        tab.wait_for_timeout(300)
        tab.screenshot(path=str(SCREENSHOTS / f"agent-tools-inspector-{theme}-1280x800.png"))
    return problems


def test_choose_an_agents_tools_by_mouse_and_see_them_in_both_themes(page: Page, server: str) -> None:  # noqa: F811
    server_id = _arrange(server)
    _create_agent(page, server)
    _choose_tools(page)
    _add_and_remove_by_keyboard(page)

    agent = http.get(f"{server}/api/v1/agents/researcher").json()
    assert agent["config"]["tools"] == [
        {"type": "mcp", "server": server_id, "tools": ["add", "lookup_company"], "approve_tools": ["lookup_company"]},
        {"type": "agent", "agent_id": "crm_lookup", "name": "crm", "needs_approval": True},
    ]
    problems = _screenshots(page, server)
    assert not problems, "\n".join(problems)
