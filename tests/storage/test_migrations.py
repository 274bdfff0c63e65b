"""The Alembic migrations build exactly the schema `storage/models.py` declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.db import alembic_config, create_db_engine, migrate


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """An engine on a fresh, empty database."""
    url_fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    engine = create_db_engine(request.getfixturevalue(url_fixture))
    yield engine
    engine.dispose()


def head_revision(engine: sa.Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrate_brings_an_empty_database_to_the_head_revision(engine: sa.Engine) -> None:
    migrate(engine)

    assert current_revision(engine) == head_revision(engine)
    assert table_names(engine) == set(SQLModel.metadata.tables) | {"alembic_version"}


def test_migrate_twice_changes_nothing(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO sessions (id, created_at, updated_at) VALUES ('kept', '2030-01-01', '2030-01-01')")
        )

    migrate(engine)

    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id FROM sessions")).scalars().all() == ["kept"]


def test_migrated_schema_matches_the_models(engine: sa.Engine) -> None:
    migrate(engine)

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []


def test_downgrade_to_base_removes_every_table(engine: sa.Engine) -> None:
    migrate(engine)
    config = alembic_config(engine)

    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")

    assert table_names(engine) <= {"alembic_version"}
    assert current_revision(engine) is None


def test_sqlite_connections_run_in_wal_mode(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_sqlite_connections_enforce_foreign_keys(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            with pytest.raises(sa.exc.IntegrityError):
                conn.execute(
                    sa.text(
                        "INSERT INTO node_runs (run_id, node_key, status, attempt) VALUES ('wr-x', 'a', 'PENDING', 0)"
                    )
                )
    finally:
        engine.dispose()
