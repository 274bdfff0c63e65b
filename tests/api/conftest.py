"""Fixtures of the API tests: a real HTTP server on 127.0.0.1 for the steps that call out, and a closed port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.servers import LocalServer


@pytest.fixture
def web() -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1 that `http` steps call and callbacks are delivered to."""
    with LocalServer() as server:
        yield server


@pytest.fixture
def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
