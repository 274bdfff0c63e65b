"""Issue 13's whole journey, typed like a person, in the light and the dark theme: the shipped Lead routing
example → Run with a field left out is refused, naming it → fixed, the run completes → a step made to need
approval pauses the next run, which is approved in the inbox → the example's CSV runs all green as a batch.

The real `flowyard serve`, a real Chromium. Screenshots: `.screenshots/journey-<theme>-<nn>-*.png`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import ROOT, Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import flowyard_server, free_port, log_in

pytestmark = pytest.mark.slow

EXAMPLE_CSV = ROOT / "assets" / "examples" / "lead-routing.csv"


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_example_run_fix_approve_and_batch_all_green(server: str, page: Page, theme: str) -> None:  # noqa: F811
    shot = Shots(page, f"journey-{theme}")
    page.goto(f"{server}/workflows")
    if theme == "dark":
        page.locator(".fy-theme-toggle").click()
        expect(page.locator("body.body--dark")).to_have_count(1)

    # --- the example, and a Run with a field left out: refused, the field named ---
    page.locator(".fy-example").filter(has_text="Lead routing").get_by_role("button", name="Use this example").click()
    expect(page).to_have_url(re.compile(r"/workflows/wf-"))
    workflow_url = page.url
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.locator(".q-dialog")
    error = dialog.locator('[marker="run-error"], .text-negative').filter(has_text="The steps need more")
    name = dialog.get_by_label("Name *")  # a text field left empty is missing, not ""
    name.click()
    name.press("Control+a")
    name.press("Backspace")
    dialog.get_by_role("button", name="Run", exact=True).click()
    expect(error).to_have_text(re.compile(r"^The steps need more from the input: name\b"))
    name.press_sequentially("Grace Hopper", delay=40)
    employees = dialog.get_by_label("Employees *")
    employees.click()
    employees.press("Control+a")
    employees.press("Backspace")
    dialog.get_by_role("button", name="Run", exact=True).click()
    expect(error).to_have_text(re.compile(r"^The steps need more from the input: employees\b"))
    shot("refused")

    # --- fixed as it says: the run completes ---
    employees.press_sequentially("420", delay=40)
    dialog.get_by_role("button", name="Run", exact=True).click()
    done = page.locator(".q-notification").filter(has_text="Run completed")
    expect(done).to_be_visible(timeout=15_000)
    done.get_by_role("button", name="Close").click()

    # --- the sales email needs approval now: the next run pauses and is approved in the inbox ---
    page.locator('.vue-flow__node[data-id="sales_email"]').click()
    page.get_by_text("Needs approval (a person approves this step's output)").click()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(re.compile(r"Saved · v\d"))).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    dialog.get_by_role("button", name="Run", exact=True).click()
    waiting = page.locator(".q-notification").filter(has_text="Run waiting for approval")
    expect(waiting).to_be_visible(timeout=15_000)
    page.locator(".fy-nav").get_by_role("link", name="Inbox").click()
    expect(page.locator(".fy-inbox__item")).to_have_count(1)
    shot("inbox")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_text("Approved: the run goes on")).to_be_visible()

    # --- approval off again, and the example's CSV as a batch: every row green ---
    page.goto(workflow_url)
    page.locator('.vue-flow__node[data-id="sales_email"]').click()
    page.get_by_text("Needs approval (a person approves this step's output)").click()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(re.compile(r"Saved · v\d"))).to_be_visible()
    page.get_by_role("button", name="Batches").click()
    page.get_by_role("button", name="New batch").click()
    page.locator(".q-dialog input[type=file]").set_input_files(EXAMPLE_CSV)
    expect(page.locator(".q-dialog").get_by_text("10 run(s) will start")).to_be_visible()
    page.locator(".q-dialog").get_by_role("button", name="Start batch").click()
    expect(page.get_by_text("10 of 10 rows done")).to_be_visible(timeout=30_000)
    expect(page.locator(".fy-count").filter(has_text="completed")).to_have_text("10 completed")
    status = page.locator(".fy-card").first.locator(".fy-status").first
    expect(status).to_have_class(re.compile(r"\bfy-status--completed\b"))
    shot("batch-green")
