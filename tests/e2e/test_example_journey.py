"""The shipped example, run as a new user would, and honest outcomes: the real `flowyard serve`, a real Chromium.

- The Lead routing example runs on its first Run: the dialog is a form of what its templates read, filled with
  its sample input. A run that fails says why — the step, its error and what to add to the input — on the run
  page, the editor's Output tab and a notice whose link to the run stays until it is closed.
- Its CSV runs all green as a batch (the cells become numbers where the templates do arithmetic); a batch with
  failed rows is not green and says how many; a cell of the wrong type is named and nothing starts.
- Rejecting a step says that the step and its run failed, as they did.

Screenshots: `.screenshots/example-<nn>-*.png`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import ROOT, Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, log_in

pytestmark = pytest.mark.slow

EXAMPLE_CSV = ROOT / "assets" / "examples" / "lead-routing.csv"
LINK_OUTLIVES = 6_500
"""Milliseconds to wait before checking a notice is still there (a plain toast goes after 5 s)."""


@pytest.fixture
def server(shared_server: str, page: Page) -> str:  # noqa: F811
    """The module's server (`shared_server`: each test makes the workflows it works on), the page logged in."""
    log_in(page, shared_server)
    return shared_server


def _use_lead_routing(tab: Page, server: str) -> str:
    """Workflows → “Use this example” on Lead routing; the new workflow's id."""
    tab.goto(f"{server}/workflows")
    tab.locator(".fy-example").filter(has_text="Lead routing").get_by_role("button", name="Use this example").click()
    expect(tab).to_have_url(re.compile(r"/workflows/wf-"))
    expect(tab.locator(".vue-flow__node")).to_have_count(4)
    return tab.url.rstrip("/").rsplit("/", 1)[-1]


def _workflow(server: str, name: str, *steps: dict[str, Any]) -> str:
    workflow_id: str = api_post(server, "/workflows", {"name": name})["id"]
    for step in steps:
        api_post(server, f"/workflows/{workflow_id}/steps", step)
    return workflow_id


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _upload(tab: Page, server: str, workflow_id: str, file: Path) -> Any:
    tab.goto(f"{server}/workflows/{workflow_id}/batches")
    tab.get_by_role("button", name="New batch").click()
    dialog = tab.locator(".q-dialog")
    dialog.locator("input[type=file]").set_input_files(file)
    return dialog


def test_the_example_runs_on_its_first_run_and_a_failed_run_says_why(server: str, page: Page) -> None:  # noqa: F811
    shot = Shots(page, "example")
    workflow_id = _use_lead_routing(page, server)

    # --- the first Run: a form of what the steps read, filled with the example's sample ---
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.locator(".q-dialog")
    expect(dialog.get_by_label("Employees *")).to_have_value("420")
    expect(dialog.get_by_label("Name *")).to_have_value("Grace Hopper")
    shot("run-dialog")
    dialog.get_by_role("button", name="Run", exact=True).click()
    done = page.locator(".q-notification").filter(has_text="Run completed")
    expect(done).to_be_visible(timeout=15_000)
    page.wait_for_timeout(LINK_OUTLIVES)
    expect(done.get_by_role("link", name="open its page")).to_be_visible()  # the link stays until closed
    shot("run-completed")
    done.get_by_role("button", name="Close").click()
    expect(done).to_have_count(0)

    # --- a field left empty is named in the dialog, and nothing starts ---
    page.get_by_role("button", name="Run", exact=True).click()
    employees = dialog.get_by_label("Employees *")
    employees.click()
    employees.press("Control+a")
    employees.press("Backspace")
    dialog.get_by_role("button", name="Run", exact=True).click()
    expect(dialog.locator(".text-negative").filter(has_text="employees")).not_to_have_count(0)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()

    # --- a run started elsewhere without input: its page and the step's Output tab say what to add ---
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": {}})["runId"]
    page.goto(f"{server}/runs/{run_id}")
    hint = "enrich needs input.name, input.company, input.employees and input.title: add them to the run's input"
    expect(page.get_by_text(f"How to fix: {hint}")).to_be_visible(timeout=10_000)
    shot("run-page-hint")
    page.goto(f"{server}/workflows/{workflow_id}")
    page.locator('.vue-flow__node[data-id="enrich"]').click()
    page.get_by_role("tab", name="Output").click()
    expect(page.get_by_text("Status in the last run: Failed")).to_be_visible()
    expect(page.get_by_text(f"How to fix: {hint}")).to_be_visible()
    shot("output-tab-hint")


