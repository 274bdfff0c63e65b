"""The run-with-callback API (`/api/v2`): run a workflow with a callback URL, poll its status; the token and docs.

Callbacks go to a real HTTP server on 127.0.0.1 (`web`); retries are made fast through the settings. How the
callback itself is delivered is tested in `test_v2_callbacks.py`; what both share is in `v2_helpers.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_api
from app.root import Flowyard
from app.settings import Settings
from tests.api.helpers import ISO_UTC, V1, add_step, assert_refused, create_workflow, workflow_with_steps
from tests.api.v2_helpers import (
    SECRET,
    TOKEN,
    V2,
    fast_callback_settings,
    lead_kind,  # noqa: F401  (a fixture)
    lead_workflow,
    run_v2,
    status_of,
)
from tests.databases import fresh_data_dir
from tests.servers import LocalServer


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast callbacks (see `fast_callback_settings`)."""
    return fast_callback_settings(tmp_path)


# --- POST /api/v2/workflows/run --------------------------------------------------------------------------------


async def test_run_answers_202_with_the_run_id_at_once(api: httpx.AsyncClient, web: LocalServer) -> None:
    workflow_id = await workflow_with_steps(api, "Hello {{ input.name }}")

    response = await api.post(
        f"{V2}/workflows/run", json={"workflowOId": workflow_id, "callbackUrl": web.url + "/hook", "name": "Ada"}
    )

    assert response.status_code == 202
    body = response.json()
    assert body["workflowRunOId"].startswith("wr-")
    assert (body["workflowOId"], body["status"]) == (workflow_id, "QUEUED")


async def test_run_passes_the_other_fields_to_the_entry_node_as_its_input(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input.name }} from {{ input.company.name }}")

    run_id = await run_v2(api, workflow_id, web.url + "/hook", name="Ada", company={"name": "Analytical"})
    await flowyard_of.executor.wait(run_id, timeout=10)

    status = await status_of(api, run_id)
    assert status["status"] == "COMPLETED"
    assert status["output"] == "Ada from Analytical"


async def test_run_without_workflow_id_is_refused(api: httpx.AsyncClient, web: LocalServer) -> None:
    response = await api.post(f"{V2}/workflows/run", json={"callbackUrl": web.url + "/hook"})

    assert_refused(response, "workflowOId")


async def test_run_without_callback_url_is_refused(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "x")

    response = await api.post(f"{V2}/workflows/run", json={"workflowOId": workflow_id})

    assert_refused(response, "callbackUrl")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("not a url", "spaces"),
        ("https://", "host"),
        ("https://example.com/" + "x" * 2000, "2000"),
        (42, "string"),
    ],
)
async def test_run_with_a_bad_callback_url_is_refused(api: httpx.AsyncClient, url: Any, words: str) -> None:
    workflow_id = await workflow_with_steps(api, "x")

    response = await api.post(f"{V2}/workflows/run", json={"workflowOId": workflow_id, "callbackUrl": url})

    assert_refused(response, "callbackUrl")
    assert words in response.json()["detail"]


async def test_run_of_an_unknown_workflow_is_404(api: httpx.AsyncClient, web: LocalServer) -> None:
    response = await api.post(
        f"{V2}/workflows/run", json={"workflowOId": "wf-0000000000000000", "callbackUrl": web.url + "/hook"}
    )

    assert response.status_code == 404
    assert "wf-0000000000000000" in response.json()["detail"]


async def test_run_of_a_workflow_that_cannot_run_is_422_with_its_problems(
    api: httpx.AsyncClient, web: LocalServer
) -> None:
    workflow = await create_workflow(api, "Empty")

    response = await api.post(
        f"{V2}/workflows/run", json={"workflowOId": workflow["id"], "callbackUrl": web.url + "/hook"}
    )

    assert response.status_code == 422
    assert response.json()["problems"]
    assert "no steps" in response.json()["detail"]


async def test_run_with_a_body_that_is_not_an_object_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V2}/workflows/run", json=["workflowOId"])

    assert response.status_code == 422
    assert response.json()["errors"]


