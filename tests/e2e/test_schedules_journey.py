"""Scheduling a workflow as a new user would: the real `flowyard serve` and a real Chromium in New York time.

They open a workflow, go to its Schedules tab, create a schedule that fires every minute (the form fills
in their own time zone and previews the description and the next fire times), see the next five fire times
in the list, then watch the first run appear on its own and open it. Screenshots:
`.screenshots/schedules-<nn>-*.png`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import VIEWPORT, Shots, browser  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, http, log_in

pytestmark = pytest.mark.slow

ZONE = "America/New_York"


@pytest.fixture
def server(tmp_path: Path, new_yorker: Page) -> Iterator[str]:
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(new_yorker, url)
        yield url


@pytest.fixture
def new_yorker(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A browser whose clock reads New York time, as a user there would have."""
    context = browser.new_context(viewport=VIEWPORT, timezone_id=ZONE)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_schedule_every_minute_see_fire_times_and_watch_the_run_appear(server: str, new_yorker: Page) -> None:
    page = new_yorker
    shot = Shots(page, "schedules")
    workflow = api_post(server, "/workflows", {"name": "Minute digest"})
    api_post(server, f"/workflows/{workflow['id']}/steps", {"agentId": "transform", "action": "Digest {{ input }}"})

    # --- (1) from the editor to the workflow's Schedules tab ---
    page.goto(f"{server}/workflows/{workflow['id']}")
    page.get_by_role("button", name="Schedules").click()
    expect(page).to_have_url(re.compile(rf"/workflows/{workflow['id']}/schedules$"))
    expect(page.get_by_text("No schedules yet")).to_be_visible()
    shot("empty")

    # --- (2) a schedule every minute, in the user's own time zone ---
    page.get_by_role("button", name="New schedule").click()
    dialog = page.locator(".q-dialog")
    expect(dialog.get_by_label("Time zone")).to_have_value(ZONE)
    dialog.get_by_label("Name (optional)").fill("Every minute digest")
    cron = dialog.get_by_label("Cron (minute hour day month weekday)")
    cron.fill("* * * * 9")
    expect(dialog.locator(".fy-schedule__preview .fy-error")).to_be_visible()
    cron.fill("* * * * *")
    expect(dialog.get_by_text("Every minute", exact=True)).to_be_visible()
    times = dialog.locator(".fy-schedule__preview .text-sm")
    expect(times).to_have_count(5)
    expect(times.first).to_contain_text(re.compile(r"E[SD]T"))  # shown in New York time
    shot("form")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Schedule saved")).to_be_visible()

    # --- (3) the list shows its next five fire times ---
    row = page.locator(".fy-schedules .fy-list__row").first
    expect(row.get_by_text("Every minute digest")).to_be_visible()
    expect(row.locator(".fy-schedule__time")).to_have_count(5)
    expect(row.locator(".fy-schedule__time").first).to_contain_text(re.compile(r"\d{2}:\d{2} E[SD]T"))
    expect(row.get_by_text("None yet")).to_be_visible()
    shot("scheduled")

    # --- (4) within a minute the first run appears on its own, and it is a schedule's run ---
    dot = row.locator(".fy-dot-only").first
    expect(dot).to_be_visible(timeout=75_000)
    expect(row.locator(".fy-dot-only.fy-status--completed").first).to_be_visible(timeout=15_000)
    shot("fired")
    dot.click()
    expect(page).to_have_url(re.compile(r"/runs/wr-"))
    expect(page.get_by_text("Triggered by Schedule")).to_be_visible()
    shot("run")
    runs = http.get(f"{server}/api/v1/workflows/{workflow['id']}/runs", timeout=5).json()
    assert runs["content"], runs
    assert {r["trigger"] for r in runs["content"]} == {"schedule"}, runs

    # --- (5) the Schedules page lists it too, with its workflow ---
    page.goto(f"{server}/schedules")
    expect(page.locator(".fy-schedules").get_by_role("link", name="Minute digest")).to_be_visible()
    shot("all-schedules")
