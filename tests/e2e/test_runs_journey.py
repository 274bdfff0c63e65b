"""Watching, approving and cancelling runs, end to end: the real `flowyard serve`, a real Chromium.

An outside system starts a workflow through the API with a `callbackUrl` (a local HTTP server). The person
sees the run appear on the Runs page, opens it and watches the first step turn green, gets a notification
that the second step needs approval, opens the inbox, edits the proposal and approves it, and sees the run
finish with the edited text — while the callback server receives the signed result. Then they cancel a
long run and see it stop within a second. Screenshots: `.screenshots/runs-<nn>-<step>.png`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.engine.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.e2e.browser import Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, http, log_in
from tests.servers import LocalServer

pytestmark = pytest.mark.slow

SECRET = "journey-callback-secret-0123456789"
EDITED = "Hi Ada, thanks for your interest. Here is the deck you asked for."


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port, env={"FLOWYARD_CALLBACK_SECRET": SECRET}):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


@pytest.fixture
def receiver() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


def _workflow(url: str, name: str, steps: list[dict[str, Any]]) -> str:
    workflow_id: str = api_post(url, "/workflows", {"name": name})["id"]
    for step in steps:
        api_post(url, f"/workflows/{workflow_id}/steps", step)
    return workflow_id


def test_watch_approve_with_edits_and_receive_the_signed_callback(
    server: str,
    receiver: LocalServer,
    page: Page,  # noqa: F811
) -> None:
    shot = Shots(page, "runs")
    workflow_id = _workflow(
        server,
        "Lead follow-up",
        [
            {"agentId": "delay", "key": "wait", "name": "Let the lead settle", "action": "", "config": {"seconds": 3}},
            {
                "agentId": "transform",
                "key": "draft",
                "name": "Draft the reply",
                "action": "Hi {{ input.lead }}, thanks for your interest.",
                "needsApproval": True,
            },
            {"agentId": "transform", "key": "send", "name": "Send", "action": "{{ {'sent': input} }}"},
        ],
    )

    # --- (1) the Runs page, empty; a run started by another system appears on it live ---
    page.goto(f"{server}/runs")
    expect(page.get_by_text("No runs yet")).to_be_visible()
    shot("empty")
    callback = receiver.reply("/hook", (200, {"ok": True}))
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"lead": "Ada"}, "callbackUrl": callback})[
        "runId"
    ]
    row = page.locator(".fy-list__row").filter(has_text=run_id)
    expect(row).to_be_visible(timeout=3000)
    expect(row.get_by_text("Running")).to_be_visible()
    shot("run-appears")

    # --- (2) its page: the first step turns green live, the second waits, and a notification says so ---
    row.click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}$"))
    first = page.locator('.vue-flow__node[data-id="wait"] .fy-node')
    expect(first).to_have_class(re.compile(r"\bfy-status--running\b"))
    shot("first-running")
    expect(first).to_have_class(re.compile(r"\bfy-status--completed\b"), timeout=5000)
    second = page.locator('.vue-flow__node[data-id="draft"] .fy-node')
    expect(second).to_have_class(re.compile(r"\bfy-status--waiting\b"))
    notification = page.locator(".q-notification").filter(has_text="Approval needed")
    expect(notification).to_be_visible()
    expect(page.locator(".fy-nav__badge")).to_have_text("1")
    shot("waiting")

    # --- (3) the inbox: the proposal with its context; edit it and approve ---
    notification.get_by_role("link", name="Open inbox").click()
    expect(page).to_have_url(re.compile("/inbox"))
    expect(page.locator(".fy-inbox__item")).to_have_count(1)
    expect(page.get_by_text("Draft the reply").first).to_be_visible()
    proposal = page.locator(".fy-inbox__detail textarea")
    expect(proposal).to_have_value("Hi Ada, thanks for your interest.")
    shot("inbox")
    proposal.fill(EDITED)
    page.get_by_role("button", name="Approve with edits").click()
    expect(page.get_by_text("Approved with edits: the run goes on")).to_be_visible()
    expect(page.get_by_text("Approved by ada@example.com")).to_be_visible()
    shot("approved")

    # --- (4) back on the run: finished with the edited value; the decision and the edit are kept ---
    page.goto(f"{server}/runs/{run_id}")
    expect(page.locator(".fy-page-header .fy-status--completed")).to_be_visible(timeout=5000)
    page.get_by_role("tab", name="Input and output").click()
    expect(page.get_by_text(EDITED).first).to_be_visible()
    page.get_by_role("tab", name="Approvals").click()
    expect(page.get_by_text(re.compile("approved by ada@example.com"))).to_be_visible()
    expect(page.get_by_text("Edited before approval:")).to_be_visible()
    shot("completed")

    # --- (5) the callback arrived, signed: the signature verifies with the shared secret ---
    assert receiver.wait_for("/hook", timeout=10), "the callback never arrived"
    [request] = [r for r in receiver.requests if r.path == "/hook"]
    assert verify(
        SECRET,
        request.headers[TIMESTAMP_HEADER.lower()],
        request.body,
        request.headers[SIGNATURE_HEADER.lower()],
        now=time.time(),
    )
    body = request.json()
    assert body["status"] == "COMPLETED"
    assert EDITED in str(body)
    page.get_by_role("tab", name="Callbacks").click()
    expect(page.get_by_text("Attempt 1")).to_be_visible(timeout=5000)
    shot("callback")


def test_cancel_stops_a_run_within_a_second(server: str, page: Page) -> None:  # noqa: F811
    shot = Shots(page, "runs")
    workflow_id = _workflow(
        server, "Long wait", [{"agentId": "delay", "key": "wait", "action": "", "config": {"seconds": 120}}]
    )
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": "x"})["runId"]
    page.goto(f"{server}/runs/{run_id}")
    node = page.locator('.vue-flow__node[data-id="wait"] .fy-node')
    expect(node).to_have_class(re.compile(r"\bfy-status--running\b"))

    clicked = time.time()
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator(".fy-page-header .fy-status--cancelled")).to_be_visible(timeout=3000)
    expect(node).to_have_class(re.compile(r"\bfy-status--cancelled\b"), timeout=3000)
    shot("cancelled")
    run = http.get(f"{server}/api/v1/workflows/runs/{run_id}", timeout=5).json()
    assert run["status"] == "CANCELLED"
    [step] = run["nodes"]
    assert step["status"] == "CANCELLED"
    stopped = datetime.fromisoformat(step["finishedAt"].replace("Z", "+00:00")).timestamp()
    assert stopped - clicked < 1.0  # the step stopped within a second of the click (server time, same machine)


def test_a_page_that_lost_its_connection_catches_up(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = _workflow(
        server,
        "Three steps",
        [
            {"agentId": "delay", "key": "one", "action": "", "config": {"seconds": 1.5}},
            {"agentId": "delay", "key": "two", "action": "", "config": {"seconds": 0.2}},
            {"agentId": "transform", "key": "three", "action": "{{ input }} done"},
        ],
    )
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": "x"})["runId"]
    page.goto(f"{server}/runs/{run_id}")
    one = page.locator('.vue-flow__node[data-id="one"] .fy-node')
    expect(one).to_have_class(re.compile(r"\bfy-status--running\b"))

    page.context.set_offline(True)  # the connection drops while the run goes on and ends
    page.wait_for_timeout(2500)
    three = page.locator('.vue-flow__node[data-id="three"] .fy-node')
    status = http.get(f"{server}/api/v1/workflows/runs/{run_id}", timeout=5).json()["status"]
    assert status == "COMPLETED"  # on the server
    expect(three).not_to_have_class(re.compile(r"\bfy-status--completed\b"))  # but not on the page yet
    page.context.set_offline(False)

    expect(three).to_have_class(re.compile(r"\bfy-status--completed\b"), timeout=10_000)
    expect(page.locator(".fy-page-header .fy-status--completed")).to_be_visible(timeout=10_000)


def test_find_runs_by_what_they_were_given_and_delete_them_together(
    server: str,
    page: Page,  # noqa: F811
) -> None:
    workflow_id = _workflow(server, "Greeter", [{"agentId": "transform", "action": "Hello {{ input.name }}"}])
    for name in ("Ada", "Grace", "Ada Lovelace"):
        api_post(server, f"/workflows/{workflow_id}/run", {"input": {"name": name}})
    page.goto(f"{server}/runs")
    expect(page.locator(".fy-list__row")).to_have_count(3)

    page.get_by_label("Search runs").press_sequentially("ada", delay=40)

    expect(page).to_have_url(re.compile(r"/runs\?q=ada$"))
    expect(page.locator(".fy-list__row")).to_have_count(2)
    page.get_by_label("Select every run on this page").click()
    expect(page.get_by_text("2 runs selected")).to_be_visible()
    page.get_by_role("button", name="Delete (2)").click()
    page.locator(".fy-dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Deleted 2 runs")).to_be_visible()
    expect(page.get_by_text("No runs match these filters")).to_be_visible()
    page.get_by_label("Search runs").press("Control+a")
    page.get_by_label("Search runs").press("Backspace")
    expect(page.locator(".fy-list__row")).to_have_count(1)
    Shots(page, "runs-search")("one-left")
