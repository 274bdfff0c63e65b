"""The newcomer's journey through the API, with PostgreSQL as the database."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.main import create_api
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH

pytestmark = pytest.mark.postgres


async def test_steps_run_pause_resume_and_complete_on_postgres(own_migrated_postgres_url: str, tmp_path: Path) -> None:
    app = create_api(Settings(data_dir=tmp_path, database_url=own_migrated_postgres_url, admin_token=ADMIN_TOKEN))
    async with app.router.lifespan_context(app):
        flowyard = app.state.flowyard
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=AUTH
        ) as api:
            workflow = (await api.post("/api/v1/workflows", json={"name": "On PostgreSQL"})).json()
            for agent, action in (("transform", "{{ input }}!"), ("approval", ""), ("transform", "done: {{ input }}")):
                added = await api.post(
                    f"/api/v1/workflows/{workflow['id']}/steps", json={"agentId": agent, "action": action}
                )
                assert added.status_code == 201
            run_id = (await api.post(f"/api/v1/workflows/{workflow['id']}/run", json={"input": "hi"})).json()["runId"]
            await flowyard.executor.wait(run_id, timeout=10)
            paused = (await api.get(f"/api/v1/workflows/runs/{run_id}")).json()
            resumed = await api.post(f"/api/v1/workflows/runs/{run_id}/resume", json={"output": "ok"})
            await flowyard.executor.wait(run_id, timeout=10)
            run = (await api.get(f"/api/v1/workflows/runs/{run_id}")).json()
            history = (await api.get(f"/api/v1/workflows/{workflow['id']}/runs")).json()

    assert paused["status"] == "PAUSED" and paused["approvals"][0]["proposal"] == "hi!"
    assert resumed.status_code == 202
    assert run["status"] == "COMPLETED" and run["output"] == "done: ok"
    assert history["totalElements"] == 1 and history["content"][0]["currentStepOrder"] == 3


async def test_workflow_step_runs_a_sub_workflow_on_postgres(own_migrated_postgres_url: str, tmp_path: Path) -> None:
    app = create_api(Settings(data_dir=tmp_path, database_url=own_migrated_postgres_url, admin_token=ADMIN_TOKEN))
    async with app.router.lifespan_context(app):
        flowyard = app.state.flowyard
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=AUTH
        ) as api:
            child = (await api.post("/api/v1/workflows", json={"name": "Child"})).json()["id"]
            parent = (await api.post("/api/v1/workflows", json={"name": "Parent"})).json()["id"]
            steps = [
                (child, {"agentId": "transform", "action": "Hello {{ input }}"}),
                (parent, {"agentId": "workflow", "action": "", "key": "sub", "config": {"workflow_id": child}}),
            ]
            for workflow_id, step in steps:
                added = await api.post(f"/api/v1/workflows/{workflow_id}/steps", json=step)
                assert added.status_code == 201, added.text
            run_id = (await api.post(f"/api/v1/workflows/{parent}/run", json={"input": "pg"})).json()["runId"]
            await flowyard.executor.wait(run_id, timeout=10)
            run = (await api.get(f"/api/v1/workflows/runs/{run_id}")).json()
            child_id = await flowyard.runs.child_id(run_id, "sub")
            child_run = await flowyard.runs.get(child_id) if child_id else None

    assert run["status"] == "COMPLETED" and run["output"] == "Hello pg"
    assert child_run is not None
    assert (child_run.trigger, list(child_run.chain), child_run.status) == ("workflow", [parent], "COMPLETED")
