"""llm steps with PostgreSQL as the database: session memory, the sessions API and token totals."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.main import create_api
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.llm_server import ChatServer

pytestmark = pytest.mark.postgres


async def test_sessions_and_token_totals_on_postgres(own_migrated_postgres_url: str, tmp_path: Path) -> None:
    app = create_api(Settings(data_dir=tmp_path, database_url=own_migrated_postgres_url, admin_token=ADMIN_TOKEN))
    with ChatServer() as chat:
        chat.script("two words")
        async with app.router.lifespan_context(app):
            flowyard = app.state.flowyard
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=AUTH
            ) as api:
                config = {"base_url": chat.url, "model": "tiny"}
                agent = {"id": "assistant", "name": "Assistant", "kind": "llm", "config": config}
                assert (await api.post("/api/v1/agents", json=agent)).status_code == 201
                workflow = (await api.post("/api/v1/workflows", json={"name": "Chat"})).json()
                step = {"agentId": "assistant", "action": "Reply to"}
                assert (await api.post(f"/api/v1/workflows/{workflow['id']}/steps", json=step)).status_code == 201
                runs = []
                for text in ("hello", "again"):
                    body = {"input": text, "sessionId": "pg-session"}
                    run_id = (await api.post(f"/api/v1/workflows/{workflow['id']}/run", json=body)).json()["runId"]
                    await flowyard.executor.wait(run_id, timeout=10)
                    runs.append((await api.get(f"/api/v1/workflows/runs/{run_id}")).json())
                shown = (await api.get("/api/v1/sessions/pg-session")).json()
                usage = await flowyard.runs.token_usage(workflow_id=workflow["id"])
                cleared = await api.delete("/api/v1/sessions/pg-session")
                listed = (await api.get("/api/v1/sessions")).json()

    assert [r["status"] for r in runs] == ["COMPLETED", "COMPLETED"]
    assert chat.requests[1].messages[:2] == [
        {"role": "user", "content": "Reply to\n\nhello"},
        {"role": "assistant", "content": "two words"},
    ]
    assert shown["messageCount"] == 4
    assert usage.total_tokens == runs[0]["totalTokens"] + runs[1]["totalTokens"] > 0
    assert cleared.status_code == 204 and listed["content"] == []
