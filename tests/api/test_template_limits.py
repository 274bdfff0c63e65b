"""Templates that break the limits, through the API: refused with 422 naming the step and field when that shows
without running them, stopped with a message when it shows only while running; never a 500, never a frozen server.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest

from app.root import Flowyard
from tests.api.helpers import V1, add_step, create_workflow, finished_run, start_run, workflow_detail
from tests.api.v2_helpers import V2

NUMBER_BOMB = "{{ (10**5000)|string }}"
UNCOMPILABLE = "{{ 1" + "0" * 5000 + " }}"
CPU_BOMB = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"


async def _workflow(api: httpx.AsyncClient, action: str = "{{ input }}", **fields: object) -> str:
    workflow = await create_workflow(api, "Bombed")
    await add_step(api, workflow["id"], "transform", action, key="bomb", **fields)
    return str(workflow["id"])


def _problem(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["problems"], body
    problem: dict[str, str] = body["problems"][0]
    assert problem["message"] in body["detail"]
    return problem


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (NUMBER_BOMB, "at most 4,300 digits"),
        (UNCOMPILABLE, "a number over 4,300 digits"),
        ("{{ 'a' * 10**9 }}", "limit is 1,000,000"),
        ("{% for i in range(10**9) %}x{% endfor %}", "range() gives at most 10,000 numbers"),
    ],
)
async def test_run_of_a_step_whose_template_breaks_a_limit_is_refused_naming_the_step(
    api: httpx.AsyncClient, template: str, reason: str
) -> None:
    workflow_id = await _workflow(api, template)  # saved: a draft may be invalid, as with any template problem

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "go"})

    problem = _problem(response)
    assert (problem["node"], problem["field"]) == ("bomb", "action")
    assert reason in problem["message"]
    assert [s["action"] for s in (await workflow_detail(api, workflow_id))["steps"]] == [template]


@pytest.mark.parametrize("template", [NUMBER_BOMB, UNCOMPILABLE])
async def test_v2_run_of_a_workflow_with_such_a_template_is_refused(api: httpx.AsyncClient, template: str) -> None:
    workflow_id = await _workflow(api, template)

    response = await api.post(
        f"{V2}/workflows/run", json={"workflowOId": workflow_id, "callbackUrl": "http://127.0.0.1:9/hook"}
    )

    assert _problem(response)["node"] == "bomb"


async def test_run_of_a_step_whose_input_mapping_breaks_a_limit_is_refused(api: httpx.AsyncClient) -> None:
    workflow_id = await _workflow(api, inputMapping={"text": NUMBER_BOMB})

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "go"})

    assert (_problem(response)["field"]) == "input_mapping"


async def test_a_step_whose_template_breaks_a_limit_only_with_the_run_s_data_fails_saying_why(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await _workflow(api, "{{ 'ab' * input.times }}")

    run = await finished_run(api, flowyard_of, (await start_run(api, workflow_id, {"times": 10**9}))["runId"])

    assert run["status"] == "FAILED"
    assert "limit is 1,000,000" in run["error"]


async def test_a_cpu_bomb_step_is_stopped_within_its_timeout_while_health_keeps_answering(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await _workflow(api, CPU_BOMB, timeoutSeconds=2)
    latencies: list[float] = []

    async def check_health(done: asyncio.Event) -> None:
        while not done.is_set():
            started = time.perf_counter()
            response = await api.get("/api/health")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            await asyncio.sleep(0.002)

    done = asyncio.Event()
    checker = asyncio.create_task(check_health(done))
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    run = await finished_run(api, flowyard_of, (await start_run(api, workflow_id))["runId"])
    elapsed = time.perf_counter() - started
    done.set()
    await checker

    slowest, typical = max(latencies), statistics.median(latencies)
    print(
        f"\nthe bomb's run ended after {elapsed * 1000:.0f} ms; /api/health answered {len(latencies)} times, "
        f"in {typical * 1000:.1f} ms typically, the slowest in {slowest * 1000:.1f} ms"
    )
    assert run["status"] == "FAILED"
    assert "stopped: the template" in run["nodes"][0]["error"]
    assert elapsed < 2
    # Health keeps answering in < 100 ms; one answer may wait for the 2-core machine's other work (CI runs
    # tests in parallel), but never for the bomb: a blocked event loop would hold it for the bomb's whole run.
    assert typical < 0.1
    assert slowest < 0.5
