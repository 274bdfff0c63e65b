"""Every page in light and in dark mode, checked by axe-core in a real Chromium: no serious or critical violations.

One `flowyard serve` with a little of everything (a workflow whose run waits for an approval, a finished run,
a schedule, an agent, a credential, a batch) and one browser. A logged-in context per theme picks its theme
with the header's toggle, as a person would; the login and set-up pages, which have no toggle, follow the
browser's colour scheme. Each page (and each dialog, menu and tab that draws something of its own) is loaded,
axe-core is injected (`components/graph_editor/node_modules/axe-core`, pinned in that package.json and
installed with the editor's bundle) and run; colour contrast is one of its rules. Screenshots of every check:
`.screenshots/a11y-<theme>-<page>.png`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.e2e.browser import ROOT, SCREENSHOTS, VIEWPORT, browser, settle  # noqa: F401  (fixture)
from tests.e2e.conftest import _add_admin, api_post, flowyard_server, free_port, http, log_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

AXE = ROOT / "components" / "graph_editor" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
THEMES = ("light", "dark")


@dataclass(frozen=True)
class Site:
    """The populated server: its URL and the ids the pages are opened with."""

    url: str
    workflow: str
    contacts: str
    paused_run: str
    finished_run: str
    agent: str
    batch: str


@dataclass(frozen=True)
class Check:
    """A page to check: its path (formatted with the `Site`), what shows it is built, and what to open on it."""

    name: str
    path: str
    ready: str
    then: Callable[[Page], None] | None = None


def _wait_for_run(url: str, run_id: str, statuses: set[str]) -> None:
    deadline = time.monotonic() + 20
    while (status := http.get(f"{url}/api/v1/workflows/runs/{run_id}").json()["status"]) not in statuses:
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(0.1)


def _populate(url: str) -> Site:
    """What a team has after a week: workflows, runs finished and waiting, a schedule, an agent, a secret, a batch."""
    workflow = api_post(url, "/workflows", {"name": "Lead follow-up", "description": "Draft, review, send"})["id"]
    for step in (
        {"agentId": "transform", "key": "draft", "name": "Draft the reply", "action": "Hi {{ input.lead }}!"},
        {"agentId": "approval", "key": "review", "name": "Review the draft", "action": "",
         "config": {"instructions": "Check the tone before it goes out."}},
        {"agentId": "transform", "key": "send", "name": "Send", "action": "{{ {'sent': input} }}"},
    ):  # fmt: skip
        api_post(url, f"/workflows/{workflow}/steps", step)
    finished = api_post(url, f"/workflows/{workflow}/run", {"input": {"lead": "Ada"}})["runId"]
    _wait_for_run(url, finished, {"PAUSED"})
    api_post(url, f"/workflows/runs/{finished}/resume", {"output": "Hello Ada, here is the deck."})
    _wait_for_run(url, finished, {"COMPLETED"})
    paused = api_post(url, f"/workflows/{workflow}/run", {"input": {"lead": "Grace"}})["runId"]
    _wait_for_run(url, paused, {"PAUSED"})
    api_post(url, f"/workflows/{workflow}/schedules", {"name": "Every morning", "cron": "0 8 * * 1-5"})

    contacts = api_post(url, "/workflows", {"name": "Enrich contacts"})["id"]
    api_post(url, f"/workflows/{contacts}/steps", {"agentId": "transform", "key": "tidy", "action": ""})
    csv = "email,company\nada@example.com,Analytical\ngrace@example.com,Navy\n"
    response = http.post(
        f"{url}/api/v1/workflows/{contacts}/batches", files={"file": ("contacts.csv", csv, "text/csv")}, timeout=5
    )
    assert response.status_code == 202, response.text
    agent = api_post(url, "/agents", {"id": "greeter", "name": "Greeter", "kind": "transform", "config": {}})["id"]
    api_post(url, "/credentials", {"name": "crm-key", "type": "bearer", "values": {"token": "s3cret-token"}})
    return Site(url, workflow, contacts, paused, finished, agent, response.json()["id"])


def _opens(target: Callable[[Page], Locator], shows: str) -> Callable[[Page], None]:
    """Click what `target` finds; wait until `shows` is visible (a dialog, a menu, a tab's content)."""

    def act(page: Page) -> None:
        target(page).first.click()
        expect(page.locator(shows).first).to_be_visible()

    return act


def _button(name: str, shows: str) -> Callable[[Page], None]:
    return _opens(lambda page: page.get_by_role("button", name=name, exact=True), shows)


def _tab(name: str, shows: str) -> Callable[[Page], None]:
    return _opens(lambda page: page.get_by_role("tab", name=name), shows)


def _node(key: str, shows: str) -> Callable[[Page], None]:
    return _opens(lambda page: page.locator(f'.vue-flow__node[data-id="{key}"]'), shows)


def _inspector(key: str, tab: str, shows: str) -> Callable[[Page], None]:
    """Select a step on the canvas, then open one of the inspector's tabs."""

    def act(page: Page) -> None:
        _node(key, ".q-tab-panel")(page)
        _tab(tab, shows)(page)

    return act


def _menu_item(item: str, shows: str) -> Callable[[Page], None]:
    def act(page: Page) -> None:
        page.get_by_role("button", name="More actions").first.click()
        page.locator(".q-menu .q-item").filter(has_text=item).click()
        expect(page.locator(shows).first).to_be_visible()

    return act


def _version(page: Page) -> None:
    """History, then the saved version's read-only view."""
    _button("History", DIALOG)(page)
    page.locator(".q-dialog").get_by_role("button", name="View").first.click()
    expect(page.get_by_role("button", name="Close").last).to_be_visible()


def _comparison(page: Page) -> None:
    """A step retitled and saved, then History and what changed in that version (the step marked, its setting
    before | after)."""
    _node("draft", ".q-tab-panel")(page)
    title = page.get_by_label("Title", exact=True)
    title.click()
    page.keyboard.press("End")
    title.press_sequentially("!", delay=40)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile(r"^Saved · v\d+$"))).to_be_visible()
    _button("History", DIALOG)(page)
    page.locator(".q-dialog").get_by_role("button", name=re.compile(r"What changed in v\d+")).click()
    expect(page.locator(".fy-compare .vue-flow__node").first).to_be_visible()


