"""Database engines, connection set-up and migrations.

SQLite (the default) runs in WAL mode with ``synchronous=NORMAL``: a commit costs about a tenth
of a millisecond, less than handing the work to a thread, so `Database.run` calls SQLite inline
on the event loop and sends PostgreSQL work to a thread, where a network round trip would
otherwise block the loop.

The SQLite file is created readable by its owner only (0600, in a folder created 0700): it holds
every workflow, run and encrypted credential. A database that cannot save (read-only, disk full)
or cannot be reached raises `StorageUnavailable` with a one-line reason instead of SQLAlchemy's
OperationalError, so that the API can answer 503 and `flowyard serve` can say why it cannot start.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session

from app.engine.exceptions import StorageUnavailable

__all__ = ["Database", "check_writable", "create_db_engine", "migrate", "unavailable"]

P = ParamSpec("P")
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite's parent folder created and its pragmas set per connection."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            _create_private(Path(database).expanduser())
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _create_private(path: Path) -> None:
    """The SQLite file's folder (0700 when created here) and the file itself (0600), if they do not exist.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


_REASONS = (
    ("readonly", "the database is read-only: nothing can be saved"),
    ("disk is full", "the disk is full: nothing can be saved until space is freed"),
    ("disk i/o error", "the disk failed while reading or writing the database"),
    ("unable to open database file", "the database file cannot be opened"),
    ("database is locked", "the database is busy with another process's work; try again"),
)


def unavailable(exc: sa.exc.OperationalError) -> StorageUnavailable:
    """The one-line reason a database refused to work, as the error the API answers 503 to."""
    text = str(exc.orig or exc).lower()
    for marker, reason in _REASONS:
        if marker in text:
            return StorageUnavailable(reason)
    return StorageUnavailable(f"the database cannot be reached: {str(exc.orig or exc).splitlines()[0][:200]}")


def check_writable(engine: Engine) -> None:
    """Raise StorageUnavailable unless the database takes a write (a read-only file, a full disk refuse it)."""
    try:
        with engine.begin() as connection:
            if sa.inspect(connection).has_table("alembic_version"):
                connection.execute(sa.text("UPDATE alembic_version SET version_num = version_num"))
            else:
                connection.execute(sa.text("CREATE TABLE flowyard_probe (x INTEGER)"))
                connection.execute(sa.text("DROP TABLE flowyard_probe"))
    except sa.exc.OperationalError as exc:
        raise unavailable(exc) from exc


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # an ini value: % would start interpolation
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest revision of the migrations (read once per process)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def _at_head(connection: sa.Connection) -> bool:
    if not sa.inspect(connection).has_table("alembic_version"):
        return False
    current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return current == [head_revision()]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; a database already there is only looked at)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        if _at_head(connection):
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """An engine plus the rule for running blocking database work from async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._in_threads: set[asyncio.Future[Any]] = set()

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_db_engine(url))

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` with the database; StorageUnavailable when the database refuses to work."""
        try:
            return await self._run(fn, *args, **kwargs)
        except sa.exc.OperationalError as exc:
            raise unavailable(exc) from exc

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.is_sqlite:
            return fn(*args, **kwargs)
        context = contextvars.copy_context()
        work = asyncio.get_running_loop().run_in_executor(None, functools.partial(context.run, fn, *args, **kwargs))
        # Cancelling the caller does not stop the thread: keep the work until it ends, so `drain()` can wait
        # for it instead of closing the pool under a connection it still holds.
        self._in_threads.add(work)
        work.add_done_callback(self._in_threads.discard)
        return await asyncio.shield(work)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (up to `timeout` seconds) for database work still running in threads: call before `dispose()`."""
        if self._in_threads:
            await asyncio.wait(set(self._in_threads), timeout=timeout)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- the one way to work on the database --------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """An ORM session whose work commits when the block ends (and rolls back if it raises).

        Objects stay loaded after the commit, so what the block returns can be read outside it.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    def _in_transaction(self, fn: Callable[[Session], T]) -> T:
        with self.transaction() as session:
            return fn(session)

    def _connected(self, fn: Callable[[sa.Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    def _begun(self, fn: Callable[[sa.Connection], T]) -> T:
        with self.engine.begin() as conn:
            return fn(conn)

    async def tx(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` in one transaction (see `transaction`), off the event loop where that matters."""
        return await self.run(self._in_transaction, fn)

    async def read(self, fn: Callable[[sa.Connection], T]) -> T:
        """`fn(connection)` on a Core connection, for reads (nothing is committed)."""
        return await self.run(self._connected, fn)

    async def write(self, fn: Callable[[sa.Connection], T]) -> T:
        """`fn(connection)` on a Core connection in one transaction."""
        return await self.run(self._begun, fn)
