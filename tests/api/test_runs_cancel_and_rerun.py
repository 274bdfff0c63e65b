"""Runs: cancel one (promptly, even in a long delay) and re-run it from the failed step."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from app.engine.model import Trigger
from app.root import Flowyard
from tests.api.helpers import (
    V1,
    add_step,
    create_workflow,
    finished_run,
    paused_run,
    run_to_end,
    start_run,
    workflow_with_steps,
)
from tests.servers import LocalServer

# --- cancel ---------------------------------------------------------------------------------------------------------


async def _waiting_on_delay(api: httpx.AsyncClient) -> str:
    """The id of a run busy in a 30-second delay step."""
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    await add_step(api, workflow_id, "delay", "", config={"seconds": 30})
    await add_step(api, workflow_id, "transform", "after the delay")
    run_id = (await start_run(api, workflow_id))["runId"]
    for _ in range(200):  # poll as a client would until the delay step is under way
        nodes = (await api.get(f"{V1}/workflows/runs/{run_id}")).json()["nodes"]
        if any(n["agentId"] == "delay" and n["status"] == "RUNNING" for n in nodes):
            return str(run_id)
        await asyncio.sleep(0.01)
    raise AssertionError(f"the delay step of run {run_id} never started")


async def test_cancel_run_in_a_long_delay_stops_it_promptly(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    run_id = await _waiting_on_delay(api)
    started = time.monotonic()

    response = await api.post(f"{V1}/workflows/runs/{run_id}/cancel")
    run = await finished_run(api, flowyard_of, run_id)

    assert time.monotonic() - started < 2
    assert response.status_code == 202
    assert response.json()["status"] == "CANCELLED"
    assert run["status"] == "CANCELLED"
    assert [n["status"] for n in run["nodes"]] == ["COMPLETED", "CANCELLED"]


async def test_cancel_run_that_was_cancelled_already_is_a_conflict(api: httpx.AsyncClient) -> None:
    run_id = await _waiting_on_delay(api)
    await api.post(f"{V1}/workflows/runs/{run_id}/cancel")

    response = await api.post(f"{V1}/workflows/runs/{run_id}/cancel")

    assert response.status_code == 409
    assert "CANCELLED" in response.json()["detail"]


async def test_cancel_completed_run_is_a_conflict(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    run = await run_to_end(api, flowyard_of, await workflow_with_steps(api, "{{ input }}"))

    response = await api.post(f"{V1}/workflows/runs/{run['id']}/cancel")

    assert response.status_code == 409
    assert (await api.get(f"{V1}/workflows/runs/{run['id']}")).json()["status"] == "COMPLETED"


async def test_cancel_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.post(f"{V1}/workflows/runs/wr-missing/cancel")).status_code == 404


# --- rerun ----------------------------------------------------------------------------------------------------------


async def _fails_at_second_step(api: httpx.AsyncClient, flowyard: Flowyard, web: LocalServer) -> dict[str, Any]:
    """A run whose first http step succeeds and whose second fails (500) the first time only; returns it FAILED."""
    first = web.reply("/search", (200, {"hits": 3}))
    second = web.reply("/publish", (500, {"error": "down"}), (201, {"published": True}))
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "http", "", config={"method": "GET", "url": first})
    await add_step(api, workflow["id"], "http", "", config={"method": "POST", "url": second}, retries=0)
    run = await run_to_end(api, flowyard, workflow["id"], {"topic": "ai"})
    assert run["status"] == "FAILED", run
    return run


async def test_rerun_failed_run_completes_from_the_failed_step(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    failed = await _fails_at_second_step(api, flowyard_of, web)

    response = await api.post(f"{V1}/workflows/runs/{failed['id']}/rerun")
    run = await finished_run(api, flowyard_of, failed["id"])

    assert response.status_code == 202
    assert response.json()["id"] == failed["id"]
    assert response.json()["status"] in ("QUEUED", "RUNNING")
    assert run["status"] == "COMPLETED"
    assert run["error"] is None
    assert run["output"]["body"] == {"published": True}
    assert web.hits["/publish"] == 2


async def test_rerun_keeps_the_completed_step_without_running_it_again(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    failed = await _fails_at_second_step(api, flowyard_of, web)
    kept = failed["nodes"][0]

    await api.post(f"{V1}/workflows/runs/{failed['id']}/rerun")
    run = await finished_run(api, flowyard_of, failed["id"])

    assert run["nodes"][0] == kept
    assert run["nodes"][0]["attempt"] == 1
    assert web.hits["/search"] == 1
    assert run["nodes"][1]["input"] == kept["output"]
    assert json.loads(web.bodies["/publish"][-1]) == kept["output"]


async def test_rerun_completed_run_is_a_conflict(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    run = await run_to_end(api, flowyard_of, await workflow_with_steps(api, "{{ input }}"))

    response = await api.post(f"{V1}/workflows/runs/{run['id']}/rerun")

    assert response.status_code == 409
    assert "COMPLETED" in response.json()["detail"]


async def test_rerun_cancelled_run_runs_its_unfinished_steps_again(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, paused = await paused_run(api, flowyard_of)
    await api.post(f"{V1}/workflows/runs/{paused['id']}/cancel")

    response = await api.post(f"{V1}/workflows/runs/{paused['id']}/rerun")
    run = await finished_run(api, flowyard_of, paused["id"])

    assert response.status_code == 202
    assert run["status"] == "PAUSED"
    assert [n["status"] for n in run["nodes"]] == ["COMPLETED", "WAITING_APPROVAL"]
    assert run["nodes"][0] == paused["nodes"][0]
    assert [a["status"] for a in run["approvals"]] == ["CANCELLED", "PENDING"]


async def test_rerun_run_cancelled_right_after_it_started_completes(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}!")
    run = await flowyard_of.runs.start(workflow_id, input="hi", trigger=Trigger.UI)  # as the Run button does
    await flowyard_of.runs.cancel(run.id)  # a Cancel click before the executor had its turn

    response = await api.post(f"{V1}/workflows/runs/{run.id}/rerun")
    status = await _status_after(api, run.id, seconds=1)

    assert response.status_code == 202
    assert status == "COMPLETED"


async def _status_after(api: httpx.AsyncClient, run_id: str, *, seconds: float) -> str:
    """The run's status once it ended or `seconds` passed (for a run the executor may never pick up)."""
    deadline = time.monotonic() + seconds
    while True:
        status: str = (await api.get(f"{V1}/workflows/runs/{run_id}")).json()["status"]
        if status in ("COMPLETED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


async def test_rerun_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.post(f"{V1}/workflows/runs/wr-missing/rerun")).status_code == 404