EDITOR, RUN = "/workflows/{workflow}", "/runs/{finished_run}"
CANVAS, TABS, DIALOG, LIST = ".vue-flow__node", ".fy-tabs", ".q-dialog .q-card", ".fy-list__row"
CHECKS = [
    Check("workflows", "/workflows", LIST),
    Check("workflows-new", "/workflows", LIST, _button("New workflow", DIALOG)),
    Check("editor", EDITOR, CANVAS),
    Check("editor-step", EDITOR, CANVAS, _node("draft", ".q-tab-panel .fy-template-editor")),
    Check("editor-approval", EDITOR, CANVAS, _node("review", ".q-tab-panel")),
    Check("editor-output", EDITOR, CANVAS, _inspector("draft", "Output", ".q-tab-panel .fy-json")),
    Check("editor-input", EDITOR, CANVAS, _inspector("send", "Input", ".q-tab-panel .fy-template-editor")),
    Check("editor-try", EDITOR, CANVAS, _inspector("send", "Try", ".q-tab-panel")),
    Check("editor-data", EDITOR, CANVAS, _inspector("send", "Data", ".q-tab-panel .fy-data-view")),
    Check("editor-run", EDITOR, CANVAS, _button("Run", DIALOG)),
    Check("editor-history", EDITOR, CANVAS, _button("History", DIALOG)),
    Check("editor-menu", EDITOR, CANVAS, _button("More actions", ".q-menu")),
    Check("editor-secret", EDITOR, CANVAS, _menu_item("Callback secret", DIALOG)),
    Check("editor-shortcuts", EDITOR, CANVAS, _menu_item("Keyboard shortcuts", DIALOG)),
    Check("editor-version", EDITOR, CANVAS, _version),
    Check("editor-compare", EDITOR, CANVAS, _comparison),
    Check("webhook", "/workflows/{workflow}/webhook", TABS),
    Check("workflow-schedules", "/workflows/{workflow}/schedules", TABS),
    Check("workflow-batches", "/workflows/{contacts}/batches", TABS),
    Check("batch-new", "/workflows/{contacts}/batches", TABS, _button("New batch", DIALOG)),
    Check("batch", "/batches/{batch}", ".fy-progress"),
    Check("runs", "/runs", LIST),
    Check("run", RUN, CANVAS),
    Check("run-step", RUN, CANVAS, _node("review", ".fy-run-panel .fy-json")),
    Check("run-data", RUN, CANVAS, _tab("Input and output", ".q-tab-panel .fy-json")),
    Check("run-approvals", RUN, CANVAS, _tab("Approvals", ".fy-approval-record")),
    Check("run-callbacks", RUN, CANVAS, _tab("Callbacks", ".q-tab-panel")),
    Check("run-paused", "/runs/{paused_run}", CANVAS),
    Check("inbox", "/inbox", ".fy-inbox__item"),
    Check("schedules", "/schedules", LIST),
    Check("schedules-new", "/schedules", LIST, _button("New schedule", DIALOG)),
    Check("agents", "/agents", LIST),
    Check("agents-new", "/agents", LIST, _button("New agent", DIALOG)),
    Check("agent", "/agents/{agent}", ".q-field"),
    Check("credentials", "/credentials", LIST),
    Check("credentials-new", "/credentials", LIST, _button("New credential", DIALOG)),
    Check("settings", "/settings", ".fy-settings__card"),
    Check("settings-token", "/settings", ".fy-settings__card", _button("New token", DIALOG)),
    Check("people", "/settings/people", ".fy-settings__card"),
    Check("people-add", "/settings/people", ".fy-settings__card", _button("Add person", DIALOG)),
    Check("audit", "/settings/audit", ".fy-settings__card"),
    Check("instance", "/settings/instance", ".fy-settings__card"),
]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE.exists():
        pytest.fail(
            f"axe-core is not installed at {AXE}: `make bundle` installs it (npm ci in components/graph_editor)"
        )
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def describe(where: str, violations: list[dict[str, Any]]) -> list[str]:
    """One entry per violation: where, the rule and its impact, what it asks, the elements (selector and HTML)."""
    lines = []
    for violation in violations:
        nodes = violation["nodes"]
        elements = "".join(f"\n    {' '.join(node['target'])}  {node['html'][:110]}" for node in nodes[:5])
        more = f"\n    … and {len(nodes) - 5} more" if len(nodes) > 5 else ""
        summary = nodes[0].get("failureSummary", "").replace("\n", " ")[:240] if nodes else ""
        lines.append(
            f"{where}: {violation['id']} [{violation['impact']}] {violation['help']}\n    {summary}{elements}{more}"
        )
    return lines


