"""Fixtures of the schedule tests: a Flowyard whose clock the test moves, and small workflows to schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.engine.model import NodeSpec, RunStatus, WorkflowDefinition
from app.root import Flowyard
from app.settings import Settings
from tests.databases import fresh_data_dir

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""A Monday, noon UTC: where the moved clock starts."""


class Clock:
    """A clock that stands still until the test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def move(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


def open_flowyard(settings: Settings, now: Clock | None = None) -> Flowyard:
    """A Flowyard on `settings`' database, reading `now` as its clock when given."""
    return Flowyard.open(settings, http=httpx.AsyncClient(), **({"now": now} if now else {}))


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def scheduling_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=fresh_data_dir(tmp_path / "data"),
        lease_seconds=5,
        recovery_interval_seconds=0.5,
        scheduler_poll_seconds=0.5,
    )


@pytest.fixture
async def flowyard(scheduling_settings: Settings, clock: Clock) -> AsyncIterator[Flowyard]:
    """A started Flowyard on SQLite whose clock is `clock`."""
    app = open_flowyard(scheduling_settings, clock)
    await app.start()
    try:
        yield app
    finally:
        await app.close()


async def workflow(flowyard: Flowyard, *nodes: NodeSpec, name: str = "Report") -> str:
    """A workflow of `nodes` in a chain (a single transform echoing its input when none are given)."""
    steps = list(nodes) or [NodeSpec(key="echo", agent_id="transform", action="")]
    for order, node in enumerate(steps, start=1):
        node.step_order = order
    row = await flowyard.workflows.create(name=name, definition=WorkflowDefinition(nodes=steps))
    return row.id


def delay(seconds: float | str) -> NodeSpec:
    """A step that waits (an action that is not a number of seconds makes it fail)."""
    return NodeSpec(key="wait", agent_id="delay", action=str(seconds))


async def runs_of(flowyard: Flowyard, workflow_id: str) -> list[str]:
    page = await flowyard.runs.list(workflow_id, page=0, size=200)
    return [run.id for run in page.items]


async def settle(flowyard: Flowyard, workflow_id: str) -> None:
    """Wait for every run of the workflow to end, then let the schedules count them."""
    for run_id in await runs_of(flowyard, workflow_id):
        await flowyard.executor.wait(run_id, timeout=10)
        run = await flowyard.runs.get(run_id)
        assert RunStatus(run.status).is_terminal, run.status
    await flowyard.schedules.tick()