@pytest.mark.usefixtures("lead_kind")
async def test_run_with_input_that_fits_the_entry_nodes_schema_is_accepted(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    workflow_id = await lead_workflow(api)

    run_id = await run_v2(api, workflow_id, web.url + "/hook", email="ada@example.com", score=7, tags=["vip"])
    await flowyard_of.executor.wait(run_id, timeout=10)

    assert (await status_of(api, run_id))["output"] == "Hello ada@example.com"


@pytest.mark.usefixtures("lead_kind")
async def test_run_with_input_that_breaks_the_entry_nodes_schema_names_each_bad_field(
    api: httpx.AsyncClient, web: LocalServer
) -> None:
    workflow_id = await lead_workflow(api)

    response = await api.post(
        f"{V2}/workflows/run",
        json={"workflowOId": workflow_id, "callbackUrl": web.url + "/hook", "score": -1, "tags": ["ok", 3]},
    )

    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors == {"email": "is required", "score": "must be at least 0", "tags.1": "must be string, not integer"}
    assert "email: is required" in response.json()["detail"]


@pytest.mark.usefixtures("lead_kind")
async def test_run_with_a_field_the_entry_node_does_not_take_is_refused(
    api: httpx.AsyncClient, web: LocalServer
) -> None:
    workflow_id = await lead_workflow(api)

    response = await api.post(
        f"{V2}/workflows/run",
        json={"workflowOId": workflow_id, "callbackUrl": web.url + "/hook", "email": "a@b.c", "phone": "123"},
    )

    assert_refused(response, "phone")


@pytest.mark.usefixtures("lead_kind")
async def test_run_refused_for_its_input_stores_no_run(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    workflow_id = await lead_workflow(api)

    await api.post(f"{V2}/workflows/run", json={"workflowOId": workflow_id, "callbackUrl": web.url + "/hook"})

    assert (await api.get(f"{V1}/workflows/{workflow_id}/runs")).json()["totalElements"] == 0


# --- GET /api/v2/workflows/run/status --------------------------------------------------------------------------


async def test_status_of_a_finished_run_reports_every_node_and_the_output(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    workflow_id = await workflow_with_steps(api, "Draft on {{ input.topic }}", "Final: {{ input }}")
    run_id = await run_v2(api, workflow_id, web.url + "/hook", topic="AI")
    await flowyard_of.executor.wait(run_id, timeout=10)

    status = await status_of(api, run_id)

    assert (status["workflowRunOId"], status["workflowOId"], status["status"]) == (run_id, workflow_id, "COMPLETED")
    assert status["output"] == "Final: Draft on AI"
    assert status["error"] is None
    assert status["currentNodes"] == []
    assert [(n["key"], n["agentId"], n["status"], n["attempt"]) for n in status["nodes"]] == [
        ("step_1", "transform", "COMPLETED", 1),
        ("step_2", "transform", "COMPLETED", 1),
    ]
    assert ISO_UTC.match(status["createdAt"]) and ISO_UTC.match(status["finishedAt"])


async def test_status_of_a_paused_run_shows_the_waiting_node_as_current(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    workflow_id = await workflow_with_steps(api, "Draft on {{ input.topic }}")
    await add_step(api, workflow_id, "approval", "", key="review")
    await add_step(api, workflow_id, "transform", "Published: {{ input }}", key="publish")
    run_id = await run_v2(api, workflow_id, web.url + "/hook", topic="AI")
    await flowyard_of.executor.wait(run_id, timeout=10)

    status = await status_of(api, run_id)

    assert status["status"] == "PAUSED"
    assert status["currentNodes"] == ["review"]
    assert [(n["key"], n["status"]) for n in status["nodes"]] == [
        ("step_1", "COMPLETED"),
        ("review", "WAITING_APPROVAL"),
        ("publish", "PENDING"),
    ]
    assert status["callback"]["state"] is None
    assert web.calls_to("/hook") == []


async def test_status_of_a_failed_run_reports_the_error(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input.missing.deeper }}")
    run_id = await run_v2(api, workflow_id, web.url + "/hook")
    await flowyard_of.executor.wait(run_id, timeout=10)

    status = await status_of(api, run_id)

    assert status["status"] == "FAILED"
    assert "step_1" in status["error"]
    assert status["nodes"][0]["status"] == "FAILED"


async def test_status_without_run_id_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V2}/workflows/run/status")

    assert_refused(response, "workflowRunOId")


async def test_status_of_an_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V2}/workflows/run/status", params={"workflowRunOId": "wr-0000000000000000"})

    assert response.status_code == 404
    assert "wr-0000000000000000" in response.json()["detail"]


# --- auth and docs ------------------------------------------------------------------------------------------------


@pytest.fixture
async def api_with_token(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(Settings(data_dir=fresh_data_dir(tmp_path / "locked"), admin_token=TOKEN, callback_secret=SECRET))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client


@pytest.mark.parametrize(
    ("method", "path"), [("POST", f"{V2}/workflows/run"), ("GET", f"{V2}/workflows/run/status?workflowRunOId=wr-1")]
)
async def test_v2_without_token_is_401(api_with_token: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api_with_token.request(method, path, json={})

    assert response.status_code == 401


async def test_v2_with_token_is_answered(api_with_token: httpx.AsyncClient) -> None:
    response = await api_with_token.get(
        f"{V2}/workflows/run/status",
        params={"workflowRunOId": "wr-0000000000000000"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert response.status_code == 404


async def test_openapi_lists_the_v2_endpoints_in_the_seeds_names(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()

    assert {"post"} <= set(spec["paths"][f"{V2}/workflows/run"])
    status_params = spec["paths"][f"{V2}/workflows/run/status"]["get"]["parameters"]
    assert [p["name"] for p in status_params] == ["workflowRunOId"]
    schemas = spec["components"]["schemas"]
    assert {"workflowOId", "callbackUrl"} <= set(schemas["WorkflowRunRequest"]["properties"])
    assert {"workflowRunOId", "currentNodes", "nodes", "callback"} <= set(schemas["WorkflowRunStatus"]["properties"])
