"""Migrated databases for tests: the schema is migrated once per test process and copied per test.

Migrating a fresh SQLite file with Alembic costs about half a second; copying a migrated one costs a
few milliseconds (and `storage.db.migrate` then finds it at the head revision and does nothing).
`fresh_data_dir` gives a Flowyard data directory whose default database is such a copy; a directory
that already holds a database (a test restarting a server on its data) is left as it is.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from storage.db import create_db_engine, migrate

__all__ = ["fresh_data_dir", "fresh_sqlite_url", "sqlite_template"]

DATABASE = "flowyard.db"  # the default database's name in a data directory (app/settings.py)


@functools.cache
def sqlite_template() -> Path:
    """A migrated SQLite file, made on first use and removed when the test process ends."""
    folder = Path(tempfile.mkdtemp(prefix="flowyard-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / DATABASE
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closes: the WAL is checkpointed into the file
    return path


def fresh_sqlite_url(path: Path) -> str:
    """A migrated SQLite database at `path` (a copy of the template unless one is there), as a URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        shutil.copyfile(sqlite_template(), path)
    return f"sqlite:///{path}"


def fresh_data_dir(path: Path) -> Path:
    """`path` as a Flowyard data directory whose default database is already migrated."""
    fresh_sqlite_url(path / DATABASE)
    return path
