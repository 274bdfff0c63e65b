"""Offering a workflow to MCP clients, by mouse in a real Chromium: the editor's ⋮ → Workflow settings → the switch
“Offer as a tool (MCP)”; then the MCP SDK's client finds the workflow at /mcp of the same server and calls it.
Screenshots in light and dark: `.screenshots/offer-as-tool-<nn>-<step>-<theme>.png`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from playwright.sync_api import Page, expect

from tests.conftest import AUTH
from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, log_in
from tests.e2e.test_accessibility import axe_violations, describe

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


def _shot(tab: Page, step: str, theme: str) -> None:
    """A screenshot, checked by axe-core (no serious or critical violation)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    tab.wait_for_timeout(250)
    tab.screenshot(path=str(SCREENSHOTS / f"offer-as-tool-{step}-{theme}.png"))
    found = describe(f"{step} ({theme})", axe_violations(tab))
    assert not found, "\n".join(found)


def _open_settings(tab: Page) -> None:
    tab.get_by_role("button", name="More actions").click()
    tab.get_by_text("Workflow settings").click()


async def _tools(url: str) -> tuple[list[str], object]:
    async with (
        httpx2.AsyncClient(headers=AUTH, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        names = [t.name for t in (await session.list_tools()).tools]
        result = await session.call_tool("daily_digest", {"topic": "rivers"})
        return names, result.structured_content


def test_an_editor_offers_a_workflow_as_a_tool_and_an_mcp_client_calls_it(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = api_post(server, "/workflows", {"name": "Daily digest", "description": "Sums up a topic."})["id"]
    api_post(server, f"/workflows/{workflow_id}/steps", {"agentId": "transform", "action": "About {{ input.topic }}"})

    page.goto(f"{server}/workflows/{workflow_id}")
    expect(page.locator(".vue-flow__node-agent").first).to_be_visible()
    _open_settings(page)
    switch = page.get_by_role("switch", name="Offer as a tool (MCP)")
    expect(switch).to_be_visible()
    expect(page.get_by_text("MCP clients reach Flowyard's tools at /mcp")).to_be_visible()
    expect(switch).not_to_be_checked()

    switch.click()

    expect(page.get_by_text("Offered to MCP clients as the tool “daily_digest”")).to_be_visible()
    expect(switch).to_be_checked()
    expect(page.get_by_text(f"{server}/mcp", exact=True)).to_be_visible()
    _shot(page, "01-offered", "light")
    page.keyboard.press("Escape")  # (the dialog covers the theme toggle)
    page.locator(".fy-theme-toggle").click()
    page.wait_for_timeout(900)  # (the theme's colours fade in)
    _open_settings(page)
    expect(switch).to_be_checked()  # as saved, when the dialog opens again
    _shot(page, "01-offered", "dark")

    with ThreadPoolExecutor(1) as thread:  # (Playwright's own event loop runs in this one)
        names, answer = thread.submit(lambda: asyncio.run(_tools(server))).result(timeout=60)
    assert names == ["daily_digest", "flowyard_run_status"]
    assert answer == {"runId": answer["runId"], "status": "COMPLETED", "output": "About rivers"}  # type: ignore[index]
