"""Fixtures of the batch tests: a running Flowyard on a temporary SQLite file, and a local HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app.root import Flowyard
from app.settings import Settings
from tests.servers import LocalServer


@pytest.fixture
async def flowyard(settings: Settings) -> AsyncIterator[Flowyard]:
    app = Flowyard.open(settings)
    await app.start()
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
def web() -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1 that `http` steps call."""
    with LocalServer() as server:
        yield server
