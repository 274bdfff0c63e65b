"""Saved agents called directly (`POST /api/v2/agents/{agentId}/run`, `GET /api/v2/agents/run/status`).

Each call is a one-step run of the agent's own workflow, made on its first call and kept out of the workflow
lists. Callbacks and the `http` agent's requests go to a real HTTP server on 127.0.0.1 (`web`); shared helpers
are in `v2_helpers.py`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from app.engine.model import CallbackState
from app.models.people import Role, Scope, TokenCreate
from app.models.runs import RunQuery
from app.root import Flowyard
from app.services.people import principal_of
from app.settings import Settings
from storage import repositories as repo
from storage.models import WorkflowRow
from tests.api.helpers import V1, assert_refused, start_run, workflow_with_steps
from tests.api.v2_helpers import (
    V2,
    fast_callback_settings,
    lead_kind,  # noqa: F401  (a fixture)
    signed,
)
from tests.servers import LocalServer
from tests.ui.conftest import add_person


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fast callbacks (see `fast_callback_settings`)."""
    return fast_callback_settings(tmp_path)


async def save_agent(api: httpx.AsyncClient, agent_id: str, name: str, kind: str, **config: Any) -> None:
    response = await api.post(f"{V1}/agents", json={"id": agent_id, "name": name, "kind": kind, "config": config})
    assert response.status_code == 201, response.text


