"""`flowyard desktop` as a person uses it, in a real window under Xvfb: it opens on the workflows page, closing the
window stops everything cleanly (exit code 0), and a run in flight when it closed goes on at the next start.

Needs Xvfb (`make xvfb`, Debian's xvfb) and the desktop extra (pywebview, PyQt6 WebEngine: `make test` installs
both). Where either is missing the tests are skipped, except in CI (`CI` set), where they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.desktop import missing_packages
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.databases import fresh_data_dir
from tests.e2e.x11 import close_windows, grab, xvfb

pytestmark = pytest.mark.slow

SHOWN = re.compile(r"desktop window loaded (http://127\.0\.0\.1:\d+)/workflows")
START_SECONDS = 90.0


def _what_is_missing() -> str | None:
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (make xvfb)"
    return missing_packages()


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    missing = _what_is_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the desktop window test must run in CI: {missing}")
        pytest.skip(missing)
    with xvfb() as name:
        yield name


@dataclass
class Desktop:
    """A running `flowyard desktop` and what it has printed so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], seconds: float = START_SECONDS) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = pattern.search(self.output)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern.pattern!r} from flowyard desktop:\n{self.output[-4000:]}")

    def wait_exit(self, seconds: float = 60) -> int:
        code = self.process.wait(seconds)
        time.sleep(0.2)  # (the reader thread takes the last lines)
        return code


@contextmanager
def desktop(display: str, data_dir: Path) -> Iterator[Desktop]:
    """`flowyard desktop` on `display` with its own `data_dir`; killed afterwards if a test left it running."""
    env = {
        **os.environ,
        "DISPLAY": display,
        "FLOWYARD_ADMIN_TOKEN": ADMIN_TOKEN,
        "QT_QPA_PLATFORM": "xcb",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("FLOWYARD_DATA_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "desktop", "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Desktop(process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(10)
        assert process.stdout is not None
        process.stdout.close()


def _screen_changed(display: str, path: Path, seconds: float = 20) -> dict[str, Any]:
    """Grab the screen until the page has painted (more than a few colours), and say what it held."""
    deadline = time.monotonic() + seconds
    while True:
        facts = grab(display, path)
        if facts["colours"] >= 12 or time.monotonic() > deadline:
            return facts
        time.sleep(0.5)


def test_the_desktop_window_opens_on_the_workflows_page_and_closes_cleanly(display: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "desktop-data"
    screenshot = tmp_path / "desktop.png"

    with desktop(display, data_dir) as app:
        url = app.wait_for(SHOWN).group(1)
        app.wait_for(re.compile(r"desktop window shows /workflows"))
        assert httpx.get(f"{url}/api/health", timeout=5).json() == {"status": "ok"}
        facts = _screen_changed(display, screenshot)
        print(f"screenshot of the desktop window: {screenshot}")

        assert facts["saved"], facts
        assert (facts["width"], facts["height"]) == (1280, 900)
        assert facts["colours"] >= 12, f"the window looks blank: {facts}"
        assert facts["lit"] > 0.8, f"the window does not fill the screen: {facts}"  # (Xvfb's background is black)

        assert close_windows(display) == 1
        code = app.wait_exit()

    assert code == 0, app.output[-4000:]
    assert "The desktop window was closed: stopping" in app.output
    assert "Application shutdown complete" in app.output
    assert (data_dir / "flowyard.db").is_file()


def test_a_run_in_flight_when_the_window_closes_goes_on_at_the_next_start(display: str, tmp_path: Path) -> None:
    data_dir = fresh_data_dir(tmp_path / "desktop-data")

    with desktop(display, data_dir) as app:
        url = app.wait_for(SHOWN).group(1) + "/api/v1"
        workflow = httpx.post(f"{url}/workflows", json={"name": "Slow"}, headers=AUTH).json()
        for agent, action in (("delay", "3"), ("transform", "{{ input }} done")):
            step = {"agentId": agent, "action": action}
            assert httpx.post(f"{url}/workflows/{workflow['id']}/steps", json=step, headers=AUTH).status_code == 201
        started = httpx.post(f"{url}/workflows/{workflow['id']}/run", json={"input": "job"}, headers=AUTH)
        run_id = started.json()["runId"]
        _wait_status(url, run_id, "RUNNING")

        close_windows(display)
        assert app.wait_exit() == 0, app.output[-4000:]
    with closing(sqlite3.connect(data_dir / "flowyard.db")) as db:  # closed mid-run: neither finished nor failed
        assert db.execute("select status from runs where id = ?", (run_id,)).fetchone() == ("RUNNING",)

    with desktop(display, data_dir) as again:
        url = again.wait_for(SHOWN).group(1) + "/api/v1"
        run = _wait_status(url, run_id, "COMPLETED")
        assert run["output"] == "job done"
        close_windows(display)
        assert again.wait_exit() == 0, again.output[-4000:]


def _wait_status(url: str, run_id: str, status: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = httpx.get(f"{url}/workflows/runs/{run_id}", headers=AUTH, timeout=5).json()
        if run.get("status") == status:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} is not {status}: {run}")
