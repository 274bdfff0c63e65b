"""Pruning run history: finished runs go with everything recorded about them, active runs always stay.
On SQLite and PostgreSQL, through the service and the `flowyard prune` command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app import cli
from app.engine.exceptions import InvalidInput, NotFound
from app.engine.model import RunStatus
from app.models.runs import PruneResult
from app.root import Flowyard
from app.settings import Settings
from storage import history
from storage.db import create_db_engine, migrate
from storage.models import ApprovalRow, CallbackDeliveryRow, NodeRunRow, RunRow, WorkflowRow
from tests.databases import fresh_sqlite_url

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
FINISHED = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]
ACTIVE = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return fresh_sqlite_url(tmp_path / "flowyard.db")
    url: str = request.getfixturevalue("migrated_postgres_url")
    return url


@pytest.fixture
async def flowyard(database_url: str, tmp_path: Path) -> AsyncIterator[Flowyard]:
    """Flowyard whose clock reads NOW, its executor not started: seeded runs stay as they are."""
    app = Flowyard.open(Settings(data_dir=tmp_path, database_url=database_url), now=lambda: NOW)
    yield app
    await app.close()


def table(model: Any) -> sa.Table:
    result: sa.Table = model.__table__
    return result


def seed(
    flowyard: Flowyard | sa.Engine, workflow_id: str, statuses: list[RunStatus], *, days_apart: float = 1
) -> list[str]:
    """Runs of `workflow_id`, newest first: the first created a day before NOW, each next one `days_apart` earlier.
    Each run has two node runs, an approval and a callback delivery."""
    engine = flowyard if isinstance(flowyard, sa.Engine) else flowyard.db.engine
    with engine.begin() as conn:
        if (
            conn.execute(sa.select(table(WorkflowRow).c.id).where(table(WorkflowRow).c.id == workflow_id)).first()
            is None
        ):
            conn.execute(
                sa.insert(table(WorkflowRow)).values(
                    id=workflow_id, name=workflow_id, description="", version=1, created_at=NOW, updated_at=NOW
                )
            )
        ids = []
        for number, status in enumerate(statuses):
            run_id = f"wr-{workflow_id}-{number:03d}"
            created = NOW - timedelta(days=1 + number * days_apart)
            ids.append(run_id)
            conn.execute(
                sa.insert(table(RunRow)).values(
                    id=run_id,
                    workflow_id=workflow_id,
                    workflow_version=1,
                    trigger="api",
                    status=status.value,
                    created_at=created,
                    updated_at=created,
                )
            )
            conn.execute(
                sa.insert(table(NodeRunRow)),
                [{"run_id": run_id, "node_key": key, "status": "COMPLETED", "attempt": 1} for key in ("a", "b")],
            )
            conn.execute(
                sa.insert(table(ApprovalRow)).values(
                    id=f"ap-{run_id}", run_id=run_id, node_key="b", status="APPROVED", created_at=created
                )
            )
            conn.execute(
                sa.insert(table(CallbackDeliveryRow)).values(
                    run_id=run_id, url="https://example.test/hook", attempt=1, status_code=200, created_at=created
                )
            )
    return ids


def remaining(flowyard: Flowyard) -> dict[str, int]:
    with flowyard.db.engine.connect() as conn:
        return {
            model.__tablename__: int(conn.execute(sa.select(sa.func.count()).select_from(table(model))).scalar_one())
            for model in (RunRow, NodeRunRow, ApprovalRow, CallbackDeliveryRow)
        }


def run_ids(flowyard: Flowyard) -> set[str]:
    with flowyard.db.engine.connect() as conn:
        return set(conn.execute(sa.select(table(RunRow).c.id)).scalars())


async def test_prune_older_than_deletes_old_finished_runs_with_their_records(flowyard: Flowyard) -> None:
    ids = seed(flowyard, "wf-a", FINISHED * 4)  # created 1 to 12 days ago

    result = await flowyard.runs.prune(older_than=timedelta(days=5, hours=12))

    assert result == PruneResult(runs=7, node_runs=14, approvals=7, callback_deliveries=7)
    assert run_ids(flowyard) == set(ids[:5])
    assert remaining(flowyard) == {"runs": 5, "node_runs": 10, "approvals": 5, "callback_deliveries": 5}


async def test_prune_never_deletes_active_runs(flowyard: Flowyard) -> None:
    ids = seed(flowyard, "wf-a", [*ACTIVE, *FINISHED])

    result = await flowyard.runs.prune(older_than=timedelta(0))

    assert result.runs == 3
    assert run_ids(flowyard) == set(ids[:3])


async def test_prune_keeps_a_finished_run_whose_callback_is_still_to_send(flowyard: Flowyard) -> None:
    ids = seed(flowyard, "wf-a", FINISHED)
    with flowyard.db.engine.begin() as conn:
        conn.execute(sa.update(table(RunRow)).where(table(RunRow).c.id == ids[0]).values(callback_state="PENDING"))
        conn.execute(sa.update(table(RunRow)).where(table(RunRow).c.id == ids[1]).values(callback_state="DELIVERED"))

    result = await flowyard.runs.prune(older_than=timedelta(0))

    assert result.runs == 2
    assert run_ids(flowyard) == {ids[0]}


async def test_prune_keep_leaves_the_newest_runs_of_each_workflow(flowyard: Flowyard) -> None:
    a = seed(flowyard, "wf-a", [RunStatus.COMPLETED] * 6)
    b = seed(flowyard, "wf-b", [RunStatus.FAILED] * 2)

    result = await flowyard.runs.prune(keep_per_workflow=3)

    assert result.runs == 3
    assert run_ids(flowyard) == set(a[:3]) | set(b)


async def test_prune_keep_counts_active_runs_among_the_newest(flowyard: Flowyard) -> None:
    ids = seed(flowyard, "wf-a", [RunStatus.PAUSED, RunStatus.COMPLETED, RunStatus.COMPLETED, RunStatus.RUNNING])

    await flowyard.runs.prune(keep_per_workflow=1)

    assert run_ids(flowyard) == {ids[0], ids[3]}


async def test_prune_with_both_deletes_only_old_runs_beyond_the_kept(flowyard: Flowyard) -> None:
    ids = seed(flowyard, "wf-a", [RunStatus.COMPLETED] * 10)  # 1 to 10 days old

    result = await flowyard.runs.prune(older_than=timedelta(days=3, hours=12), keep_per_workflow=6)

    assert result.runs == 4
    assert run_ids(flowyard) == set(ids[:6])


async def test_prune_keep_zero_deletes_every_finished_run(flowyard: Flowyard) -> None:
    seed(flowyard, "wf-a", [RunStatus.COMPLETED, RunStatus.QUEUED])

    result = await flowyard.runs.prune(keep_per_workflow=0)

    assert result.runs == 1


async def test_prune_of_one_workflow_leaves_the_others(flowyard: Flowyard) -> None:
    a = seed(flowyard, "wf-a", [RunStatus.COMPLETED] * 3)
    b = seed(flowyard, "wf-b", [RunStatus.COMPLETED] * 3)

    await flowyard.runs.prune(older_than=timedelta(0), workflow_id="wf-b")

    assert run_ids(flowyard) == set(a)
    assert b


async def test_prune_of_an_unknown_workflow_is_not_found(flowyard: Flowyard) -> None:
    with pytest.raises(NotFound):
        await flowyard.runs.prune(older_than=timedelta(days=1), workflow_id="wf-missing")


async def test_prune_needs_an_age_or_a_count(flowyard: Flowyard) -> None:
    with pytest.raises(InvalidInput):
        await flowyard.runs.prune()
    with pytest.raises(InvalidInput):
        await flowyard.runs.prune(keep_per_workflow=-1)


async def test_prune_works_in_small_batches(flowyard: Flowyard) -> None:
    seed(flowyard, "wf-a", [RunStatus.COMPLETED, RunStatus.RUNNING] * 6, days_apart=0.001)

    batches = list(
        history.prune_batches(
            flowyard.db.engine,
            now=NOW,
            older_than=timedelta(0),
            keep_per_workflow=None,
            workflow_id=None,
            batch_size=4,
        )
    )

    assert [b.runs for b in batches] == [4, 2]  # (the running runs are not even read: no batch is spent on them)
    assert sum(batches, PruneResult()).node_runs == 12


def test_prune_command_prints_what_it_deleted(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOWYARD_DATA_DIR", str(tmp_path / "data"))
    engine = create_db_engine(database_url)
    migrate(engine)
    seed(engine, "wf-a", [RunStatus.COMPLETED] * 3 + [RunStatus.PAUSED])
    engine.dispose()

    code = cli.main(["prune", "--keep", "1", "--workflow", "wf-a", "--db", database_url])

    assert code == 0
    assert capsys.readouterr().out.strip() == (
        "deleted 2 run(s), 4 step run(s), 2 approval(s) and 2 callback delivery record(s)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prune"], "say --older-than, --keep or both"),
        (["prune", "--older-than", "30d", "--workflow", "wf-missing"], "no workflow with id 'wf-missing'"),
    ],
)
def test_prune_command_explains_what_is_missing(
    database_url: str,
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLOWYARD_DATA_DIR", str(tmp_path / "data"))
    code = cli.main([*args, "--db", database_url])

    assert code != 0
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("age", ["30", "3x", "d", "1.5d"])
def test_prune_command_refuses_an_age_it_cannot_read(age: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["prune", "--older-than", age])

    assert "not an age like 30d" in capsys.readouterr().err
