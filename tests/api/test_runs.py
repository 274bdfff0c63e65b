"""Runs: start one (202), follow it node by node, list the history and read one in detail.

Cancelling a run and re-running it from the failed step are tested in `test_runs_cancel_and_rerun.py`.
"""

from __future__ import annotations

import httpx

from app.root import Flowyard
from tests.api.helpers import (
    ISO_UTC,
    V1,
    add_step,
    assert_refused,
    create_workflow,
    finished_run,
    run_to_end,
    start_run,
    workflow_with_steps,
)
from tests.servers import LocalServer

RUN_FIELDS = {"id", "workflowId", "sessionId", "status", "currentStepOrder", "durationMs", "createdAt", "updatedAt"}
NODE_FIELDS = {
    "key",
    "stepOrder",
    "agentId",
    "status",
    "attempt",
    "input",
    "output",
    "error",
    "startedAt",
    "finishedAt",
}

# --- start ----------------------------------------------------------------------------------------------------------


async def test_run_workflow_answers_202_with_job_run_workflow_and_session_ids(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "ai in healthcare"})

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["jobId"]
    assert accepted["runId"].startswith("wr-")
    assert accepted["workflowId"] == workflow_id
    assert accepted["sessionId"]
    assert accepted["status"] == "QUEUED"


async def test_run_workflow_without_session_id_gets_a_new_one_each_time(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")

    first = await start_run(api, workflow_id, "a")
    second = await start_run(api, workflow_id, "b")

    assert first["sessionId"].startswith("session-")
    assert second["sessionId"].startswith("session-")
    assert first["sessionId"] != second["sessionId"]


async def test_run_workflow_with_session_id_keeps_it(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ run.sessionId }}")

    accepted = await start_run(api, workflow_id, "x", sessionId="session-news-001")
    run = await finished_run(api, flowyard_of, accepted["runId"])

    assert accepted["sessionId"] == "session-news-001"
    assert run["sessionId"] == "session-news-001"
    assert run["output"] == "session-news-001"


async def test_run_feeds_each_steps_output_to_the_next(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news", "{{ input | upper }}", "Draft: {{ input }}")

    run = await run_to_end(api, flowyard_of, workflow_id, "ai")

    assert run["status"] == "COMPLETED"
    assert [(n["input"], n["output"]) for n in run["nodes"]] == [
        ("ai", "ai news"),
        ("ai news", "AI NEWS"),
        ("AI NEWS", "Draft: AI NEWS"),
    ]
    assert run["output"] == "Draft: AI NEWS"


async def test_run_with_json_input_gives_steps_its_fields(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input.topic }} in {{ input.year }}", "{{ payload.year + 1 }}")

    run = await run_to_end(api, flowyard_of, workflow_id, {"topic": "AI", "year": 2025})

    assert [n["output"] for n in run["nodes"]] == ["AI in 2025", 2026]
    assert run["input"] == {"topic": "AI", "year": 2025}


async def test_run_step_reads_an_earlier_step_by_key(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "transform", "{{ input }} news", key="search")
    await add_step(api, workflow["id"], "transform", "summary")
    await add_step(api, workflow["id"], "transform", "{{ input }} of {{ nodes.search.output }}")

    run = await run_to_end(api, flowyard_of, workflow["id"], "ai")

    assert run["output"] == "summary of ai news"


async def test_run_up_to_a_step_runs_it_and_what_it_depends_on(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news", "{{ input | upper }}", "Draft: {{ input }}")

    accepted = await start_run(api, workflow_id, "ai", until="step_2")
    run = await finished_run(api, flowyard_of, accepted["runId"])

    assert (run["status"], run["output"], run["until"]) == ("COMPLETED", "AI NEWS", "step_2")
    assert [(n["key"], n["status"]) for n in run["nodes"]] == [
        ("step_1", "COMPLETED"),
        ("step_2", "COMPLETED"),
        ("step_3", "SKIPPED"),
    ]
    assert_refused(await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "x", "until": "nope"}), "until")


async def test_a_turned_off_step_passes_its_input_on(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "transform", "{{ input }} news")
    off = await add_step(api, workflow["id"], "transform", "{{ input.nope.deeper }}", disabled=True)
    await add_step(api, workflow["id"], "transform", "{{ input | upper }}")

    run = await run_to_end(api, flowyard_of, workflow["id"], "ai")

    assert off["disabled"] is True
    assert (run["status"], run["output"]) == ("COMPLETED", "AI NEWS")


