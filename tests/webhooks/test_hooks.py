"""Calling a workflow's webhook URL: good and bad secrets, bodies and inputs, async and sync answers."""

from __future__ import annotations

import httpx

from app.root import Flowyard
from tests.api.helpers import V1, add_step, create_workflow, finished_run, start_run, workflow_with_steps
from tests.webhooks.helpers import hook_path, run_count, webhook

# --- a good secret ----------------------------------------------------------------------------------------


async def test_async_webhook_starts_a_run_with_the_body_as_input(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "Hello {{ input.name }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(hook_path(hook), json={"name": "Ada"})

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "QUEUED"
    assert accepted["statusUrl"] == f"http://localhost{hook_path(hook)}/runs/{accepted['runId']}"
    run = await finished_run(api, flowyard_of, accepted["runId"])
    assert (run["status"], run["trigger"], run["input"], run["output"]) == (
        "COMPLETED",
        "webhook",
        {"name": "Ada"},
        "Hello Ada",
    )
    assert run["sessionId"] == accepted["sessionId"]


async def test_status_url_reports_the_run_without_a_token(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input.n * 2 }}")
    hook = await webhook(api, workflow_id)
    accepted = (await api.post(hook_path(hook), json={"n": 21})).json()
    await flowyard_of.executor.wait(accepted["runId"], timeout=10)

    status = await api.get(accepted["statusUrl"])

    assert status.status_code == 200, status.text
    assert status.json() == {
        "runId": accepted["runId"],
        "sessionId": accepted["sessionId"],
        "status": "COMPLETED",
        "output": 42,
        "error": None,
    }


async def test_status_url_does_not_show_runs_started_otherwise(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)
    other = await start_run(api, workflow_id, "not through the webhook")

    response = await api.get(f"{hook_path(hook)}/runs/{other['runId']}")

    assert response.status_code == 404


async def test_webhook_call_is_recorded_as_last_called(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)
    assert hook["lastCalledAt"] is None

    await api.post(hook_path(hook), json="ping")

    assert (await api.get(f"{V1}/workflows/{workflow_id}/webhook")).json()["lastCalledAt"] is not None


async def test_empty_body_starts_a_run_with_null_input(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "got {{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(hook_path(hook))

    assert response.status_code == 202, response.text
    run = await finished_run(api, flowyard_of, response.json()["runId"])
    assert (run["input"], run["output"]) == (None, "got None")


async def test_session_id_in_the_query_is_the_runs_session(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(hook_path(hook), params={"sessionId": "chat-42"}, json="hi")

    assert response.json()["sessionId"] == "chat-42"
    assert (await finished_run(api, flowyard_of, response.json()["runId"]))["sessionId"] == "chat-42"


# --- sync webhooks ---------------------------------------------------------------------------------------------


async def test_sync_webhook_answers_with_the_runs_output(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input.a + input.b }}", "{{ input * 10 }}")
    hook = await webhook(api, workflow_id, mode="sync", syncTimeoutSeconds=10)

    response = await api.post(hook_path(hook), json={"a": 1, "b": 2})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["output"], body["error"]) == ("COMPLETED", 30, None)
    assert body["runId"].startswith("wr-")


async def test_sync_webhook_past_its_timeout_answers_202_to_poll(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await create_workflow(api, "Slow")
    await add_step(api, workflow["id"], "delay", "{{ input.seconds }}")
    hook = await webhook(api, workflow["id"], mode="sync", syncTimeoutSeconds=0.2)

    response = await api.post(hook_path(hook), json={"seconds": 1})

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] in ("QUEUED", "RUNNING")
    await flowyard_of.executor.wait(accepted["runId"], timeout=10)
    assert (await api.get(accepted["statusUrl"])).json()["output"] == {"seconds": 1}