async def run_agent(api: httpx.AsyncClient, agent_id: str, callback_url: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(f"{V2}/agents/{agent_id}/run", json={"callbackUrl": callback_url, **fields})
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def agent_status(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await api.get(f"{V2}/agents/run/status", params={"agentRunOId": run_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def enrich_agent(api: httpx.AsyncClient, web: LocalServer) -> str:
    """An `http` agent that POSTs its input to the local server, which echoes it."""
    await save_agent(api, "enrich-person", "Enrich person", "http", method="POST", url=web.url + "/enrich")
    return "enrich-person"


def agent_workflows(flowyard: Flowyard, agent_id: str) -> list[WorkflowRow]:
    with Session(flowyard.db.engine) as session:
        return list(session.exec(select(WorkflowRow).where(col(WorkflowRow.for_agent) == agent_id)).all())


# --- running an agent ------------------------------------------------------------------------------------------


async def test_run_of_a_saved_agent_calls_back_signed_and_reports_its_output(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    agent_id = await enrich_agent(api, web)

    accepted = await run_agent(api, agent_id, web.url + "/hook", email="ada@example.com")
    run_id = accepted["agentRunOId"]
    run = await flowyard_of.callbacks.wait(run_id, timeout=10)

    assert (accepted["agentOId"], accepted["status"]) == ("enrich-person", "QUEUED")
    assert run is not None and run.callback_state is CallbackState.DELIVERED
    [callback] = web.calls_to("/hook")
    assert signed(callback)
    result = callback.json()
    assert (result["workflowRunOId"], result["workflowOId"], result["status"]) == (
        run_id,
        accepted["workflowOId"],
        "COMPLETED",
    )
    assert result["output"]["body"]["echo"] == {"email": "ada@example.com"}
    assert web.calls_to("/enrich")[0].json() == {"email": "ada@example.com"}


async def test_status_of_an_agent_run_reports_its_step_and_output(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    agent_id = await enrich_agent(api, web)
    run_id = (await run_agent(api, agent_id, web.url + "/hook", email="ada@example.com"))["agentRunOId"]
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    status = await agent_status(api, run_id)

    assert (status["agentRunOId"], status["agentOId"], status["status"]) == (run_id, "enrich-person", "COMPLETED")
    assert status["workflowRunOId"] == run_id
    assert status["output"]["body"]["echo"] == {"email": "ada@example.com"}
    assert [(n["key"], n["name"], n["agentId"], n["status"]) for n in status["nodes"]] == [
        ("agent", "Enrich person", "enrich-person", "COMPLETED")
    ]
    assert status["callback"]["state"] == "DELIVERED"


async def test_status_of_a_workflow_run_is_not_an_agent_run(api: httpx.AsyncClient) -> None:
    run_id = (await start_run(api, await workflow_with_steps(api, "x")))["runId"]

    response = await api.get(f"{V2}/agents/run/status", params={"agentRunOId": run_id})

    assert response.status_code == 404
    assert run_id in response.json()["detail"]


async def test_run_of_an_unknown_agent_is_404_naming_it(api: httpx.AsyncClient, web: LocalServer) -> None:
    response = await api.post(f"{V2}/agents/no-such-agent/run", json={"callbackUrl": web.url + "/hook"})

    assert response.status_code == 404
    assert "no-such-agent" in response.json()["detail"]


async def test_run_with_a_bad_callback_url_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V2}/agents/transform/run", json={"callbackUrl": "ftp://example.com/hook"})

    assert_refused(response, "callbackUrl")
    assert "http:// or https://" in response.json()["detail"]


@pytest.mark.usefixtures("lead_kind")
async def test_run_with_input_the_agent_kind_does_not_take_names_each_bad_field_and_starts_nothing(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    await save_agent(api, "leads", "Leads", "lead_intake")

    response = await api.post(
        f"{V2}/agents/leads/run", json={"callbackUrl": web.url + "/hook", "score": -1, "phone": "123"}
    )

    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert {"email", "score", "phone"} <= set(errors)
    assert (await flowyard_of.runs.list_all(RunQuery())).items == []


# --- its own workflow -----------------------------------------------------------------------------------------


async def test_agent_workflow_stays_out_of_workflow_lists_but_its_runs_show(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    agent_id = await enrich_agent(api, web)
    accepted = await run_agent(api, agent_id, web.url + "/hook", email="ada@example.com")
    await flowyard_of.executor.wait(accepted["agentRunOId"], timeout=10)

    listed = (await api.get(f"{V1}/workflows")).json()
    summaries = await flowyard_of.workflows.summaries(page=0, size=50)
    runs = await flowyard_of.runs.list_all(RunQuery())

    assert listed["totalElements"] == 0 and summaries.total == 0
    assert [(r.id, r.workflow_name) for r in runs.items] == [(accepted["agentRunOId"], "Agent: Enrich person")]
    [agent] = [a for a in await flowyard_of.agents.summaries() if a.id == agent_id]
    assert agent.used_by == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"name": "Mine now"}),
        ("DELETE", "", None),
        ("POST", "/clone", None),
        ("POST", "/steps", {"agentId": "transform", "action": ""}),
    ],
)
async def test_agent_workflow_cannot_be_edited_as_a_workflow(
    api: httpx.AsyncClient, web: LocalServer, method: str, path: str, body: Any
) -> None:
    workflow_id = (await run_agent(api, "transform", web.url + "/hook"))["workflowOId"]

    response = await api.request(method, f"{V1}/workflows/{workflow_id}{path}", json=body)

    assert response.status_code == 409
    assert "edit the agent" in response.json()["detail"]


async def test_second_call_reuses_the_agent_workflow(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    first = await run_agent(api, "transform", web.url + "/hook", n=1)
    second = await run_agent(api, "transform", web.url + "/hook", n=2)

    assert first["workflowOId"] == second["workflowOId"]
    assert len(agent_workflows(flowyard_of, "transform")) == 1
    one, two = [await flowyard_of.runs.get(r["agentRunOId"]) for r in (first, second)]
    assert one.workflow_version == two.workflow_version


async def test_concurrent_first_calls_make_one_workflow(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    accepted = await asyncio.gather(*(run_agent(api, "transform", web.url + "/hook", n=n) for n in range(5)))

    assert len({a["workflowOId"] for a in accepted}) == 1
    assert len(agent_workflows(flowyard_of, "transform")) == 1


async def test_first_call_that_loses_the_race_takes_the_winners_workflow(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = await flowyard_of.agent_runs.workflow_for("transform")
    read = repo.get_workflow
    unseen = iter([True])  # the loser's first read comes before the winner's commit

    def racing(session: Session, *, workflow_id: str) -> WorkflowRow | None:
        return None if next(unseen, False) else read(session, workflow_id=workflow_id)

    monkeypatch.setattr(repo, "get_workflow", racing)
    accepted = await run_agent(api, "transform", web.url + "/hook")

    assert accepted["workflowOId"] == winner
    assert len(agent_workflows(flowyard_of, "transform")) == 1


async def test_agent_renamed_renames_its_workflow(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    agent_id = await enrich_agent(api, web)
    workflow_id = (await run_agent(api, agent_id, web.url + "/hook", email="a@b.c"))["workflowOId"]

    renamed = await api.patch(f"{V1}/agents/{agent_id}", json={"name": "Find person"})

    assert renamed.status_code == 200, renamed.text
    assert (await api.get(f"{V1}/workflows/{workflow_id}")).json()["name"] == "Agent: Find person"


async def test_deleting_the_agent_keeps_its_runs(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    agent_id = await enrich_agent(api, web)
    run_id = (await run_agent(api, agent_id, web.url + "/hook", email="a@b.c"))["agentRunOId"]
    await flowyard_of.callbacks.wait(run_id, timeout=10)

    deleted = await api.delete(f"{V1}/agents/{agent_id}")

    assert deleted.status_code == 204, deleted.text
    assert (await api.get(f"{V1}/workflows/runs/{run_id}")).json()["status"] == "COMPLETED"
    assert (await agent_status(api, run_id))["nodes"][0]["key"] == "agent"
    assert (await api.post(f"{V2}/agents/{agent_id}/run", json={"callbackUrl": web.url + "/hook"})).status_code == 404


async def test_agent_saved_again_after_deletion_runs_again(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    agent_id = await enrich_agent(api, web)
    first = (await run_agent(api, agent_id, web.url + "/hook", email="a@b.c"))["agentRunOId"]
    await flowyard_of.executor.wait(first, timeout=10)
    assert (await api.delete(f"{V1}/agents/{agent_id}")).status_code == 204
    await save_agent(api, agent_id, "Enrich again", "transform")

    run_id = (await run_agent(api, agent_id, web.url + "/hook", email="a@b.c"))["agentRunOId"]
    await flowyard_of.executor.wait(run_id, timeout=10)

    status = await agent_status(api, run_id)
    assert (status["status"], status["output"]) == ("COMPLETED", {"email": "a@b.c"})


# --- approvals, cancel, re-run ---------------------------------------------------------------------------------


async def paused_agent_run(api: httpx.AsyncClient, flowyard: Flowyard, web: LocalServer) -> str:
    await save_agent(api, "review", "Review draft", "approval", instructions="Check the tone.")
    run_id: str = (await run_agent(api, "review", web.url + "/hook", draft="Hello"))["agentRunOId"]
    await flowyard.executor.wait(run_id, timeout=10)
    return run_id


async def test_approval_agent_pauses_and_completes_when_approved(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    run_id = await paused_agent_run(api, flowyard_of, web)
    paused = await agent_status(api, run_id)
    inbox = await flowyard_of.approvals.pending()

    resumed = await api.post(f"{V1}/workflows/runs/{run_id}/resume", json={"output": {"draft": "Hello!"}})
    run = await flowyard_of.callbacks.wait(run_id, timeout=10)

    assert (paused["status"], paused["currentNodes"]) == ("PAUSED", ["agent"])
    assert [(i.run_id, i.workflow_name) for i in inbox.items] == [(run_id, "Agent: Review draft")]
    assert resumed.status_code == 202, resumed.text
    assert run is not None and run.callback_state is CallbackState.DELIVERED
    assert (await agent_status(api, run_id))["output"] == {"draft": "Hello!"}
    [callback] = web.calls_to("/hook")
    assert signed(callback) and callback.json()["status"] == "COMPLETED"


async def test_deleting_an_agent_while_its_run_waits_is_refused_naming_the_run(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    run_id = await paused_agent_run(api, flowyard_of, web)

    response = await api.delete(f"{V1}/agents/review")

    assert response.status_code == 409
    assert run_id in response.json()["detail"]


async def test_agent_run_cancelled_then_rerun(api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer) -> None:
    run_id = await paused_agent_run(api, flowyard_of, web)

    cancelled = await api.post(f"{V1}/workflows/runs/{run_id}/cancel")
    await flowyard_of.callbacks.wait(run_id, timeout=10)
    after_cancel = await agent_status(api, run_id)
    rerun = await api.post(f"{V1}/workflows/runs/{run_id}/rerun")
    await flowyard_of.executor.wait(run_id, timeout=10)

    assert cancelled.status_code == 202, cancelled.text
    assert after_cancel["status"] == "CANCELLED"
    assert web.calls_to("/hook")[0].json()["status"] == "CANCELLED"
    assert rerun.status_code == 202, rerun.text
    assert (await agent_status(api, run_id))["status"] == "PAUSED"


# --- who may call, and the docs ---------------------------------------------------------------------------------


async def test_run_with_a_viewers_token_is_403_but_status_answers(
    anonymous: httpx.AsyncClient, api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    run_id = (await run_agent(api, "transform", web.url + "/hook"))["agentRunOId"]
    viewer = principal_of(await add_person(flowyard_of, "vic@example.com", Role.VIEWER))
    token = (await flowyard_of.tokens.create(viewer, TokenCreate(name="read", scopes=[Scope.READ]))).token
    headers = {"Authorization": f"Bearer {token}"}

    refused = await anonymous.post(
        f"{V2}/agents/transform/run", json={"callbackUrl": web.url + "/hook"}, headers=headers
    )
    status = await anonymous.get(f"{V2}/agents/run/status", params={"agentRunOId": run_id}, headers=headers)

    assert refused.status_code == 403
    assert status.status_code == 200


async def test_openapi_documents_the_agent_run_endpoints(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()

    run = spec["paths"][f"{V2}/agents/{{agentId}}/run"]["post"]
    status_params = spec["paths"][f"{V2}/agents/run/status"]["get"]["parameters"]
    assert [p["name"] for p in run["parameters"]] == ["agentId"]
    assert {"202", "404", "422"} <= set(run["responses"])
    assert [p["name"] for p in status_params] == ["agentRunOId"]
    schemas = spec["components"]["schemas"]
    assert {"callbackUrl"} == set(schemas["AgentRunRequest"]["properties"])
    assert {"agentRunOId", "agentOId", "currentNodes", "nodes", "callback"} <= set(
        schemas["AgentRunStatus"]["properties"]
    )
