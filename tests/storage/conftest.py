"""The stores every contract test runs against: memory, SQLite on a fresh file, PostgreSQL on a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.memory import InMemoryRunStore
from app.engine.store import RunStore
from tests.databases import fresh_sqlite_url
from tests.storage.stores import Seed, open_sql_store, seed_for


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'flowyard.db'}"


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database on a fresh file (a copy of the session's template)."""
    return fresh_sqlite_url(tmp_path / "flowyard.db")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield InMemoryRunStore()
        return
    url_fixture = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    with open_sql_store(request.getfixturevalue(url_fixture)) as sql_store:
        yield sql_store


@pytest.fixture
def seed(store: RunStore) -> Seed:
    """Publishes workflow versions and agents into `store`, whichever kind it is."""
    return seed_for(store)