def check(page: Page, base: str, site: Site | None, item: Check, theme: str) -> list[str]:
    """Open the page, do its action, assert the theme shows, run axe; the violations as lines of the report."""
    page.goto(base + (item.path.format(**vars(site)) if site else item.path))
    expect(page.locator(item.ready).first).to_be_visible()
    if item.then:
        item.then(page)
    settle(page)  # transitions (dialogs, menus, tabs) end: axe measures the colours shown
    dark = page.evaluate("document.body.classList.contains('body--dark')")
    assert dark == (theme == "dark"), f"{item.name} is not in the {theme} theme"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"a11y-{theme}-{item.name}.png"))
    return describe(f"{item.name} ({theme})", axe_violations(page))


def _choose_theme(page: Page, url: str, theme: str) -> None:
    """With the header's toggle, as a person would (the choice is kept for the person's browser)."""
    page.goto(f"{url}/workflows")
    body, toggle = page.locator("body"), page.locator(".fy-theme-toggle")
    for _ in range(3):
        shown = "body--dark" in (body.get_attribute("class") or "")
        if shown == (theme == "dark") and "brightness_auto" not in toggle.inner_text():  # chosen, not the system's
            return
        toggle.click()
        page.wait_for_timeout(200)
    raise AssertionError(f"the toggle did not switch to the {theme} theme")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new Flowyard with no one yet (its set-up page is open), on a free port."""
    port = free_port()
    with flowyard_server(tmp_path_factory.mktemp("a11y") / "data", port, admin=False):
        yield f"http://127.0.0.1:{port}"


def _context(browser: Browser, theme: str) -> BrowserContext:  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT, color_scheme=theme)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    if AXE.exists():  # in every page as it loads: half the cost of adding it to each page afterwards
        context.add_init_script(path=str(AXE))
    return context


def test_every_page_has_no_serious_accessibility_violations_in_either_theme(
    server: str,
    browser: Browser,  # noqa: F811
) -> None:
    report: list[str] = []
    # Before anyone exists, the set-up page; it and the login page follow the browser's scheme (they have no toggle).
    for theme in THEMES:
        with _context(browser, theme) as context:
            page = context.new_page()
            report += check(page, server, None, Check("setup", "/setup", "form"), theme)
    _add_admin(server, http.headers["Authorization"].removeprefix("Bearer "))
    site = _populate(server)
    for theme in THEMES:
        with _context(browser, theme) as context:
            page = context.new_page()
            report += check(page, server, None, Check("login", "/login", "form"), theme)
            log_in(page, server)
            _choose_theme(page, server, theme)
            for item in CHECKS:
                report += check(page, server, site, item, theme)
    assert not report, f"{len(report)} serious or critical accessibility violations:\n" + "\n".join(report)
