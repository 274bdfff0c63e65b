"""Short ways to build and run workflows through the API, the way a client would, for the API tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.root import Flowyard

__all__ = [
    "ISO_UTC",
    "V1",
    "add_step",
    "assert_refused",
    "create_workflow",
    "finished_run",
    "paused_run",
    "run_to_end",
    "start_run",
    "workflow_detail",
    "workflow_with_steps",
]

V1 = "/api/v1"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


async def create_workflow(api: httpx.AsyncClient, name: str = "Briefing", description: str = "") -> dict[str, Any]:
    response = await api.post(f"{V1}/workflows", json={"name": name, "description": description})
    assert response.status_code == 201, response.text
    workflow: dict[str, Any] = response.json()
    return workflow


async def add_step(
    api: httpx.AsyncClient, workflow_id: str, agent_id: str = "transform", action: str = "", **fields: Any
) -> dict[str, Any]:
    """Add a step; `fields` are further body fields under their wire names (`stepOrder=2`, `needsApproval=True`)."""
    response = await api.post(
        f"{V1}/workflows/{workflow_id}/steps", json={"agentId": agent_id, "action": action, **fields}
    )
    assert response.status_code == 201, response.text
    step: dict[str, Any] = response.json()
    return step


async def workflow_with_steps(api: httpx.AsyncClient, *actions: str, name: str = "Briefing") -> str:
    """A workflow of transform steps, one per action, in order. Returns its id."""
    workflow = await create_workflow(api, name)
    for action in actions:
        await add_step(api, workflow["id"], "transform", action)
    return str(workflow["id"])


async def workflow_detail(api: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    response = await api.get(f"{V1}/workflows/{workflow_id}")
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def start_run(api: httpx.AsyncClient, workflow_id: str, input: Any = "go", **fields: Any) -> dict[str, Any]:
    response = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": input, **fields})
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def finished_run(api: httpx.AsyncClient, flowyard: Flowyard, run_id: str) -> dict[str, Any]:
    """The run's detail once the executor stops driving it (it ended or paused)."""
    await flowyard.executor.wait(run_id, timeout=10)
    response = await api.get(f"{V1}/workflows/runs/{run_id}")
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


async def run_to_end(api: httpx.AsyncClient, flowyard: Flowyard, workflow_id: str, input: Any = "go") -> dict[str, Any]:
    accepted = await start_run(api, workflow_id, input)
    return await finished_run(api, flowyard, accepted["runId"])


async def paused_run(api: httpx.AsyncClient, flowyard: Flowyard) -> tuple[str, dict[str, Any]]:
    """A workflow 'draft → approve → publish' and a run of it waiting at the approval step."""
    workflow_id = await workflow_with_steps(api, "Draft about {{ input }}", name="Newsletter")
    await add_step(api, workflow_id, "approval", "", key="review")
    await add_step(api, workflow_id, "transform", "Published: {{ input }}", key="publish")
    run = await run_to_end(api, flowyard, workflow_id, "AI")
    assert run["status"] == "PAUSED", run
    return workflow_id, run


def assert_refused(response: httpx.Response, field: str, status: int = 422) -> None:
    """The request was refused with `status` and a body naming `field`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], body
    assert field in body["detail"]
