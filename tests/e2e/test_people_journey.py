"""A new Flowyard's people, as they would meet it: the first admin sets it up and invites an approver and a
viewer; a run pauses; the approver, who sees only runs and the inbox, approves it, and the run says who;
the viewer sees the step but cannot approve it, not even with a forged request.

Screenshots: `.screenshots/people-<nn>-<step>.png`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import VIEWPORT, Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, http

ADMIN = ("Ada Lovelace", "ada@example.com", "correct horse battery")
APPROVER = ("Ann Approver", "ann@example.com", "ann's long password")
VIEWER = ("Vic Viewer", "vic@example.com", "vic's long password")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with flowyard_server(tmp_path / "data", port, admin=False):
        yield f"http://127.0.0.1:{port}"


def _second_browser(browser: Browser) -> Page:  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    return context.new_page()


def _log_in(tab: Page, server: str, email: str, password: str) -> None:
    tab.goto(f"{server}/")
    expect(tab).to_have_url(re.compile("/login"))
    tab.get_by_label("Email").press_sequentially(email)
    tab.get_by_label("Password").press_sequentially(password)
    tab.get_by_label("Password").press("Enter")


def _add_person(tab: Page, person: tuple[str, str, str], role: str) -> None:
    name, email, password = person
    tab.get_by_role("button", name="Add person").click()
    dialog = tab.locator(".fy-dialog")
    dialog.get_by_label("Name").press_sequentially(name)
    dialog.get_by_label("Email").press_sequentially(email)
    dialog.get_by_label("Role").click()
    tab.get_by_role("option", name=re.compile(f"^{role} ")).click()
    dialog.get_by_label(re.compile("First password")).press_sequentially(password)
    dialog.get_by_role("button", name="Add person").click()
    expect(tab.get_by_text(f"Added {name} as {role}")).to_be_visible()


def _paused_run(server: str, workflow_id: str) -> str:
    run_id: str = api_post(server, f"/workflows/{workflow_id}/run", {"input": "AI"})["runId"]
    deadline = time.monotonic() + 10
    while http.get(f"{server}/api/v1/workflows/runs/{run_id}").json()["status"] != "PAUSED":
        assert time.monotonic() < deadline, "the run did not pause"
        time.sleep(0.1)
    return run_id


def test_set_up_invite_an_approver_who_approves_and_a_viewer_who_cannot(
    page: Page,  # noqa: F811
    browser: Browser,  # noqa: F811
    server: str,
) -> None:
    shot = Shots(page, "people")

    # --- (1) first start: the set-up page creates the admin, who is logged in ---
    page.goto(f"{server}/workflows")
    expect(page).to_have_url(re.compile("/setup"))
    expect(page.get_by_text("Welcome to Flowyard")).to_be_visible()
    shot("setup")
    name, email, password = ADMIN
    page.get_by_label("Your name").press_sequentially(name)
    page.get_by_label("Email").press_sequentially(email)
    page.get_by_label(re.compile("^Password")).press_sequentially(password)
    page.get_by_role("button", name="Create admin and log in").click()
    expect(page).to_have_url(re.compile("/workflows$"))

    # --- (2) log out and in again ---
    page.locator(".fy-account").click()
    page.get_by_text("Log out").click()
    expect(page).to_have_url(re.compile("/login"))
    page.get_by_label("Email").press_sequentially(email)
    page.get_by_label("Password").press_sequentially("not the password")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    shot("wrong-password")
    page.get_by_label("Password").press_sequentially(password)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile("/workflows$"))

    # --- (3) invite an approver and a viewer ---
    page.locator(".fy-account").click()
    page.locator(".fy-account__menu").get_by_text("Settings").click()
    page.get_by_role("link", name="People").click()
    _add_person(page, APPROVER, "approver")
    _add_person(page, VIEWER, "viewer")
    shot("people")

    # --- (4) a run pauses for approval ---
    workflow_id = api_post(server, "/workflows", {"name": "Newsletter"})["id"]
    api_post(server, f"/workflows/{workflow_id}/steps", {"agentId": "transform", "action": "Draft about {{ input }}"})
    api_post(server, f"/workflows/{workflow_id}/steps", {"agentId": "approval", "action": "", "key": "review"})
    run_id = _paused_run(server, workflow_id)

    _approver_approves(browser, server, run_id)
    _viewer_cannot_approve(browser, server, workflow_id)


def _approver_approves(browser: Browser, server: str, run_id: str) -> None:  # noqa: F811
    # --- (5) the approver logs in, lands in the inbox, sees only runs and the inbox, approves ---
    ann = _second_browser(browser)
    _log_in(ann, server, APPROVER[1], APPROVER[2])
    expect(ann).to_have_url(re.compile("/inbox$"))
    nav = ann.locator(".fy-nav")
    expect(nav.get_by_role("link", name="Inbox")).to_be_visible()
    expect(nav.get_by_role("link", name="Runs")).to_be_visible()
    for hidden in ("Workflows", "Schedules", "Agents", "Credentials"):
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
    Shots(ann, "people-approver")("inbox")
    ann.get_by_role("button", name="Approve", exact=True).click()
    expect(ann.get_by_text("Approved: the run goes on")).to_be_visible()

    # --- (6) the run says who approved ---
    ann.goto(f"{server}/runs/{run_id}")
    ann.get_by_role("tab", name="Approvals").click()
    expect(ann.get_by_text(re.compile("approved by ann@example.com", re.IGNORECASE)).first).to_be_visible()
    Shots(ann, "people-approver")("run")
    ann.goto(f"{server}/workflows")
    expect(ann.get_by_text("This page is not for your role")).to_be_visible()
    ann.context.close()


def _viewer_cannot_approve(browser: Browser, server: str, workflow_id: str) -> None:  # noqa: F811
    # --- (7) the viewer sees the next paused step but has no Approve; a forged request gets 403 ---
    second = _paused_run(server, workflow_id)
    vic = _second_browser(browser)
    _log_in(vic, server, VIEWER[1], VIEWER[2])
    expect(vic).to_have_url(re.compile("/workflows$"))
    vic.goto(f"{server}/inbox")
    expect(vic.locator(".fy-inbox__item")).to_have_count(1)
    expect(vic.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    Shots(vic, "people-viewer")("inbox")
    vic.goto(f"{server}/settings")
    vic.get_by_role("button", name="New token").click()
    vic.get_by_label("Name (what it is for)").press_sequentially("my script")
    expect(vic.locator(".fy-dialog").get_by_role("checkbox")).to_have_count(1)  # a viewer's only scope: read
    vic.get_by_role("button", name="Create token").click()
    token = vic.locator(".fy-dialog").filter(has_text="Your new token").locator("input").input_value()
    assert token.startswith("fy_")
    forged = http.post(
        f"{server}/api/v1/workflows/runs/{second}/resume",
        json={"output": "sneaked through"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert forged.status_code == 403, forged.text
    assert http.get(f"{server}/api/v1/workflows/runs/{second}").json()["status"] == "PAUSED"
    vic.context.close()
