"""Callbacks with PostgreSQL as the database: delivered through retries, and sent once by several processes."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from app.engine.model import CallbackState
from app.main import create_api
from app.models.workflows import StepCreate
from app.root import Flowyard
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.servers import LocalServer

pytestmark = pytest.mark.postgres


def fast_settings(own_migrated_postgres_url: str, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=own_migrated_postgres_url,
        callback_secret="callback-secret-for-tests",
        callback_base_delay_seconds=0.02,
        callback_sweep_interval_seconds=0.1,
        admin_token=ADMIN_TOKEN,
    )


async def test_v2_run_callback_is_delivered_after_a_retry_on_postgres(
    own_migrated_postgres_url: str, tmp_path: Path
) -> None:
    app = create_api(fast_settings(own_migrated_postgres_url, tmp_path))
    with LocalServer() as web:
        hook = web.reply("/hook", (500, {"error": "down"}), (200, {"ok": True}))
        async with app.router.lifespan_context(app):
            flowyard: Flowyard = app.state.flowyard
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=AUTH
            ) as api:
                workflow = await flowyard.workflows.create(name="On PostgreSQL")
                await flowyard.workflows.add_step(
                    workflow.id, StepCreate(agent_id="transform", action="Hi {{ input.name }}")
                )
                accepted = await api.post(
                    "/api/v2/workflows/run", json={"workflowOId": workflow.id, "callbackUrl": hook, "name": "Ada"}
                )
                run_id = accepted.json()["workflowRunOId"]
                await flowyard.callbacks.wait(run_id, timeout=10)
                status = (await api.get("/api/v2/workflows/run/status", params={"workflowRunOId": run_id})).json()

    assert status["callback"]["state"] == "DELIVERED"
    assert [d["statusCode"] for d in status["callback"]["deliveries"]] == [500, 200]
    assert web.calls_to("/hook")[-1].json()["output"] == "Hi Ada"


async def test_two_processes_send_each_due_callback_once(own_migrated_postgres_url: str, tmp_path: Path) -> None:
    with LocalServer() as web:
        hook = web.reply("/hook", (200, {}))
        settings = fast_settings(own_migrated_postgres_url, tmp_path)
        producer = Flowyard.open(settings)
        await producer.executor.start()  # ends runs but sends no callbacks
        workflow = await producer.workflows.create(name="Many")
        await producer.workflows.add_step(workflow.id, StepCreate(agent_id="transform", action="done"))
        run_ids = [(await producer.runs.start(workflow.id, input={}, callback_url=hook)).id for _ in range(12)]
        for run_id in run_ids:
            await producer.executor.wait(run_id, timeout=10)
        await producer.close()

        first, second = Flowyard.open(settings), Flowyard.open(settings)
        await asyncio.gather(first.start(), second.start())
        try:
            runs = [await first.callbacks.wait(run_id, timeout=10) for run_id in run_ids]
        finally:
            await asyncio.gather(first.close(), second.close())

    assert all(run is not None and run.callback_state is CallbackState.DELIVERED for run in runs)
    assert Counter(call.json()["workflowRunOId"] for call in web.calls_to("/hook")) == Counter(run_ids)
