"""Real `flowyard serve` processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, AUTH
from tests.databases import fresh_data_dir

ADMIN_EMAIL = "ada@example.com"
ADMIN_PASSWORD = "correct horse battery"

http = httpx.Client(headers=AUTH, timeout=10)
"""Calls to the servers' API as their bootstrap admin token (every server here has `ADMIN_TOKEN`)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def flowyard_server(
    data_dir: Path, port: int, *, env: dict[str, str] | None = None, admin: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `flowyard serve` and wait for /api/health; on exit, stop it (if a test has not killed it).

    `admin`: add the admin people log in as (`ADMIN_EMAIL`); without it the server is as new, with no users.
    """
    fresh_data_dir(data_dir)
    log = (data_dir.parent / f"serve-{port}-{time.monotonic_ns()}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "FLOWYARD_DATA_DIR": str(data_dir), "FLOWYARD_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"flowyard serve exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json() == {"status": "ok"}:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"flowyard serve did not become healthy; see {log.name}")
            time.sleep(0.1)
        if admin:
            token = (env or {}).get("FLOWYARD_ADMIN_TOKEN", ADMIN_TOKEN)
            _add_admin(f"http://127.0.0.1:{port}", token)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One `flowyard serve` (with the admin) for all the tests of a module that use it: its URL.

    A server takes seconds to start. Tests that work only on workflows, runs and credentials they make themselves
    share one; a test that asserts anything of the whole instance (no runs yet, an inbox of one, the people)
    starts its own with `flowyard_server`.
    """
    port = free_port()
    with flowyard_server(tmp_path_factory.mktemp("flowyard") / "data", port):
        yield f"http://127.0.0.1:{port}"


def _add_admin(url: str, token: str) -> None:
    """The admin people log in as (`ADMIN_EMAIL`, `ADMIN_PASSWORD`): there already after a restart."""
    body = {"email": ADMIN_EMAIL, "name": "Ada Lovelace", "role": "admin", "password": ADMIN_PASSWORD}
    response = http.post(f"{url}/api/v1/users", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (201, 409), response.text


def log_in(page: Any, url: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """Log the page's browser context in (its cookie jar gets the login), as the login form would.

    The redirect is not followed: the page it leads to would be built for nothing, in every test.
    """
    form = {"email": email, "password": password, "next": "/"}
    response = page.request.post(f"{url}/auth/login", form=form, max_redirects=0)
    location = response.headers.get("location", "")
    assert response.status == 303 and "/login" not in location, f"login failed: {response.status} {location}"


def api_post(url: str, path: str, body: dict[str, Any]) -> Any:
    """POST to the server's /api/v1; the JSON answer of a 200, 201 or 202 (anything else fails the test)."""
    response = http.post(f"{url}/api/v1{path}", json=body, timeout=5)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()
