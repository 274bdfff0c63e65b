"""Needs-approval on any kind: the step's output is the proposal; approving carries it on, rejecting fails the run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.root import Flowyard
from tests.api.helpers import V1, add_step, create_workflow, finished_run, run_to_end
from tests.people import ANA
from tests.servers import LocalServer


async def _paused(api: httpx.AsyncClient, flowyard: Flowyard, agent_id: str, action: str, input: Any) -> dict[str, Any]:
    """A run of 'step (needs approval) → deliver', paused at the step."""
    workflow = await create_workflow(api, f"Approve {agent_id}")
    await add_step(api, workflow["id"], agent_id, action, key="step", needsApproval=True)
    await add_step(api, workflow["id"], "transform", "{{ input }}", key="deliver")
    run = await run_to_end(api, flowyard, workflow["id"], input)
    assert run["status"] == "PAUSED", run
    assert [n["status"] for n in run["nodes"]] == ["WAITING_APPROVAL"]
    return run


@pytest.fixture(params=["http", "transform", "enrich"])
def step(request: pytest.FixtureRequest, web: LocalServer) -> tuple[str, str, Any, Any]:
    """(agent, action, run input, the step's output) for each kind tried."""
    if request.param == "http":
        url = web.reply("/quote", (200, {"price": 42}))
        return "http", f"GET {url}", "ignored", {"price": 42}
    if request.param == "transform":
        return "transform", "Quote for {{ input }}", "Ada", "Quote for Ada"
    enriched = {"email": "ada@example.org", "domain": "example.org", "company": "Example", "source": "example"}
    return "enrich", "", {"email": "ada@example.org"}, enriched


def _proposed(run: dict[str, Any], step: tuple[str, str, Any, Any]) -> Any:
    proposal = run["approvals"][0]["proposal"]
    return proposal["body"] if step[0] == "http" else proposal


async def test_step_needing_approval_proposes_its_output(
    api: httpx.AsyncClient, flowyard_of: Flowyard, step: tuple[str, str, Any, Any]
) -> None:
    agent_id, action, input, output = step

    run = await _paused(api, flowyard_of, agent_id, action, input)

    assert _proposed(run, step) == output
    assert run["approvals"][0]["proposal"] == run["nodes"][0]["output"]


async def test_approving_the_proposal_carries_it_on(
    api: httpx.AsyncClient, flowyard_of: Flowyard, step: tuple[str, str, Any, Any]
) -> None:
    agent_id, action, input, _ = step
    paused = await _paused(api, flowyard_of, agent_id, action, input)
    approval = paused["approvals"][0]

    await flowyard_of.approvals.decide(approval["id"], "approve", by=ANA)
    run = await finished_run(api, flowyard_of, paused["id"])

    assert run["status"] == "COMPLETED", run
    assert run["output"] == approval["proposal"]
    assert run["approvals"][0]["status"] == "APPROVED"


async def test_approving_an_edited_proposal_carries_the_edit_on(
    api: httpx.AsyncClient, flowyard_of: Flowyard, step: tuple[str, str, Any, Any]
) -> None:
    agent_id, action, input, _ = step
    paused = await _paused(api, flowyard_of, agent_id, action, input)

    await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": {"edited": True}})
    run = await finished_run(api, flowyard_of, paused["id"])

    assert run["status"] == "COMPLETED", run
    assert run["output"] == {"edited": True}


async def test_rejecting_the_proposal_fails_the_run(
    api: httpx.AsyncClient, flowyard_of: Flowyard, step: tuple[str, str, Any, Any]
) -> None:
    agent_id, action, input, _ = step
    paused = await _paused(api, flowyard_of, agent_id, action, input)

    await flowyard_of.approvals.decide(paused["approvals"][0]["id"], "reject", by=ANA, reason="too expensive")
    run = await finished_run(api, flowyard_of, paused["id"])

    assert run["status"] == "FAILED"
    assert run["nodes"][0]["status"] == "FAILED"
    assert "too expensive" in run["nodes"][0]["error"]
    assert [n["key"] for n in run["nodes"]] == ["step"]
