"""Shared fixtures: settings on a temporary data directory, an API client, PostgreSQL databases.

PostgreSQL tests run whenever the server answers; with `CI` set they must run, so an
unreachable server fails them instead of skipping them.
"""

from __future__ import annotations

import os

# Outbound calls refuse loopback unless allowed (app/outbound.py); the suite's stand-in servers listen on it.
# Set before anything builds Settings, so every test and every server process a test starts inherits it.
os.environ.setdefault("FLOWYARD_ALLOW_PRIVATE_NETWORKS", "127.0.0.1/32,::1/128")

import gc
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.dependencies import models as fastapi_models
from sqlmodel import SQLModel

from app.main import create_api
from app.root import Flowyard
from app.settings import Settings
from storage.db import create_db_engine, migrate
from tests.databases import fresh_data_dir

POSTGRES_ADMIN_URL = os.environ.get(
    "FLOWYARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the `slow` tests (real servers and browsers, seconds to minutes each) first, in their own order.

    Started last, a long one would keep one worker busy while the others have nothing left to do; started first,
    the thousands of quick tests fill the other workers meanwhile and even out the end (pyproject's
    `--dist worksteal` moves queued tests to whichever worker runs out).
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # (stable: the order is otherwise kept)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what importing and collecting made out of the garbage collector's sight.

    FastAPI, NiceGUI, SQLAlchemy, pydantic, the app's modules and the test items are some 200,000 objects that
    live as long as the test process; frozen, the collections NiceGUI runs around each UI test only walk what
    the tests create (0.15 s a collection becomes 0.015 s).
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _forget_what_each_test_built() -> Iterator[None]:
    """After every test, let go of what process-wide caches keep of the apps and databases it built.

    A process serves one app on one database; tests build hundreds of each, and these caches would keep them
    all, so that every garbage collection (NiceGUI collects around each UI test) walks more and more:
    FastAPI keeps up to 4096 endpoints (and with each its app, the services, a page module and every client
    and element its refreshables point to), and each ORM mapper keeps statements compiled for up to 100
    database dialects, one per engine.
    """
    yield
    for cached in vars(fastapi_models).values():
        if callable(getattr(cached, "cache_clear", None)):
            cached.cache_clear()
    for mapper in SQLModel._sa_registry.mappers:
        mapper.__dict__.get("_compiled_cache", {}).clear()  # (memoized on first use: do not create it here)


ADMIN_TOKEN = "test-admin-token-0123456789"
"""The bootstrap admin token (`FLOWYARD_ADMIN_TOKEN`) of the tests' Flowyard: the `api` client sends it."""
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def admin_client(app: Any) -> httpx.AsyncClient:
    """A client of `app` (an ASGI app whose settings have `ADMIN_TOKEN`) that sends the admin token."""
    return admin_client(app)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=fresh_data_dir(tmp_path / "data"),
        lease_seconds=5,
        recovery_interval_seconds=0.5,
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to a fresh Flowyard API (lifespan started, executor running), as the admin token
    (`ADMIN_TOKEN`, unless the test's settings name another)."""
    if settings.admin_token is None:
        settings = settings.model_copy(update={"admin_token": ADMIN_TOKEN})
    app = create_api(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {settings.admin_token}"} if settings.admin_token else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
async def anonymous(api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same API that sends no credentials."""
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
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


def _create_database(postgres_admin: sa.Engine, prefix: str, *, template: str | None = None) -> str:
    name = f"{prefix}_{secrets.token_hex(6)}"
    like = f' TEMPLATE "{template}"' if template else ""
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{like}'))
    return name


def _drop_database(postgres_admin: sa.Engine, name: str) -> None:
    with postgres_admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _url(postgres_admin: sa.Engine, name: str) -> str:
    return postgres_admin.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_template(postgres_admin: sa.Engine) -> Iterator[str]:
    """A PostgreSQL database migrated once per session, which the migrated databases of tests are cloned from.

    Nothing stays connected to it: `CREATE DATABASE … TEMPLATE` refuses a template that is in use.
    """
    name = _create_database(postgres_admin, "flowyard_test_template")
    engine = create_db_engine(_url(postgres_admin, name))
    migrate(engine)
    engine.dispose()
    yield name
    _drop_database(postgres_admin, name)


@pytest.fixture
def own_migrated_postgres_url(postgres_admin: sa.Engine, _postgres_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (a clone of the template), dropped afterwards.

    For tests whose database other processes share, or that must not see another test's leftovers;
    `migrated_postgres_url` is cheaper still.
    """
    name = _create_database(postgres_admin, "flowyard_test", template=_postgres_template)
    yield _url(postgres_admin, name)
    _drop_database(postgres_admin, name)


@pytest.fixture(scope="session")
def _postgres_migrated(postgres_admin: sa.Engine, _postgres_template: str) -> Iterator[str]:
    """One migrated PostgreSQL database for the whole session (emptied before each test that uses it)."""
    name = _create_database(postgres_admin, "flowyard_test_shared", template=_postgres_template)
    yield _url(postgres_admin, name)
    _drop_database(postgres_admin, name)


@pytest.fixture
def migrated_postgres_url(_postgres_migrated: str) -> Iterator[str]:
    """A migrated PostgreSQL database with every table empty: far cheaper than a new database per test.

    Rows are deleted (children first) and the sequences restarted rather than TRUNCATEd: on tables this small
    that takes a quarter of the time, since TRUNCATE gives every table new files.
    """
    import storage.models  # noqa: F401  (registers the tables)

    engine = sa.create_engine(_postgres_migrated)
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())
        sequences = conn.execute(
            sa.text("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'")
        ).scalars()
        for sequence in sequences.all():
            conn.execute(sa.text(f'ALTER SEQUENCE "{sequence}" RESTART'))
    engine.dispose()
    yield _postgres_migrated
