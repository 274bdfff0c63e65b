"""Shared fixtures: settings on a temporary data directory, an API client, PostgreSQL databases.

PostgreSQL tests run whenever the server answers; with `CI` set they must run, so an
unreachable server fails them instead of skipping them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.main import create_api
from app.root import Flowyard
from app.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "FLOWYARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", lease_seconds=5, recovery_interval_seconds=0.5)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to a fresh Flowyard API (lifespan started, executor running)."""
    app = create_api(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://flowyard.test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
def flowyard_of(api: httpx.AsyncClient) -> Flowyard:
    """The application object behind `api` (to wait for runs without polling)."""
    flowyard: Flowyard = api.app.state.flowyard  # type: ignore[attr-defined]
    return flowyard


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:
        engine.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: sa.Engine) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"flowyard_test_{secrets.token_hex(6)}"
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _postgres_migrated(postgres_admin: sa.Engine) -> Iterator[str]:
    """One migrated PostgreSQL database for the whole session (emptied before each test that uses it)."""
    from storage.db import create_db_engine, migrate

    name = f"flowyard_test_shared_{secrets.token_hex(6)}"
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def migrated_postgres_url(_postgres_migrated: str) -> Iterator[str]:
    """A migrated PostgreSQL database with every table empty: far cheaper than a new database per test."""
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401  (registers the tables)

    engine = sa.create_engine(_postgres_migrated)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield _postgres_migrated
