"""Webhooks with PostgreSQL as the database: calls, rotation, cascading deletes and racing first saves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.main import create_api
from app.root import Flowyard
from app.settings import Settings
from tests.api.helpers import V1, workflow_with_steps
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.webhooks.helpers import hook_path, run_count, webhook

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_api(migrated_postgres_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(Settings(data_dir=tmp_path, database_url=migrated_postgres_url, admin_token=ADMIN_TOKEN))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=AUTH
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


async def test_webhook_starts_runs_and_rotates_on_postgres(pg_api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(pg_api, "Hi {{ input.name }}")
    first = await webhook(pg_api, workflow_id, mode="sync")

    answered = await pg_api.post(hook_path(first), json={"name": "Ada"})
    rotated = (await pg_api.post(f"{V1}/workflows/{workflow_id}/webhook/rotate")).json()
    old = await pg_api.post(hook_path(first), json={"name": "Ada"})
    wrong = await pg_api.post("/api/hooks/guess", json={"name": "Ada"})

    assert (answered.status_code, answered.json()["output"]) == (200, "Hi Ada")
    assert (old.status_code, wrong.status_code) == (404, 404)
    assert rotated["url"] != first["url"]
    assert await run_count(pg_api, workflow_id) == 1


async def test_racing_first_saves_make_one_webhook_on_postgres(pg_api: httpx.AsyncClient) -> None:
    flowyard: Flowyard = pg_api.app.state.flowyard  # type: ignore[attr-defined]
    workflow_id = await workflow_with_steps(pg_api, "{{ input }}")

    saved = await asyncio.gather(*(flowyard.webhooks.save(workflow_id, mode="sync") for _ in range(4)))

    assert len({info.secret for info in saved}) == 1
    assert (await flowyard.webhooks.get(workflow_id)) is not None


async def test_deleting_the_workflow_deletes_its_webhook_on_postgres(pg_api: httpx.AsyncClient) -> None:
    flowyard: Flowyard = pg_api.app.state.flowyard  # type: ignore[attr-defined]
    workflow_id = await workflow_with_steps(pg_api, "{{ input }}")
    hook = await webhook(pg_api, workflow_id)

    assert (await pg_api.delete(f"{V1}/workflows/{workflow_id}")).status_code == 204

    assert (await pg_api.post(hook_path(hook), json=1)).status_code == 404
    with flowyard.db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM webhooks")).scalar() == 0
