"""Run retention per status: the instance's settings say how long completed, failed and cancelled runs are kept;
a prune (daily, or "Prune now") deletes older ones with their step runs, approvals and callback deliveries,
in batches; queued, running and paused runs always stay. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.engine.exceptions import InvalidInput
from app.engine.model import RunStatus
from app.models.instance import InstanceSettingsUpdate, Retention
from app.models.people import Principal
from app.models.runs import PruneResult
from app.models.schedules import ScheduleCreate
from app.root import Flowyard
from app.services.instance import about
from app.settings import Settings
from storage import history
from storage.models import ScheduleFireRow
from tests.databases import fresh_sqlite_url
from tests.storage.test_prune import ACTIVE, NOW, remaining, run_ids, seed
from tests.ui.helpers import steps

ADMIN = Principal.system()


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


async def keep(flowyard: Flowyard, completed: int | None, failed: int | None, cancelled: int | None = None) -> None:
    retention = Retention(completed_days=completed, failed_days=failed, cancelled_days=cancelled)
    await flowyard.instance.update(InstanceSettingsUpdate(retention=retention), by=ADMIN)


async def test_prune_deletes_each_status_past_its_own_retention_with_its_records(flowyard: Flowyard) -> None:
    # Each list is newest first: 1, 21, 41, ... days old.
    completed = seed(flowyard, "wf-c", [RunStatus.COMPLETED] * 6, days_apart=20)
    failed = seed(flowyard, "wf-f", [RunStatus.FAILED] * 6, days_apart=20)
    cancelled = seed(flowyard, "wf-x", [RunStatus.CANCELLED] * 6, days_apart=20)
    await keep(flowyard, completed=30, failed=90)

    report = await flowyard.instance.prune(by=ADMIN)

    assert (report.runs, report.node_runs, report.approvals, report.callback_deliveries) == (4 + 1, 10, 5, 5)
    assert run_ids(flowyard) == set(completed[:2]) | set(failed[:5]) | set(cancelled)
    assert remaining(flowyard) == {"runs": 13, "node_runs": 26, "approvals": 13, "callback_deliveries": 13}


async def test_prune_never_deletes_queued_running_or_paused_runs_however_old(flowyard: Flowyard) -> None:
    active = seed(flowyard, "wf-a", ACTIVE * 3, days_apart=100)
    await keep(flowyard, completed=1, failed=1, cancelled=1)

    report = await flowyard.instance.prune(by=ADMIN)

    assert report.runs == 0
    assert run_ids(flowyard) == set(active)


async def test_prune_without_retention_deletes_nothing(flowyard: Flowyard) -> None:
    seed(flowyard, "wf-a", [RunStatus.COMPLETED, RunStatus.FAILED], days_apart=1000)

    report = await flowyard.instance.prune(by=ADMIN)

    assert report.runs == 0
    assert remaining(flowyard)["runs"] == 2
    assert (await flowyard.instance.get()).last_prune is None


async def test_prune_is_recorded_with_what_it_deleted(flowyard: Flowyard) -> None:
    seed(flowyard, "wf-a", [RunStatus.COMPLETED] * 3, days_apart=10)
    await keep(flowyard, completed=5, failed=None)

    await flowyard.instance.prune(by=ADMIN)

    last = (await flowyard.instance.get()).last_prune
    assert last is not None
    assert (last.runs, last.node_runs, last.at) == (2, 4, NOW)
    [entry, *_] = await flowyard.audit.list()
    assert (entry.action, entry.detail) == ("settings.prune", "deleted 2 run(s) past their retention")


async def test_a_large_history_is_pruned_in_short_batches(flowyard: Flowyard) -> None:
    seed(flowyard, "wf-a", [RunStatus.COMPLETED] * 1203, days_apart=0.01)

    batches = list(
        history.prune_batches(
            flowyard.db.engine,
            now=NOW,
            older_than=timedelta(0),
            keep_per_workflow=None,
            workflow_id=None,
            statuses=[RunStatus.COMPLETED],
            batch_size=500,
        )
    )

    assert [b.runs for b in batches] == [500, 500, 203]
    assert sum(batches, PruneResult()).node_runs == 2406
    assert remaining(flowyard) == {"runs": 0, "node_runs": 0, "approvals": 0, "callback_deliveries": 0}


async def test_only_finished_statuses_can_be_pruned(flowyard: Flowyard) -> None:
    with pytest.raises(InvalidInput, match="statuses"):
        await flowyard.runs.prune(older_than=timedelta(0), statuses=[RunStatus.PAUSED])


async def test_the_daily_job_applies_the_retention_when_the_app_starts(flowyard: Flowyard) -> None:
    ids = seed(flowyard, "wf-a", [RunStatus.COMPLETED] * 4, days_apart=10)
    await keep(flowyard, completed=15, failed=None)

    await flowyard.start()
    async with asyncio.timeout(10):
        while len(run_ids(flowyard)) > 2:
            await asyncio.sleep(0.05)

    assert run_ids(flowyard) == set(ids[:2])


async def test_saving_what_is_there_records_nothing(flowyard: Flowyard) -> None:
    await keep(flowyard, completed=30, failed=90)
    await keep(flowyard, completed=30, failed=90)

    entries = [e for e in await flowyard.audit.list() if e.action == "settings.update"]
    assert [e.detail for e in entries] == [
        "keep completed runs 30 days (was forever); keep failed runs 90 days (was forever)"
    ]


def test_about_hides_the_database_password(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://flow:s3cret@db.internal:5432/flowyard")

    facts = about(settings)

    assert facts.database_kind == "postgresql"
    assert facts.database_url == "postgresql+psycopg://flow:***@db.internal:5432/flowyard"
    assert "s3cret" not in facts.model_dump_json()
    assert facts.data_dir == str(tmp_path.resolve())


def test_about_names_sqlite_and_its_file(tmp_path: Path) -> None:
    facts = about(Settings(data_dir=tmp_path))

    assert facts.database_kind == "sqlite"
    assert facts.database_url == f"sqlite:///{(tmp_path / 'flowyard.db').resolve()}"


async def test_a_pruned_scheduled_run_leaves_its_schedules_fire_without_it(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Nightly", definition=steps("{{ input }}"))
    schedule = await flowyard.schedules.create(workflow.id, ScheduleCreate(cron="0 3 * * *"))
    run_id = seed(flowyard, workflow.id, [RunStatus.COMPLETED] * 2, days_apart=5)[1]  # 6 days old
    fires = ScheduleFireRow.__table__  # type: ignore[attr-defined]
    with flowyard.db.engine.begin() as conn:
        conn.execute(
            sa.insert(fires).values(
                schedule_id=schedule.id, due_at=NOW, run_id=run_id, outcome="started", created_at=NOW
            )
        )
    await keep(flowyard, completed=1, failed=None)

    report = await flowyard.instance.prune(by=ADMIN)

    assert report.runs == 1
    with flowyard.db.engine.connect() as conn:
        assert conn.execute(sa.select(fires.c.schedule_id, fires.c.run_id)).all() == [(schedule.id, None)]
    assert [s.id for s in await flowyard.schedules.list(workflow.id)] == [schedule.id]
