"""Real browsers and real NiceGUI apps for end-to-end tests.

- `browser` (one per test module) launches Debian's `/usr/bin/chromium` when it is there (this project's
  machines and CI), else Playwright's own Chromium (`playwright install chromium` on a developer's machine).
- `page` (one per test) is a fresh browser context and page, so tests share no cookies or storage.
- `nicegui_app(path)` starts a NiceGUI app file as a subprocess on a free port and waits until it answers.

Use them from a test module with `from tests.e2e.browser import browser, page  # noqa: F401`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

__all__ = ["CHROMIUM", "SCREENSHOTS", "Shots", "browser", "free_port", "nicegui_app", "page", "settle"]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / ".screenshots"
VIEWPORT = {"width": 1400, "height": 860}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        if CHROMIUM.exists():
            instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        else:
            instance = playwright.chromium.launch()
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def nicegui_app(app_file: Path, *, env: dict[str, str] | None = None, timeout: float = 60) -> Iterator[str]:
    """Run `python app_file` with `PORT` set to a free port; yield its base URL; stop it afterwards.

    The process runs in a temporary directory (NiceGUI keeps its `.nicegui/` storage in the working
    directory) with the repository on `PYTHONPATH`. Its output goes to a log that a start-up failure quotes.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="nicegui-app-") as workdir:
        log_path = Path(workdir) / "app.log"
        with log_path.open("wb") as log:
            pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
            # without pytest's variables: NiceGUI would think it runs inside pytest and ignore the port
            inherited = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
            process = subprocess.Popen(
                [sys.executable, str(app_file)],
                cwd=workdir,
                env={**inherited, "PORT": str(port), "PYTHONPATH": pythonpath, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_until_up(process, url, log_path, timeout)
                yield url
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not answer within {timeout} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)


_SETTLE = """async () => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
    const shown = (target) => !target || !target.checkVisibility || target.checkVisibility({visibilityProperty: true});
    const ending = () => document.getAnimations().filter(
        (a) => a.playState === "running" && a.effect && a.effect.getComputedTiming().endTime !== Infinity
            && shown(a.effect.target)
    );
    const deadline = performance.now() + 2000;
    await frame();
    await frame();
    while (performance.now() < deadline) {
        const running = ending();
        if (!running.length) return;
        const timeout = new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())));
        await Promise.race([Promise.all(running.map((a) => a.finished.catch(() => null))), timeout]);
        await frame();
    }
}"""


def settle(tab: Page) -> None:
    """Wait until the page's CSS transitions and animations that end have ended (dialogs, menus and tabs sliding
    in, colours fading), instead of a fixed pause: what is drawn next (a screenshot, axe's colours) is final.

    Endless ones (spinners, a running step's pulse) and those of hidden elements (NiceGUI's connection popup
    fades its colour on every load) are not waited for. Two frames pass first, so that what the last action
    started has started; a page that keeps starting new ones (a live progress bar) is waited for 2 s at most.
    """
    tab.evaluate(_SETTLE)


class Shots:
    """Numbered screenshots of a journey: `.screenshots/<prefix>-<nn>-<step>.png`."""

    def __init__(self, tab: Page, prefix: str) -> None:
        self.page, self.prefix, self.count = tab, prefix, 0
        SCREENSHOTS.mkdir(exist_ok=True)

    def __call__(self, step: str) -> None:
        self.count += 1
        self.page.wait_for_timeout(150)
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{step}.png"))
