"""The run-with-callback API (`/api/v2`): run a workflow with a callback URL, poll its status, receive its result.

Callbacks go to a real HTTP server on 127.0.0.1 (`web`); retries are made fast through the settings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from app.agents import registry
from app.agents.transform import Transform
from app.engine.callbacks import verify
from app.engine.model import CallbackState, RunStatus
from app.main import create_api
from app.services import Flowyard, StepCreate
from app.settings import Settings
from tests.api.helpers import ISO_UTC, V1, add_step, assert_refused, create_workflow, workflow_with_steps
from tests.servers import DROP, HANG, LocalServer, Recorded

V2 = "/api/v2"
SECRET = "callback-secret-for-tests"
TOKEN = "a-token-of-at-least-16-chars"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast callbacks: retries after 20 ms, 40 ms…, an attempt gives up after 2 s."""
    return Settings(
        data_dir=tmp_path / "data",
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
    assert "no nodes" in response.json()["detail"]


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


# --- callbacks, end to end ------------------------------------------------------------------------------------------


async def test_callback_reaches_a_flaky_receiver_signed_after_retries(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    hook = web.reply("/hook", (500, {"error": "down"}), DROP, (200, {"ok": True}))
    workflow_id = await workflow_with_steps(api, "Hello {{ input.name }}")

    run_id = await run_v2(api, workflow_id, hook, name="Ada")
    run = await flowyard_of.callbacks.wait(run_id, timeout=10)

    calls = web.calls_to("/hook")
    assert run is not None and run.callback_state is CallbackState.DELIVERED
    assert len(calls) == 3
    assert all(signed(call) for call in calls)
    assert [call.headers["x-flowyard-attempt"] for call in calls] == ["1", "2", "3"]
    result = calls[-1].json()
    assert {k: result[k] for k in ("workflowRunOId", "workflowOId", "status", "output", "error")} == {
        "workflowRunOId": run_id,
        "workflowOId": workflow_id,
        "status": "COMPLETED",
        "output": "Hello Ada",
        "error": None,
    }
    assert ISO_UTC.match(result["finishedAt"])


async def test_callback_attempts_are_recorded_and_reported_in_the_status(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    hook = web.reply("/hook", (500, {"error": "down"}), (503, {"error": "busy"}), (200, {"ok": True}))
    workflow_id = await workflow_with_steps(api, "x")

    run_id = await run_v2(api, workflow_id, hook)
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    callback = (await status_of(api, run_id))["callback"]
    assert (callback["url"], callback["state"], callback["attempts"]) == (hook, "DELIVERED", 3)
    assert callback["nextAttemptAt"] is None
    assert [(d["attempt"], d["statusCode"], d["error"]) for d in callback["deliveries"]] == [
        (1, 500, "answered 500"),
        (2, 503, "answered 503"),
        (3, 200, None),
    ]
    assert all(d["durationMs"] >= 0 and ISO_UTC.match(d["at"]) for d in callback["deliveries"])


async def test_callback_of_a_failed_run_carries_the_error(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    hook = web.reply("/hook", (204, None))
    workflow_id = await workflow_with_steps(api, "{{ input.missing.deeper }}")

    run_id = await run_v2(api, workflow_id, hook)
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    result = web.calls_to("/hook")[0].json()
    assert (result["status"], result["output"]) == ("FAILED", None)
    assert "step_1" in result["error"]


async def test_callback_of_a_cancelled_run_is_sent(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    hook = web.reply("/hook", (200, {}))
    workflow_id = await workflow_with_steps(api, "Draft")
    await add_step(api, workflow_id, "approval", "", key="review")
    run_id = await run_v2(api, workflow_id, hook)
    await flowyard_of.executor.wait(run_id, timeout=10)

    assert (await api.post(f"{V1}/workflows/runs/{run_id}/cancel")).status_code == 202
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    assert [c.json()["status"] for c in web.calls_to("/hook")] == ["CANCELLED"]


async def test_callback_to_a_receiver_that_never_answers_does_not_delay_another_runs(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    silent, quick = web.reply("/silent", HANG), web.reply("/quick", (200, {}))
    workflow_id = await workflow_with_steps(api, "x")
    stuck_id = await run_v2(api, workflow_id, silent)
    assert await asyncio.to_thread(web.wait_for, "/silent", timeout=10)

    started = time.monotonic()
    run_id = await run_v2(api, workflow_id, quick)
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    assert time.monotonic() - started < 1.0  # the silent receiver's attempt runs for 2 s
    stuck = await flowyard_of.store.get_run(stuck_id)
    assert stuck is not None and stuck.callback_state is CallbackState.PENDING
    assert await flowyard_of.callback_deliveries(stuck_id) == []


async def test_callback_due_when_a_process_stopped_is_sent_by_the_next_one(
    settings: Settings, web: LocalServer
) -> None:
    hook = web.reply("/hook", (200, {}))
    first = Flowyard.open(settings)
    await first.executor.start()  # runs execute, callbacks are never sent: as if it died right after the run
    workflow = await first.create_workflow(name="Restart")
    await first.add_step(workflow.id, StepCreate(agent_id="transform", action="done"))
    run = await first.start_run(workflow.id, input={}, callback_url=hook)
    ended = await first.executor.wait(run.id, timeout=10)
    assert ended is not None and (ended.status, ended.callback_state) == (RunStatus.COMPLETED, CallbackState.PENDING)
    await first.close()
    assert web.calls_to("/hook") == []

    second = Flowyard.open(settings)
    await second.start()
    try:
        delivered = await second.callbacks.wait(run.id, timeout=10)
    finally:
        await second.close()

    assert delivered is not None and delivered.callback_state is CallbackState.DELIVERED
    assert [c.json()["workflowRunOId"] for c in web.calls_to("/hook")] == [run.id]


# --- the same callback from /api/v1 ---------------------------------------------------------------------------------


async def test_v1_run_with_callback_url_delivers_the_result(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    hook = web.reply("/hook", (200, {}))
    workflow_id = await workflow_with_steps(api, "Hello {{ input }}")

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "Ada", "callbackUrl": hook})
    run_id = response.json()["runId"]
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    [call] = web.calls_to("/hook")
    assert signed(call)
    assert (call.json()["workflowRunOId"], call.json()["output"]) == (run_id, "Hello Ada")


async def test_v1_run_with_a_bad_callback_url_is_refused(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "x")

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "x", "callbackUrl": "mailto:a@b.c"})

    assert_refused(response, "callbackUrl")


@pytest.mark.usefixtures("lead_kind")
async def test_v1_run_with_input_that_breaks_the_schema_names_the_field_under_input(api: httpx.AsyncClient) -> None:
    workflow_id = await lead_workflow(api)

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": {"email": 5}})

    assert_refused(response, "input.email")


# --- auth and docs ------------------------------------------------------------------------------------------------


@pytest.fixture
async def api_with_token(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(Settings(data_dir=tmp_path / "locked", admin_token=TOKEN, callback_secret=SECRET))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://flowyard.test") as client:
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
