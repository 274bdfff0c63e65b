"""A batch run as a new user would do it: the real `flowyard serve`, a real Chromium, a 100-row CSV.

The workflow's first step (the example plugin's `enrich`) takes `email` and `company`; the file calls its
columns "Email Address" and "Company Name", so the user maps them by hand, checks the preview of the first
rows, starts the batch, watches the progress bar fill and downloads the results with the output fields they
pick. Screenshots: `.screenshots/batch-<nn>-*.png`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, log_in

pytestmark = pytest.mark.slow

ROWS = 100


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


def _contacts(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["Email Address", "Company Name", "Notes"])
        for number in range(ROWS):
            company = "" if number % 4 else f"Company {number}"
            writer.writerow([f"person{number}@example{number % 7}.com", company, f"met at event {number}"])
    return path


def test_upload_a_csv_map_columns_watch_progress_and_download_results(
    server: str,
    tmp_path: Path,
    page: Page,  # noqa: F811
) -> None:
    shot = Shots(page, "batch")
    workflow = api_post(server, "/workflows", {"name": "Enrich contacts"})
    api_post(server, f"/workflows/{workflow['id']}/steps", {"agentId": "enrich", "action": ""})
    api_post(server, f"/workflows/{workflow['id']}/steps", {"agentId": "transform", "action": ""})
    api_post(server, f"/workflows/{workflow['id']}/steps", {"agentId": "transform", "action": ""})
    contacts = _contacts(tmp_path / "contacts.csv")

    # --- (1) the workflow's Batches tab, a new batch, the file ---
    page.goto(f"{server}/workflows/{workflow['id']}/batches")
    expect(page.get_by_text("No batches yet")).to_be_visible()
    page.get_by_role("button", name="New batch").click()
    dialog = page.locator(".q-dialog")
    dialog.locator("input[type=file]").set_input_files(contacts)
    expect(dialog.get_by_text(f"contacts.csv: {ROWS} rows, 3 columns")).to_be_visible()

    # --- (2) map the columns by hand: the names differ from the inputs' ---
    selects = dialog.locator(".fy-mapping .q-select")  # one per input, in the schema's order: email, company
    selects.nth(0).click()
    page.get_by_role("option", name="Email Address", exact=True).click()
    selects.nth(1).click()
    page.get_by_role("option", name="Company Name", exact=True).click()
    preview = dialog.locator(".fy-preview-rows")
    expect(preview).to_contain_text('"email": "person0@example0.com"')
    expect(preview).to_contain_text('"company": "Company 0"')
    expect(dialog.get_by_text(f"{ROWS} run(s) will start")).to_be_visible()
    shot("mapped")

    # --- (3) start it and watch the bar fill ---
    dialog.get_by_label("Runs at once").fill("4")
    dialog.get_by_role("button", name="Start batch").click()
    expect(page).to_have_url(re.compile(r"/batches/"))
    expect(page.locator(".fy-progress")).to_be_visible()
    shot("progress")
    expect(page.get_by_text(f"{ROWS} of {ROWS} rows done")).to_be_visible(timeout=60_000)
    expect(page.locator(".fy-count").filter(has_text="completed")).to_have_text(f"{ROWS} completed")
    shot("finished")

    # --- (4) the results, with the output fields picked ---
    page.get_by_role("button", name="Download results").click()
    fields = page.locator(".q-dialog")
    expect(fields.get_by_text("domain", exact=True)).to_be_visible()
    for name in ("email", "source"):
        fields.get_by_text(name, exact=True).click()  # untick: keep domain and company
    with page.expect_download() as download:
        fields.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / "results.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert len(rows) == ROWS
    assert rows[0]["Email Address"] == "person0@example0.com"
    assert rows[0]["domain"] == "example0.com"
    assert rows[0]["company"] == "Company 0"
    assert rows[1]["company"] == "Example1"  # no company in the file: enrich names it after the domain
    assert {row["status"] for row in rows} == {"COMPLETED"}
    assert "email" not in rows[0] and "source" not in rows[0]
    shot("downloaded")
