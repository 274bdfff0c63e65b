"""What n8n and Dify users reach for in the inspector, done by mouse and keyboard in a real Chromium: a credential
created from a step's settings and chosen there, and a field of an upstream step clicked into a mapping.

Screenshots: `.screenshots/data-<nn>-<step>-<theme>.png` (light and dark), at 1400 px and at 1024 x 700.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import SCREENSHOTS, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, http, log_in
from tests.e2e.test_inspector_journey import HUMAN_MS, Editor, _step, _workflow

pytestmark = pytest.mark.slow

ENRICH = "{{ {'email': input.email, 'score': 7} }}"


@pytest.fixture
def server(shared_server: str, page: Page) -> str:  # noqa: F811
    """The module's server (`shared_server`: each test makes the workflows it works on), the page logged in."""
    log_in(page, shared_server)
    return shared_server


def _shot(page: Page, name: str, *, dark: bool = True) -> None:  # noqa: F811
    """A screenshot in light and in dark mode (the header's theme toggle), back in light mode after.

    `dark=False`: light only (a dialog's backdrop covers the toggle).
    """
    SCREENSHOTS.mkdir(exist_ok=True)
    for theme in ("light", "dark") if dark else ("light",):
        if theme == "dark":
            page.locator(".fy-theme-toggle").click()
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"data-{name}-{theme}.png"))
    if dark:
        page.locator(".fy-theme-toggle").click()
        page.wait_for_timeout(150)


def _finished(url: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        detail: dict[str, Any] = http.get(f"{url}/api/v1/workflows/runs/{run_id}", timeout=5).json()
        if detail["status"] in ("COMPLETED", "FAILED"):
            return detail
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_credential_created_from_a_steps_settings_is_selected_and_saved(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = _workflow(
        server, "Calls", [{"agentId": "http", "key": "call", "action": "", "config": {"url": "http://127.0.0.1:9/x"}}]
    )
    editor = Editor(page, server, workflow_id)
    editor.open()
    editor.select("call")

    editor.inspector.get_by_label("Credential", exact=True).click()
    page.locator(".q-menu .q-item").filter(has_text="Create new credential…").click()
    dialog = page.locator(".q-dialog .q-card")
    expect(dialog.get_by_text("New credential")).to_be_visible()
    dialog.get_by_label("Name (how agents refer to it)").press_sequentially("crm_token", delay=HUMAN_MS)
    dialog.get_by_label("Token or key").press_sequentially("sk-live-4f9a2c7d", delay=HUMAN_MS)
    _shot(page, "01-new-credential", dark=False)
    dialog.get_by_role("button", name="Save").click()

    expect(page.locator(".q-dialog")).to_have_count(0)
    expect(editor.inspector.locator(".q-select").filter(has_text="crm_token · API key")).to_be_visible()
    expect(editor.save_state).to_have_text("Unsaved changes")
    _shot(page, "02-credential-chosen")
    editor.save()
    assert _step(server, workflow_id, "call")["config"]["credential"] == "crm_token"
    names = [c["name"] for c in http.get(f"{server}/api/v1/credentials", timeout=5).json()]
    assert names == ["crm_token"]


def _data_tab(editor: Editor, key: str) -> None:
    editor.select(key)
    editor.inspector.get_by_role("tab", name="Data").click()
    expect(editor.page.locator(".fy-data-view")).to_be_visible()


def test_an_upstream_field_clicked_into_the_mapping_is_used_by_the_next_run(server: str, page: Page) -> None:  # noqa: F811
    workflow_id = _workflow(
        server,
        "Leads",
        [
            {"agentId": "transform", "key": "enrich", "action": ENRICH},
            {"agentId": "transform", "key": "notify", "action": "{{ input }}"},
        ],
    )
    first = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"email": "ada@example.com"}})["runId"]
    assert _finished(server, first)["status"] == "COMPLETED"
    editor = Editor(page, server, workflow_id)
    editor.open()
    _data_tab(editor, "notify")
    view = page.locator(".fy-data-view")
    expect(view.locator('[data-ref="nodes.enrich.output.score"]')).to_be_visible()
    expect(view.locator(".fy-data-view__out")).to_contain_text("ada@example.com")  # the last output, on the right

    mapping = view.locator(".fy-template-editor").first.locator(".cm-content")
    mapping.click()
    mapping.press_sequentially('{"score": "', delay=HUMAN_MS)  # (CodeMirror closes the brace and the quote)
    view.locator('[data-ref="nodes.enrich.output.score"]').click()
    expect(mapping).to_have_text('{"score": "{{ nodes.enrich.output.score }}"}')
    page.keyboard.press("End")  # (the cursor stays where the field went in: inside the quotes)
    page.keyboard.press("ArrowLeft")
    mapping.press_sequentially(', "to": "', delay=HUMAN_MS)
    view.locator('.fy-data-view__in [data-ref="input.email"]').first.click()
    expect(mapping).to_have_text('{"score": "{{ nodes.enrich.output.score }}", "to": "{{ input.email }}"}')
    expect(editor.save_state).to_have_text("Unsaved changes")
    _shot(page, "03-field-picked")

    editor.save()
    step = _step(server, workflow_id, "notify")
    assert step.get("inputMapping", step.get("input_mapping")) == {
        "score": "{{ nodes.enrich.output.score }}",
        "to": "{{ input.email }}",
    }
    second = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"email": "grace@example.com"}})["runId"]
    detail = _finished(server, second)
    notify = next(n for n in detail["nodes"] if n["key"] == "notify")
    assert notify["output"] == {"score": 7, "to": "grace@example.com"}


def test_the_data_tab_fits_a_small_window_with_the_palette_folded(server: str, page: Page) -> None:  # noqa: F811
    page.set_viewport_size({"width": 1024, "height": 700})
    workflow_id = _workflow(
        server,
        "Small",
        [
            {"agentId": "transform", "key": "enrich", "action": ENRICH},
            {"agentId": "transform", "key": "notify", "action": "{{ input }}"},
        ],
    )
    first = api_post(server, f"/workflows/{workflow_id}/run", {"input": {"email": "ada@example.com"}})["runId"]
    _finished(server, first)
    editor = Editor(page, server, workflow_id)
    editor.open()
    page.get_by_role("button", name="Hide the palette").click()
    editor.select("notify")
    expect(editor.inspector.get_by_role("tab", name="Try")).to_be_in_viewport(ratio=1)  # five tabs fit the panel
    _shot(page, "04-small-settings")
    _data_tab(editor, "notify")

    view = page.locator(".fy-data-view")
    box = view.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1024
    mapping = view.locator(".fy-template-editor").first.locator(".cm-content")
    mapping.click()
    view.locator('[data-ref="nodes.enrich.output.email"]').click()
    expect(mapping).to_have_text("{{ nodes.enrich.output.email }}")
    action = view.locator(".fy-template-editor").nth(1).locator(".cm-content")
    view.locator('[data-ref="nodes.enrich.output.score"]').drag_to(action)  # dragged: it goes where it is dropped
    expect(action).to_contain_text("{{ nodes.enrich.output.score }}")
    _shot(page, "05-small-window")
