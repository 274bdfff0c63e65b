"""Where Flowyard keeps its data: created for its owner only; a read-only or full disk is a JSON 503 with the reason
at request time, and one line (not a traceback) when `flowyard serve` starts.

Tests may run as root, whom file permissions do not stop, so a read-only database is SQLite's `query_only` (or a
`mode=ro` database URL), a full disk is `max_page_count` at the database's size, and an unwritable data directory
is one below a plain file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app import cli, keys
from app.root import Flowyard
from app.settings import Settings
from storage.db import create_db_engine, migrate
from tests.api.helpers import V1, create_workflow


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def _on_every_connection(flowyard: Flowyard, pragma: str) -> Iterator[None]:
    """`pragma` on every connection to the database while the block runs ("full": no page more than now)."""
    engine = flowyard.db.engine

    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if pragma == "full":
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count={pages}")
        else:
            cursor.execute(pragma)
        cursor.close()

    sa.event.listen(engine, "connect", apply)
    engine.dispose()  # the connections open now were made without it
    try:
        yield
    finally:
        sa.event.remove(engine, "connect", apply)
        engine.dispose()


@pytest.fixture
def read_only(flowyard_of: Flowyard) -> Iterator[None]:
    with _on_every_connection(flowyard_of, "PRAGMA query_only=ON"):
        yield


@pytest.fixture
def disk_full(flowyard_of: Flowyard) -> Iterator[None]:
    with _on_every_connection(flowyard_of, "full"):
        yield


async def test_a_write_to_a_read_only_database_answers_json_503_saying_so(
    api: httpx.AsyncClient, read_only: None
) -> None:
    response = await api.post(f"{V1}/workflows", json={"name": "Digest"})

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "the database is read-only: nothing can be saved"}


async def test_reads_still_answer_while_writes_are_refused(api: httpx.AsyncClient, read_only: None) -> None:
    response = await api.get(f"{V1}/workflows")

    assert response.status_code == 200


async def test_a_write_on_a_full_disk_answers_json_503_saying_so(api: httpx.AsyncClient, disk_full: None) -> None:
    workflow = {"name": "Digest", "description": "d" * 5000}

    responses = [await api.post(f"{V1}/workflows", json=workflow) for _ in range(3)]  # the last page fills up

    assert responses[-1].status_code == 503
    assert responses[-1].json() == {"detail": "the disk is full: nothing can be saved until space is freed"}


async def test_a_run_refused_by_a_read_only_database_is_a_503_too(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await create_workflow(api)
    await api.post(f"{V1}/workflows/{workflow['id']}/steps", json={"agentId": "transform", "action": "{{ input }}"})

    with _on_every_connection(flowyard_of, "PRAGMA query_only=ON"):
        response = await api.post(f"{V1}/workflows/{workflow['id']}/run", json={"input": "go"})

    assert response.status_code == 503
    assert "read-only" in response.json()["detail"]


def test_the_database_and_the_data_directory_are_created_for_their_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)

    engine = create_db_engine(settings.resolved_database_url)
    migrate(engine)
    engine.dispose()
    keys.callback_secret(settings)
    keys.secret_key(settings)

    assert _mode(data) == 0o700
    modes = {p.name: _mode(p) for p in data.iterdir()}  # SQLite's -wal and -shm files too, while they exist
    assert {"flowyard.db", "callback_secret", "secret.key"} <= set(modes)
    assert set(modes.values()) == {0o600}


def _serve(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path, *argv: str) -> str:
    monkeypatch.setenv("FLOWYARD_DATA_DIR", str(data))
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("the server must not start"))

    code = cli.main(["serve", "--port", "1", *argv])

    assert code != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_serve_with_a_data_directory_it_cannot_create_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    data = tmp_path / "a-file" / "data"

    line = _serve(capsys, monkeypatch, data)

    assert line.startswith(f"flowyard serve: cannot write to the data directory {data}")


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not stop root")
def test_serve_with_a_read_only_data_directory_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    try:
        line = _serve(capsys, monkeypatch, data)
    finally:
        data.chmod(0o700)

    assert line.startswith("flowyard serve: cannot write to the data directory ")
    assert line.endswith(f"{data.name}: Permission denied")


def test_serve_with_a_read_only_database_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "flowyard.db"
    engine = create_db_engine(f"sqlite:///{database}")
    migrate(engine)
    engine.dispose()

    line = _serve(capsys, monkeypatch, tmp_path / "data", "--db", f"sqlite:///file:{database}?mode=ro&uri=true")

    assert (
        line
        == f"flowyard serve: cannot use the database file:{database}: the database is read-only: nothing can be saved"
    )