def test_a_run_that_fails_says_why_and_keeps_its_link(server: str, page: Page) -> None:  # noqa: F811
    shot = Shots(page, "example-failure")
    workflow_id = _workflow(server, "Divide", {"agentId": "transform", "action": "{{ 100 // input.n }}"})
    page.goto(f"{server}/workflows/{workflow_id}")
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.locator(".q-dialog")
    dialog.get_by_label("N *").press_sequentially("0", delay=40)
    dialog.get_by_role("button", name="Run", exact=True).click()

    failed = page.locator(".q-notification").filter(has_text="Run failed")
    expect(failed).to_be_visible(timeout=15_000)
    expect(failed).to_contain_text("ZeroDivisionError")
    expect(failed).to_have_class(re.compile(r"\bbg-negative\b"))
    page.wait_for_timeout(LINK_OUTLIVES)
    shot("notice")
    failed.get_by_role("link", name="open its page").click()
    expect(page).to_have_url(re.compile(r"/runs/wr-"))
    expect(page.locator(".fy-page-header .fy-status--failed")).to_be_visible()


def test_the_examples_csv_runs_all_green_as_a_batch(server: str, page: Page) -> None:  # noqa: F811
    shot = Shots(page, "example-batch")
    workflow_id = _use_lead_routing(page, server)
    dialog = _upload(page, server, workflow_id, EXAMPLE_CSV)
    expect(dialog.locator(".fy-preview-rows")).to_contain_text('"employees": 420')  # a number, not "420"
    expect(dialog.get_by_text("10 run(s) will start")).to_be_visible()
    shot("mapped")
    dialog.get_by_role("button", name="Start batch").click()
    expect(page).to_have_url(re.compile(r"/batches/"))
    expect(page.get_by_text("10 of 10 rows done")).to_be_visible(timeout=30_000)
    expect(page.locator(".fy-count").filter(has_text="completed")).to_have_text("10 completed")
    status = page.locator(".fy-card").first.locator(".fy-status").first  # the batch's, above its rows'
    expect(status).to_have_text("Completed")
    expect(status).to_have_class(re.compile(r"\bfy-status--completed\b"))
    shot("all-green")


def test_a_batch_with_failed_rows_is_not_green_and_a_bad_cell_starts_nothing(
    server: str,
    tmp_path: Path,
    page: Page,  # noqa: F811
) -> None:
    shot = Shots(page, "example-batch-failed")
    workflow_id = _workflow(server, "Divide", {"agentId": "transform", "action": "{{ {'share': 100 // input.n} }}"})

    bad = _csv(tmp_path / "bad.csv", ["n"], [[4], ["four"], [5]])
    dialog = _upload(page, server, workflow_id, bad)
    expect(dialog.get_by_text("Row 2, column 'n': \"four\" is not a number")).to_be_visible()
    expect(dialog.get_by_role("button", name="Start batch")).to_be_disabled()
    shot("bad-cell")
    dialog.get_by_role("button", name="Cancel").click()

    some_fail = _csv(tmp_path / "some-fail.csv", ["n"], [[4], [0], [5]])
    dialog = _upload(page, server, workflow_id, some_fail)
    dialog.get_by_role("button", name="Start batch").click()
    expect(page.get_by_text("3 of 3 rows done")).to_be_visible(timeout=30_000)
    status = page.locator(".fy-card").first.locator(".fy-status").first
    expect(status).to_have_text("Completed with 1 of 3 failed")
    expect(status).to_have_class(re.compile(r"\bfy-status--failed\b"))
    shot("not-green")


def test_rejecting_says_the_step_and_its_run_failed(server: str, page: Page) -> None:  # noqa: F811
    shot = Shots(page, "example-reject")
    workflow_id = _workflow(
        server, "Reply", {"agentId": "transform", "action": "Hi {{ input.name }}", "needsApproval": True}
    )
    run_id = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"name": "Ada"}})["runId"]
    page.goto(f"{server}/inbox")
    expect(page.locator(".fy-inbox__item")).to_have_count(1, timeout=10_000)
    page.get_by_label("Reason (needed to reject; kept with the decision)").press_sequentially(
        "Off topic this week", delay=40
    )
    page.get_by_role("button", name="Reject").click()

    said = page.locator(".q-notification").filter(has_text="Rejected")
    expect(said).to_contain_text("failed, and so did its run")
    expect(said).not_to_contain_text("goes on")
    expect(said).to_have_class(re.compile(r"\bbg-negative\b"))
    expect(page.get_by_text("The step failed with this reason, and so did its run.")).to_be_visible()
    page.wait_for_timeout(LINK_OUTLIVES)
    shot("rejected")
    said.get_by_role("link", name="open the run").click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}"))
    expect(page.locator(".fy-page-header .fy-status--failed")).to_be_visible(timeout=10_000)