async def test_run_without_input_is_refused(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")

    assert_refused(await api.post(f"{V1}/workflows/{workflow_id}/run", json={"sessionId": "s"}), "input")
    assert (await api.get(f"{V1}/workflows/{workflow_id}/runs")).json()["totalElements"] == 0


async def test_run_with_an_unknown_field_is_refused(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "x", "priority": "high"})

    assert_refused(response, "priority")


async def test_run_of_empty_workflow_is_refused_with_its_problems(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.post(f"{V1}/workflows/{workflow['id']}/run", json={"input": "x"})

    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["problems"], list)
    assert body["problems"]
    assert "no steps" in body["problems"][0]["message"]
    assert (await api.get(f"{V1}/workflows/{workflow['id']}/runs")).json()["totalElements"] == 0


async def test_run_with_template_using_an_unknown_name_is_refused_naming_the_step(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}", "{{ summary }}")
    second = (await api.get(f"{V1}/workflows/{workflow_id}/steps")).json()[1]

    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "x"})

    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert (problem["node"], problem["field"]) == (second["key"], "action")
    assert "summary" in problem["message"]


async def test_run_of_unknown_workflow_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.post(f"{V1}/workflows/wf-missing/run", json={"input": "x"})).status_code == 404


async def test_run_uses_the_steps_it_started_with(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}!")
    await add_step(api, workflow_id, "approval", "")
    run_id = (await start_run(api, workflow_id, "hi"))["runId"]
    await flowyard_of.executor.wait(run_id, timeout=10)
    await add_step(api, workflow_id, "transform", "added later: {{ input }}")

    await api.post(f"{V1}/workflows/runs/{run_id}/resume", json={"output": "approved"})
    run = await finished_run(api, flowyard_of, run_id)

    assert run["status"] == "COMPLETED"
    assert len(run["nodes"]) == 2
    assert run["output"] == "approved"


# --- failing steps --------------------------------------------------------------------------------------------------


async def test_run_fails_when_a_template_references_an_undefined_value(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}", "Summary of {{ input.articles }}", "never")

    run = await run_to_end(api, flowyard_of, workflow_id, "plain text")

    assert run["status"] == "FAILED"
    first, second = run["nodes"][:2]
    assert first["status"] == "COMPLETED"
    assert second["status"] == "FAILED"
    assert "Summary of {{ input.articles }}" in second["error"]
    assert "articles" in second["error"]
    assert second["key"] in run["error"]
    assert [n["status"] for n in run["nodes"]].count("COMPLETED") == 1
    assert run["output"] is None


async def test_run_fails_when_an_http_step_cannot_connect(
    api: httpx.AsyncClient, flowyard_of: Flowyard, closed_url: str
) -> None:
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "http", "", config={"method": "GET", "url": closed_url}, retries=0)

    run = await run_to_end(api, flowyard_of, workflow["id"])

    assert run["status"] == "FAILED"
    [node] = run["nodes"]
    assert node["status"] == "FAILED"
    assert node["attempt"] == 1
    assert closed_url in node["error"]


async def test_run_of_http_step_gets_the_servers_answer(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    url = web.reply("/news", (200, {"headlines": ["AI beats doctors"]}))
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "http", "", config={"method": "GET", "url": url})
    await add_step(api, workflow["id"], "transform", "{{ input.body.headlines[0] }}")

    run = await run_to_end(api, flowyard_of, workflow["id"])

    assert run["status"] == "COMPLETED"
    assert run["nodes"][0]["output"]["status"] == 200
    assert run["nodes"][0]["output"]["body"] == {"headlines": ["AI beats doctors"]}
    assert run["output"] == "AI beats doctors"
    assert web.hits["/news"] == 1


