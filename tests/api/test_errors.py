"""What a client sees when a request cannot be read: too large, not JSON. And the open endpoints: health, docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.api.helpers import V1
from tests.databases import fresh_data_dir

LIMIT = 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The default settings with the smallest body limit Flowyard allows."""
    return Settings(
        data_dir=fresh_data_dir(tmp_path / "data"), lease_seconds=5, recovery_interval_seconds=0.5, max_body_bytes=LIMIT
    )


async def _workflow_count(api: httpx.AsyncClient) -> int:
    total: int = (await api.get(f"{V1}/workflows")).json()["totalElements"]
    return total


# --- body size ------------------------------------------------------------------------------------------------------


async def test_post_with_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows", json={"name": "x", "description": "d" * LIMIT})

    assert response.status_code == 413
    assert str(LIMIT) in response.json()["detail"]
    assert await _workflow_count(api) == 0


async def test_post_with_streamed_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size shows only while reading
        yield b'{"name": "x", "description": "'
        for _ in range(8):
            yield b"d" * 200
        yield b'"}'

    response = await api.post(f"{V1}/workflows", content=chunks(), headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert str(LIMIT) in response.json()["detail"]
    assert await _workflow_count(api) == 0


async def test_post_with_body_just_under_the_limit_is_accepted(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows", json={"name": "x", "description": "d" * (LIMIT - 100)})

    assert response.status_code == 201


# --- unreadable bodies ----------------------------------------------------------------------------------------------


async def test_post_with_invalid_json_is_422_naming_the_body(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows", content=b'{"name": ', headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body"
    assert "JSON" in error["message"]
    assert await _workflow_count(api) == 0


async def test_post_with_json_that_is_not_an_object_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows", json=["name", "x"])

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_post_without_body_is_422_naming_the_body(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_unknown_path_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{V1}/pipelines")).status_code == 404


# --- health and docs ------------------------------------------------------------------------------------------------


async def test_health_answers_ok(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_docs_serve_the_interactive_api_page(api: httpx.AsyncClient) -> None:
    response = await api.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()
    assert "/openapi.json" in response.text


async def test_openapi_lists_every_v1_endpoint(api: httpx.AsyncClient) -> None:
    response = await api.get("/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    operations = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert operations >= {
        ("GET", "/api/health"),
        ("GET", f"{V1}/workflows"),
        ("POST", f"{V1}/workflows"),
        ("GET", f"{V1}/workflows/{{workflow_id}}"),
        ("PATCH", f"{V1}/workflows/{{workflow_id}}"),
        ("DELETE", f"{V1}/workflows/{{workflow_id}}"),
        ("POST", f"{V1}/workflows/{{workflow_id}}/clone"),
        ("GET", f"{V1}/workflows/{{workflow_id}}/steps"),
        ("POST", f"{V1}/workflows/{{workflow_id}}/steps"),
        ("DELETE", f"{V1}/workflows/{{workflow_id}}/steps/{{step_id}}"),
        ("POST", f"{V1}/workflows/{{workflow_id}}/run"),
        ("GET", f"{V1}/workflows/{{workflow_id}}/runs"),
        ("GET", f"{V1}/workflows/runs/{{run_id}}"),
        ("POST", f"{V1}/workflows/runs/{{run_id}}/resume"),
        ("POST", f"{V1}/workflows/runs/{{run_id}}/reject"),
        ("POST", f"{V1}/workflows/runs/{{run_id}}/cancel"),
        ("POST", f"{V1}/workflows/runs/{{run_id}}/rerun"),
        ("GET", f"{V1}/agents"),
        ("POST", f"{V1}/agents"),
        ("GET", f"{V1}/agents/kinds"),
        ("GET", f"{V1}/agents/{{agent_id}}"),
        ("PATCH", f"{V1}/agents/{{agent_id}}"),
        ("DELETE", f"{V1}/agents/{{agent_id}}"),
    }


async def test_openapi_names_fields_in_camel_case(api: httpx.AsyncClient) -> None:
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]

    assert {"agentId", "action", "stepOrder"} <= set(schemas["StepCreate"]["properties"])
    assert {"input", "sessionId"} <= set(schemas["RunRequest"]["properties"])
    assert {"jobId", "runId", "workflowId", "sessionId"} <= set(schemas["RunAccepted"]["properties"])
    assert {"currentStepOrder", "durationMs", "createdAt", "updatedAt"} <= set(schemas["RunPublic"]["properties"])
    assert "step_order" not in schemas["StepCreate"]["properties"]