async def test_sync_webhook_of_a_failing_run_answers_502_with_the_error(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Broken")
    await add_step(api, workflow["id"], "delay", "{{ input.seconds }}")
    hook = await webhook(api, workflow["id"], mode="sync")

    response = await api.post(hook_path(hook), json={"seconds": "soon"})

    assert response.status_code == 502, response.text
    body = response.json()
    assert body["status"] == "FAILED"
    assert "delay needs a number of seconds" in body["error"]


async def test_sync_webhook_paused_for_approval_answers_202(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "Draft about {{ input.topic }}")
    await add_step(api, workflow_id, "approval", "", key="review")
    hook = await webhook(api, workflow_id, mode="sync")

    response = await api.post(hook_path(hook), json={"topic": "AI"})

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "PAUSED"


# --- refused: nothing starts ----------------------------------------------------------------------------------


async def test_wrong_secret_is_404_and_starts_no_run(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(hook_path(hook)[:-1] + "x", json={"a": 1})
    unknown = await api.post("/api/hooks/nothing-here", json={"a": 1})

    assert response.status_code == 404
    assert response.json() == unknown.json() == {"detail": "No webhook at this address"}
    assert await run_count(api, workflow_id) == 0


async def test_disabled_webhook_is_404_like_a_wrong_secret(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id, enabled=False)

    response = await api.post(hook_path(hook), json={"a": 1})

    assert response.status_code == 404
    assert response.json() == {"detail": "No webhook at this address"}
    assert await run_count(api, workflow_id) == 0


async def test_rotated_secret_stops_working_and_the_new_one_works(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    old = await webhook(api, workflow_id)

    rotated = (await api.post(f"{V1}/workflows/{workflow_id}/webhook/rotate")).json()

    assert rotated["url"] != old["url"]
    assert (await api.post(hook_path(old), json=1)).status_code == 404
    assert (await api.post(hook_path(rotated), json=1)).status_code == 202
    assert await run_count(api, workflow_id) == 1


async def test_body_over_the_webhooks_limit_is_413_naming_it(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id, maxBodyBytes=100)

    response = await api.post(hook_path(hook), json={"text": "x" * 100})

    assert response.status_code == 413, response.text
    assert "100 bytes" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "body"
    assert await run_count(api, workflow_id) == 0


async def test_body_that_is_not_json_is_400_naming_the_body(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(
        hook_path(hook), content=b'{"name": "Ada",}', headers={"content-type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "body"
    assert "line 1 column 16" in response.json()["detail"]
    assert await run_count(api, workflow_id) == 0


async def test_form_body_is_415_naming_the_body(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(hook_path(hook), data={"name": "Ada"})

    assert response.status_code == 415, response.text
    assert response.json()["errors"][0]["field"] == "body"
    assert await run_count(api, workflow_id) == 0


async def test_json_sent_as_form_data_by_curl_is_accepted(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    # `curl -d '{...}'` labels JSON as a form; what counts is that the body is JSON.
    workflow_id = await workflow_with_steps(api, "{{ input.name }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(
        hook_path(hook), content=b'{"name": "Ada"}', headers={"content-type": "application/x-www-form-urlencoded"}
    )

    assert response.status_code == 202, response.text
    assert (await finished_run(api, flowyard_of, response.json()["runId"]))["output"] == "Ada"


async def test_body_with_nan_is_refused_as_not_json(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(hook_path(hook), content=b'{"x": NaN}', headers={"content-type": "application/json"})

    assert response.status_code == 400, response.text
    assert "NaN" in response.json()["detail"]
    assert await run_count(api, workflow_id) == 0


async def test_body_failing_the_input_schema_is_422_naming_the_field(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Enrich leads")
    await add_step(api, workflow["id"], "enrich", "")
    hook = await webhook(api, workflow["id"])

    response = await api.post(hook_path(hook), json={"company": "Acme"})

    assert response.status_code == 422, response.text
    assert "email" in [e["field"] for e in response.json()["errors"]]
    assert await run_count(api, workflow["id"]) == 0


async def test_webhook_of_a_workflow_that_cannot_run_is_422_with_its_problems(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Empty")
    hook = await webhook(api, workflow["id"])

    response = await api.post(hook_path(hook), json={})

    assert response.status_code == 422, response.text
    assert "no steps" in response.json()["problems"][0]["message"]


async def test_too_long_session_id_is_422_naming_it(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.post(hook_path(hook), params={"sessionId": "s" * 201}, json=1)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "sessionId"
    assert await run_count(api, workflow_id) == 0


async def test_get_on_a_webhook_url_says_to_post(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.get(hook_path(hook))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["detail"]
    assert await run_count(api, workflow_id) == 0


async def test_deleting_the_workflow_deletes_its_webhook(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    assert (await api.delete(f"{V1}/workflows/{workflow_id}")).status_code == 204

    assert (await api.post(hook_path(hook), json=1)).status_code == 404
    with flowyard_of.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM webhooks").scalar() == 0


async def test_api_docs_describe_the_webhook_answers(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()

    post = spec["paths"]["/api/hooks/{secret}"]["post"]

    assert {"200", "202", "404", "413", "422", "502"} <= set(post["responses"])
    assert "**502**" in post["description"]
    assert "security" not in post
