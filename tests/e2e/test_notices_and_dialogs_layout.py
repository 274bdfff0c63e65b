"""Notices and dialogs on a small laptop (1024 by 700), in a real Chromium, light and dark.

The batch dialog's preview can be long: its body scrolls and Start and Cancel stay in view. A yellow
"waiting for approval" notice has dark text (and a dark Close) on the warning colour, 4.5:1 or better.
Screenshots: `.screenshots/notices-<nn>-<step>.png`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import Shots, browser, page  # noqa: F401  (fixtures)
from tests.e2e.conftest import api_post, flowyard_server, free_port, log_in

pytestmark = pytest.mark.slow

SMALL = {"width": 1024, "height": 700}

CONTRAST = """([fg, bg]) => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture
def server(tmp_path: Path, page: Page) -> Iterator[str]:  # noqa: F811
    port = free_port()
    with flowyard_server(tmp_path / "data", port):
        url = f"http://127.0.0.1:{port}"
        log_in(page, url)
        yield url


def _in_view(page: Page, name: str) -> bool:  # noqa: F811
    box = page.get_by_role("button", name=name).bounding_box()
    assert box is not None, name
    return box["y"] >= 0 and box["y"] + box["height"] <= SMALL["height"]


def _warning_contrast(page: Page) -> tuple[float, float]:  # noqa: F811
    """The contrast of a warning notice's text and of its Close button against the notice's colour."""
    page.evaluate(  # as the run notice does: "Run started", then updated when the run waits
        """() => {
          const close = [{label: 'Close', color: 'white', noCaps: true}];  // as run_dialog.CLOSE
          window.notice = Quasar.Notify.create({type: 'ongoing', message: 'Run started', timeout: 0, spinner: true,
                                                actions: close});
          window.notice({type: 'warning', spinner: false, message: 'Run waiting for approval', actions: close});
        }"""
    )
    notice = page.locator(".q-notification").last
    expect(notice).to_be_visible()
    colours = notice.evaluate(
        """(el) => [getComputedStyle(el.querySelector('.q-notification__message')).color,
                    getComputedStyle(el.querySelector('.q-btn')).color,
                    getComputedStyle(el).backgroundColor]"""
    )
    text, button, background = colours
    expect(page.locator(".q-notification")).to_have_count(1)  # updated in place, not stacked
    return page.evaluate(CONTRAST, [text, background]), page.evaluate(CONTRAST, [button, background])


def test_the_batch_dialog_keeps_its_buttons_in_view_and_warning_notices_read_well(
    server: str,
    tmp_path: Path,
    page: Page,  # noqa: F811
) -> None:
    shot = Shots(page, "notices")
    page.set_viewport_size(SMALL)
    workflow = api_post(server, "/workflows", {"name": "Enrich contacts"})
    api_post(server, f"/workflows/{workflow['id']}/steps", {"agentId": "enrich", "action": ""})
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("Email Address,Company Name,Notes\n" + "".join(f"p{n}@x.com,C{n},n{n}\n" for n in range(20)))

    page.goto(f"{server}/workflows/{workflow['id']}/batches")
    page.get_by_role("button", name="New batch").click()
    dialog = page.locator(".q-dialog")
    dialog.locator("input[type=file]").set_input_files(contacts)
    expect(dialog.get_by_text("contacts.csv: 20 rows, 3 columns")).to_be_visible()
    assert _in_view(page, "Start batch") and _in_view(page, "Cancel")
    shot("batch-light")
    for theme in ("light", "dark"):
        text, button = _warning_contrast(page)
        page.screenshot(path=f"/tmp/h10/warning-{theme}.png")
        page.evaluate("window.notice()")
        assert text >= 4.5 and button >= 4.5, (theme, text, button)
        if theme == "light":
            page.evaluate("Quasar.Dark.set(true)")
            page.evaluate("document.body.classList.add('body--dark')")
            assert _in_view(page, "Start batch") and _in_view(page, "Cancel")
            page.screenshot(path="/tmp/h10/batch-dark.png")
