"""The callbacks of the run-with-callback API (`/api/v2`), end to end, and the same callback from `/api/v1`.

Callbacks go to a real HTTP server on 127.0.0.1 (`web`); retries are made fast through the settings. Shared
helpers are in `v2_helpers.py`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from app.engine.callbacks import verify
from app.engine.model import CallbackState, RunStatus
from app.models.workflows import StepCreate
from app.root import Flowyard
from app.settings import Settings
from tests.api.helpers import ISO_UTC, V1, add_step, assert_refused, workflow_with_steps
from tests.api.v2_helpers import (
    SECRET,
    fast_callback_settings,
    lead_kind,  # noqa: F401  (a fixture)
    lead_workflow,
    run_v2,
    signed,
    status_of,
)
from tests.servers import DROP, HANG, LocalServer


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast callbacks (see `fast_callback_settings`)."""
    return fast_callback_settings(tmp_path)


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
    assert await flowyard_of.runs.callback_deliveries(stuck_id) == []


async def test_callback_due_when_a_process_stopped_is_sent_by_the_next_one(
    settings: Settings, web: LocalServer
) -> None:
    hook = web.reply("/hook", (200, {}))
    first = Flowyard.open(settings)
    await first.executor.start()  # runs execute, callbacks are never sent: as if it died right after the run
    workflow = await first.workflows.create(name="Restart")
    await first.workflows.add_step(workflow.id, StepCreate(agent_id="transform", action="done"))
    run = await first.runs.start(workflow.id, input={}, callback_url=hook)
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


async def test_a_workflow_signs_its_callbacks_with_its_own_secret_once_rotated(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    hook = web.reply("/hook", (200, {}))
    workflow_id = await workflow_with_steps(api, "Hello {{ input }}")
    assert (await api.get(f"{V1}/workflows/{workflow_id}/callback-secret")).json() == {"secret": SECRET, "shared": True}

    own = (await api.post(f"{V1}/workflows/{workflow_id}/callback-secret/rotate")).json()
    run_id = (await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "Ada", "callbackUrl": hook})).json()[
        "runId"
    ]
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    [call] = web.calls_to("/hook")
    assert own["shared"] is False and own["secret"] != SECRET
    timestamp, signature = call.headers["x-flowyard-timestamp"], call.headers["x-flowyard-signature"]
    assert verify(own["secret"], timestamp, call.body, signature, now=time.time())
    assert not signed(call)  # (not with the shared one)
    assert (await api.get(f"{V1}/workflows/{workflow_id}/callback-secret")).json() == own
    back = (await api.delete(f"{V1}/workflows/{workflow_id}/callback-secret")).json()
    assert back == {"secret": SECRET, "shared": True}
