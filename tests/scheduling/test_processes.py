"""Schedules in real time: a 1-second interval fires by itself, and two processes on one PostgreSQL database
fire each due time once between them."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.engine.model import RunStatus
from app.models.schedules import ScheduleCreate as ScheduleSpec
from app.settings import Settings
from tests.scheduling.conftest import START, Clock, open_flowyard, runs_of, workflow

SERVE = """
import asyncio, sys
from app.root import Flowyard
from app.settings import Settings

async def main() -> None:
    settings = Settings(database_url=sys.argv[1], data_dir=sys.argv[2], scheduler_poll_seconds=0.5)
    flowyard = Flowyard.open(settings)
    await flowyard.start()
    await asyncio.sleep(float(sys.argv[3]))
    print(f"taken={flowyard.schedules.taken} lost={flowyard.schedules.lost}")
    await flowyard.close()

asyncio.run(main())
"""


async def test_an_interval_of_one_second_fires_every_second_on_the_real_clock(scheduling_settings: Settings) -> None:
    flowyard = open_flowyard(scheduling_settings)
    await flowyard.start()
    try:
        workflow_id = await workflow(flowyard)
        schedule = await flowyard.schedules.create(
            workflow_id, ScheduleSpec(interval_seconds=1, overlap_policy="allow", catchup_policy="all")
        )
        deadline = time.monotonic() + 10
        while len((await flowyard.schedules.get(schedule.id)).last_fires) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

        fires = (await flowyard.schedules.get(schedule.id)).last_fires
        assert len(fires) >= 3
        assert {(a.due_at - b.due_at).total_seconds() for a, b in itertools.pairwise(fires)} == {1.0}
        assert (fires[-1].due_at - schedule.created_at).total_seconds() == 1.0
        for fire in fires:
            run = await flowyard.executor.wait(fire.run_id or "", timeout=10)
            assert run is not None and run.status == RunStatus.COMPLETED
    finally:
        await flowyard.close()


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_processes_on_one_database_fire_each_due_time_once(
    tmp_path: Path, own_migrated_postgres_url: str
) -> None:
    setup = open_flowyard(Settings(database_url=own_migrated_postgres_url, data_dir=tmp_path / "setup"))
    workflow_id = await workflow(setup)
    schedule = await setup.schedules.create(workflow_id, ScheduleSpec(interval_seconds=1, overlap_policy="allow"))
    await setup.close()

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SERVE, own_migrated_postgres_url, str(tmp_path / f"process-{n}"), "6"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for n in (1, 2)
    ]
    tallies = []
    for process in processes:
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output.decode()
        tallies.append(output.decode().strip().splitlines()[-1])

    engine = sa.create_engine(own_migrated_postgres_url)
    try:
        with engine.connect() as conn:
            fires = conn.execute(
                sa.text("SELECT due_at, outcome, run_id FROM schedule_fires WHERE schedule_id = :id ORDER BY due_at"),
                {"id": schedule.id},
            ).all()
            runs = (
                conn.execute(sa.text("SELECT id FROM runs WHERE workflow_id = :id"), {"id": workflow_id})
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    print(f"\n{len(fires)} due times fired, {len(runs)} runs; per process: {tallies}")
    assert len(fires) >= 3
    assert len({due_at for due_at, _, _ in fires}) == len(fires)
    assert [outcome for _, outcome, _ in fires] == ["started"] * len(fires)
    assert sorted(run_id for _, _, run_id in fires) == sorted(runs)


@pytest.mark.postgres
async def test_on_postgresql_two_flowyards_share_a_due_time_and_show_its_run(
    tmp_path: Path, migrated_postgres_url: str
) -> None:
    clock = Clock(START)
    first = open_flowyard(Settings(database_url=migrated_postgres_url, data_dir=tmp_path / "a"), clock)
    second = open_flowyard(Settings(database_url=migrated_postgres_url, data_dir=tmp_path / "b"), clock)
    await first.start()
    await second.start()
    try:
        workflow_id = await workflow(first)
        schedule = await first.schedules.create(
            workflow_id, ScheduleSpec(cron="* * * * *", overlap_policy="skip", input={"n": 1})
        )
        clock.move(minutes=1)
        await asyncio.gather(first.schedules.tick(), second.schedules.tick())
        for flowyard in (first, second):
            for run_id in await runs_of(first, workflow_id):
                await flowyard.executor.wait(run_id, timeout=10)
        await first.schedules.tick()

        info = await second.schedules.get(schedule.id)
        assert [(f.outcome, f.run_status) for f in info.last_fires] == [("started", "COMPLETED")]
        assert first.schedules.taken + second.schedules.taken == 1
        assert len(await runs_of(second, workflow_id)) == 1
    finally:
        await second.close()
        await first.close()
