"""What the `/api/v2` tests (`test_v2*.py`) share: fast-callback settings, a kind with an input schema, and short
ways to run a workflow with a callback URL, poll its status and check a callback's signature.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from app.agents import registry
from app.agents.transform import Transform
from app.engine.callbacks import verify
from app.settings import Settings
from tests.api.helpers import V1, add_step, create_workflow
from tests.databases import fresh_data_dir
from tests.servers import Recorded

V2 = "/api/v2"
SECRET = "callback-secret-for-tests"
TOKEN = "a-token-of-at-least-16-chars"


def fast_callback_settings(tmp_path: Path) -> Settings:
    """Fast callbacks: retries after 20 ms, 40 ms…, an attempt gives up after 2 s."""
    return Settings(
        data_dir=fresh_data_dir(tmp_path / "data"),
        lease_seconds=5,
        recovery_interval_seconds=0.5,
        callback_secret=SECRET,
        callback_base_delay_seconds=0.02,
        callback_timeout_seconds=2,
        callback_sweep_interval_seconds=0.2,
    )


class LeadIntake(Transform):
    """A kind that declares its input: the workflow's input schema when it is the entry node."""

    kind: ClassVar[str] = "lead_intake"
    title: ClassVar[str] = "Lead intake"
    input_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["email"],
        "properties": {
            "email": {"type": "string", "pattern": "@"},
            "score": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }


@pytest.fixture
def lead_kind() -> Iterator[None]:
    registry.KINDS[LeadIntake.kind] = LeadIntake
    yield
    del registry.KINDS[LeadIntake.kind]


async def lead_workflow(api: httpx.AsyncClient) -> str:
    """Entry node: a `lead_intake` agent (email required, score ≥ 0); then a greeting."""
    response = await api.post(f"{V1}/agents", json={"id": "leads", "name": "Leads", "kind": "lead_intake"})
    assert response.status_code == 201, response.text
    workflow = await create_workflow(api, "Qualify lead")
    await add_step(api, workflow["id"], "leads", "")
    await add_step(api, workflow["id"], "transform", "Hello {{ input.email }}")
    return str(workflow["id"])


async def run_v2(api: httpx.AsyncClient, workflow_id: str, callback_url: str, **fields: Any) -> str:
    response = await api.post(
        f"{V2}/workflows/run", json={"workflowOId": workflow_id, "callbackUrl": callback_url, **fields}
    )
    assert response.status_code == 202, response.text
    run_id: str = response.json()["workflowRunOId"]
    return run_id


async def status_of(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await api.get(f"{V2}/workflows/run/status", params={"workflowRunOId": run_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def signed(request: Recorded) -> bool:
    timestamp, signature = request.headers["x-flowyard-timestamp"], request.headers["x-flowyard-signature"]
    return verify(SECRET, timestamp, request.body, signature, now=time.time())