async def test_run_of_http_step_with_retries_tries_again_until_it_succeeds(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    url = web.reply("/flaky", (503, {"error": "busy"}), (200, {"ok": True}))
    workflow = await create_workflow(api)
    await add_step(
        api, workflow["id"], "http", "", config={"method": "GET", "url": url}, retries=1, retryBackoffSeconds=0
    )

    run = await run_to_end(api, flowyard_of, workflow["id"])

    assert run["status"] == "COMPLETED"
    assert run["nodes"][0]["attempt"] == 2
    assert web.hits["/flaky"] == 2


async def test_run_fails_when_a_step_runs_past_its_timeout(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "delay", "", config={"seconds": 30}, timeoutSeconds=0.1)

    run = await run_to_end(api, flowyard_of, workflow["id"])

    assert run["status"] == "FAILED"
    [node] = run["nodes"]
    assert node["status"] == "FAILED"
    assert "timed out" in node["error"]
    assert node["durationMs"] < 2000


# --- history --------------------------------------------------------------------------------------------------------


async def test_list_runs_answers_a_page_of_runs_with_their_fields(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}", "{{ input }}!")
    done = await run_to_end(api, flowyard_of, workflow_id, "x")

    response = await api.get(f"{V1}/workflows/{workflow_id}/runs")

    assert response.status_code == 200
    page = response.json()
    assert (page["totalElements"], page["totalPages"]) == (1, 1)
    [run] = page["content"]
    assert RUN_FIELDS <= set(run)
    assert run["id"] == done["id"]
    assert run["workflowId"] == workflow_id
    assert run["sessionId"] == done["sessionId"]
    assert run["status"] == "COMPLETED"
    assert run["currentStepOrder"] == 2
    assert isinstance(run["durationMs"], int)
    assert run["durationMs"] >= 0
    assert ISO_UTC.match(run["createdAt"])
    assert ISO_UTC.match(run["updatedAt"])


async def test_list_runs_is_newest_first(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    ids = [(await run_to_end(api, flowyard_of, workflow_id, n))["id"] for n in range(3)]

    page = (await api.get(f"{V1}/workflows/{workflow_id}/runs")).json()

    assert [r["id"] for r in page["content"]] == ids[::-1]


async def test_list_runs_pages_with_page_and_size(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    ids = [(await run_to_end(api, flowyard_of, workflow_id, n))["id"] for n in range(3)]

    page = (await api.get(f"{V1}/workflows/{workflow_id}/runs", params={"page": 1, "size": 2})).json()

    assert [r["id"] for r in page["content"]] == [ids[0]]
    assert (page["totalElements"], page["totalPages"], page["page"], page["size"]) == (3, 2, 1, 2)


async def test_list_runs_keeps_each_workflows_runs_apart(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    mine = await workflow_with_steps(api, "{{ input }}", name="mine")
    other = await workflow_with_steps(api, "{{ input }}", name="other")
    await run_to_end(api, flowyard_of, other)

    assert (await api.get(f"{V1}/workflows/{mine}/runs")).json()["content"] == []


async def test_list_runs_with_size_out_of_range_is_refused(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")

    assert_refused(await api.get(f"{V1}/workflows/{workflow_id}/runs", params={"size": 0}), "size")


async def test_list_runs_of_unknown_workflow_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{V1}/workflows/wf-missing/runs")).status_code == 404


# --- detail ---------------------------------------------------------------------------------------------------------


async def test_get_run_shows_every_node_with_input_output_attempt_and_timing(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news", "{{ input | upper }}")

    accepted = await start_run(api, workflow_id, "ai")
    run = await finished_run(api, flowyard_of, accepted["runId"])

    assert run["status"] == "COMPLETED"
    assert (run["input"], run["output"], run["error"]) == ("ai", "AI NEWS", None)
    assert run["currentStepOrder"] == 2
    assert ISO_UTC.match(run["startedAt"])
    assert ISO_UTC.match(run["finishedAt"])
    assert run["approvals"] == []
    first, second = run["nodes"]
    assert NODE_FIELDS | {"durationMs"} <= set(first)
    assert (first["stepOrder"], first["agentId"], first["status"], first["attempt"]) == (1, "transform", "COMPLETED", 1)
    assert (second["stepOrder"], second["input"], second["output"], second["error"]) == (2, "ai news", "AI NEWS", None)
    for node in run["nodes"]:
        assert ISO_UTC.match(node["startedAt"])
        assert ISO_UTC.match(node["finishedAt"])
        assert node["durationMs"] >= 0


async def test_get_run_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/workflows/runs/wr-missing")

    assert response.status_code == 404
    assert "wr-missing" in response.json()["detail"]
