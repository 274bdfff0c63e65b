"""The MCP servers page in a real Chromium, by mouse and keyboard: add the test's stdio server (command,
arguments, a secret environment variable), connect and list its tools, open one, test-call it.

Screenshots: `.screenshots/mcp-<nn>-<step>-<theme>.png` (light and dark; the README's
`assets/screenshots/mcp-servers.png` is `mcp-03-tools-light.png`).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page, settle  # noqa: F401  (fixtures)
from tests.e2e.conftest import http, log_in
from tests.e2e.test_accessibility import axe_violations, describe
from tests.mcp_servers import STDIO_ARGS, STDIO_COMMAND

pytestmark = pytest.mark.slow

HUMAN_MS = 15
SECRET = "env-secret-e2e-42ab"


@pytest.fixture
def server(shared_server: str, page: Page) -> str:  # noqa: F811
    log_in(page, shared_server)
    return shared_server


def _shot(page: Page, name: str) -> None:  # noqa: F811
    """A screenshot in light and dark mode (the header's theme toggle), back in light mode after; axe-core finds no
    serious or critical violation in either."""
    SCREENSHOTS.mkdir(exist_ok=True)
    found: list[str] = []
    for theme in ("light", "dark"):
        if theme == "dark":
            page.locator(".fy-theme-toggle").click()
        page.wait_for_timeout(300)
        expect(page.locator(".q-loading-bar:not([aria-hidden='true'])")).to_have_count(0)  # (the toggle's save ended)
        settle(page)
        page.screenshot(path=str(SCREENSHOTS / f"mcp-{name}-{theme}.png"))
        found += describe(f"{name} ({theme})", axe_violations(page))
    page.locator(".fy-theme-toggle").click()
    page.wait_for_timeout(150)
    assert not found, "\n".join(found)


def test_add_a_server_list_its_tools_and_test_one(server: str, page: Page) -> None:  # noqa: F811
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server}/mcp-servers")
    expect(page.get_by_text("No MCP servers yet")).to_be_visible()
    _shot(page, "01-empty")

    page.get_by_role("button", name="Add server").click()
    dialog = page.locator(".q-dialog .q-card")
    dialog.get_by_label("Name (how steps refer to it)").press_sequentially("tools", delay=HUMAN_MS)
    dialog.get_by_label("Description").press_sequentially("Flowyard's test tools", delay=HUMAN_MS)
    dialog.get_by_label("Command", exact=True).press_sequentially(STDIO_COMMAND, delay=HUMAN_MS)
    dialog.get_by_label("Arguments, one per line").press_sequentially(STDIO_ARGS[0], delay=HUMAN_MS)
    dialog.get_by_role("button", name="Add variable").click()
    dialog.get_by_role("textbox", name="Variable").press_sequentially("MCP_SECRET", delay=HUMAN_MS)
    dialog.get_by_label("Value", exact=True).press_sequentially(SECRET, delay=HUMAN_MS)
    page.screenshot(path=str(SCREENSHOTS / "mcp-02-add-light.png"))
    dialog.get_by_role("button", name="Save").click()

    expect(page.locator(".q-dialog")).to_have_count(0)
    row = page.locator(".fy-list__row").filter(has_text="tools")
    expect(row).to_be_visible()
    row.locator(".fy-list__cells").click()
    page.get_by_role("button", name="Connect and list tools").click()
    expect(page.get_by_text("lookup_company", exact=True)).to_be_visible(timeout=20_000)
    expect(row.get_by_text("9", exact=True)).to_be_visible()
    tool = page.locator(".fy-mcp-tool").filter(has_text="lookup_company")
    tool.get_by_role("button", name="Schema").click()
    expect(tool.get_by_text('"lookup_companyArguments"')).to_be_visible()
    expect(page.locator(".q-notification")).to_have_count(0, timeout=15_000)  # (the notices have gone)
    _shot(page, "03-tools")

    for theme in ("light", "dark"):  # (a dialog's backdrop covers the theme toggle: switch before opening it)
        if theme == "dark":
            page.locator(".fy-theme-toggle").click()
        page.locator(".fy-mcp-tool").filter(has_text="lookup_company").get_by_role("button", name="Test").click()
        dialog = page.locator(".q-dialog .q-card")
        dialog.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.type('{"domain": "acme.com"}', delay=HUMAN_MS)
        dialog.get_by_role("button", name="Call").click()
        expect(dialog.get_by_text("Result in")).to_be_visible(timeout=20_000)
        expect(dialog.get_by_text("Acme Corporation")).to_be_visible()
        page.wait_for_timeout(300)
        settle(page)
        page.screenshot(path=str(SCREENSHOTS / f"mcp-04-test-{theme}.png"))
        assert not (found := describe(f"test dialog ({theme})", axe_violations(page))), "\n".join(found)
        dialog.get_by_role("button", name="Cancel").click()
        expect(page.locator(".q-dialog")).to_have_count(0)

    page.locator(".fy-theme-toggle").click()  # (back to the light theme)
    page.set_viewport_size({"width": 1024, "height": 700})  # a narrow window still shows the list and the tools
    _shot(page, "05-narrow")

    [saved] = http.get(f"{server}/api/v1/mcp-servers", timeout=5).json()
    assert saved["envNames"] == ["MCP_SECRET"]
    assert SECRET not in page.content()
