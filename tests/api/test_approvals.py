"""Approvals: a run pauses for a person, who resumes it with the approved output or rejects it."""

from __future__ import annotations

import httpx

from app.root import Flowyard
from tests.api.helpers import (
    V1,
    add_step,
    assert_refused,
    finished_run,
    paused_run,
    run_to_end,
    workflow_with_steps,
)

# --- pausing --------------------------------------------------------------------------------------------------------


async def test_run_reaching_an_approval_step_pauses_waiting_for_approval(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, run = await paused_run(api, flowyard_of)

    assert run["status"] == "PAUSED"
    assert [(n["key"], n["status"]) for n in run["nodes"]] == [("step_1", "COMPLETED"), ("review", "WAITING_APPROVAL")]
    assert run["currentStepOrder"] == 2
    assert run["output"] is None
    [approval] = run["approvals"]
    assert approval["id"].startswith("ap-")
    assert (approval["nodeKey"], approval["status"]) == ("review", "PENDING")
    assert approval["proposal"] == "Draft about AI"
    assert approval["decidedAt"] is None


async def test_paused_run_shows_as_paused_in_the_run_history(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id, run = await paused_run(api, flowyard_of)

    [listed] = (await api.get(f"{V1}/workflows/{workflow_id}/runs")).json()["content"]

    assert (listed["id"], listed["status"], listed["currentStepOrder"]) == (run["id"], "PAUSED", 2)


async def test_approval_step_with_an_action_proposes_the_rendered_action(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news")
    await add_step(api, workflow_id, "approval", "Publish '{{ input }}'?")

    run = await run_to_end(api, flowyard_of, workflow_id, "AI")

    assert run["approvals"][0]["proposal"] == "Publish 'AI news'?"


async def test_step_flagged_needs_approval_pauses_with_its_output_as_proposal(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news")
    await add_step(api, workflow_id, "transform", "Summary: {{ input | upper }}", needsApproval=True)
    await add_step(api, workflow_id, "transform", "Sent: {{ input }}")

    run = await run_to_end(api, flowyard_of, workflow_id, "ai")

    assert run["status"] == "PAUSED"
    assert [n["status"] for n in run["nodes"]] == ["COMPLETED", "WAITING_APPROVAL"]
    assert run["nodes"][1]["output"] == "Summary: AI NEWS"
    assert run["approvals"][0]["proposal"] == "Summary: AI NEWS"


async def test_resume_of_a_needs_approval_step_feeds_the_approved_output_on(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news")
    await add_step(api, workflow_id, "transform", "Summary: {{ input | upper }}", needsApproval=True)
    await add_step(api, workflow_id, "transform", "Sent: {{ input }}")
    paused = await run_to_end(api, flowyard_of, workflow_id, "ai")

    await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": "Summary: edited"})
    run = await finished_run(api, flowyard_of, paused["id"])

    assert run["status"] == "COMPLETED"
    assert run["output"] == "Sent: Summary: edited"


# --- resume ---------------------------------------------------------------------------------------------------------


async def test_resume_paused_run_answers_202_with_job_and_run_ids(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, run = await paused_run(api, flowyard_of)

    response = await api.post(
        f"{V1}/workflows/runs/{run['id']}/resume", json={"output": "Approved summary: AI transforms diagnostics."}
    )

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["jobId"]
    assert accepted["runId"] == run["id"]
    assert accepted["approvalId"] == run["approvals"][0]["id"]


async def test_resume_feeds_the_approved_output_to_the_next_step_and_completes(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, paused = await paused_run(api, flowyard_of)

    await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": "Approved draft"})
    run = await finished_run(api, flowyard_of, paused["id"])

    assert run["status"] == "COMPLETED"
    draft, review, publish = run["nodes"]
    assert (review["status"], review["output"]) == ("COMPLETED", "Approved draft")
    assert (publish["input"], publish["output"]) == ("Approved draft", "Published: Approved draft")
    assert run["output"] == "Published: Approved draft"
    assert draft == paused["nodes"][0]


async def test_resume_records_the_decision_on_the_approval(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    _, paused = await paused_run(api, flowyard_of)

    await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": {"text": "ok"}, "decidedBy": "ana"})
    run = await finished_run(api, flowyard_of, paused["id"])

    [approval] = run["approvals"]
    assert (approval["status"], approval["output"], approval["decidedBy"]) == ("APPROVED", {"text": "ok"}, "ana")
    assert approval["decidedAt"] is not None


async def test_resume_of_a_run_that_is_not_paused_is_a_conflict(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    run = await run_to_end(api, flowyard_of, await workflow_with_steps(api, "{{ input }}"))

    response = await api.post(f"{V1}/workflows/runs/{run['id']}/resume", json={"output": "x"})

    assert response.status_code == 409
    assert "not PAUSED" in response.json()["detail"]


async def test_resume_twice_is_a_conflict_the_second_time(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    _, paused = await paused_run(api, flowyard_of)
    await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": "first"})
    await finished_run(api, flowyard_of, paused["id"])

    response = await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": "second"})

    assert response.status_code == 409
    assert (await api.get(f"{V1}/workflows/runs/{paused['id']}")).json()["output"] == "Published: first"


async def test_resume_of_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows/runs/wr-missing/resume", json={"output": "x"})

    assert response.status_code == 404
    assert "wr-missing" in response.json()["detail"]


async def test_resume_without_output_is_refused_and_the_run_stays_paused(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, paused = await paused_run(api, flowyard_of)

    response = await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"decidedBy": "ana"})

    assert_refused(response, "output")
    run = (await api.get(f"{V1}/workflows/runs/{paused['id']}")).json()
    assert run["status"] == "PAUSED"
    assert run["approvals"][0]["status"] == "PENDING"


async def test_resume_at_a_step_that_is_not_waiting_is_a_conflict(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, paused = await paused_run(api, flowyard_of)

    response = await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": "x", "nodeKey": "publish"})

    assert response.status_code == 409
    assert "publish" in response.json()["detail"]
    assert (await api.get(f"{V1}/workflows/runs/{paused['id']}")).json()["status"] == "PAUSED"


# --- reject ---------------------------------------------------------------------------------------------------------


async def test_reject_paused_run_fails_it_with_the_reason(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    _, paused = await paused_run(api, flowyard_of)

    response = await api.post(
        f"{V1}/workflows/runs/{paused['id']}/reject", json={"reason": "off-topic", "decidedBy": "ana"}
    )
    run = await finished_run(api, flowyard_of, paused["id"])

    assert response.status_code == 202
    assert response.json()["approvalId"] == paused["approvals"][0]["id"]
    assert run["status"] == "FAILED"
    assert "off-topic" in run["error"]
    review = run["nodes"][1]
    assert review["status"] == "FAILED"
    assert "off-topic" in review["error"]
    assert [n["key"] for n in run["nodes"]] == ["step_1", "review"]
    [approval] = run["approvals"]
    assert (approval["status"], approval["reason"], approval["decidedBy"]) == ("REJECTED", "off-topic", "ana")


async def test_reject_without_reason_is_refused_and_the_run_stays_paused(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, paused = await paused_run(api, flowyard_of)

    assert_refused(await api.post(f"{V1}/workflows/runs/{paused['id']}/reject", json={}), "reason")
    assert (await api.get(f"{V1}/workflows/runs/{paused['id']}")).json()["status"] == "PAUSED"


async def test_reject_of_a_run_that_is_not_paused_is_a_conflict(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    run = await run_to_end(api, flowyard_of, await workflow_with_steps(api, "{{ input }}"))

    response = await api.post(f"{V1}/workflows/runs/{run['id']}/reject", json={"reason": "late"})

    assert response.status_code == 409


async def test_reject_of_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.post(f"{V1}/workflows/runs/wr-missing/reject", json={"reason": "x"})).status_code == 404


# --- cancel while paused --------------------------------------------------------------------------------------------


async def test_cancel_paused_run_cancels_its_pending_approval(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    _, paused = await paused_run(api, flowyard_of)

    response = await api.post(f"{V1}/workflows/runs/{paused['id']}/cancel")

    assert response.status_code == 202
    run = (await api.get(f"{V1}/workflows/runs/{paused['id']}")).json()
    assert run["status"] == "CANCELLED"
    assert run["nodes"][1]["status"] == "CANCELLED"
    assert run["approvals"][0]["status"] == "CANCELLED"
    resume = await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": "too late"})
    assert resume.status_code == 409
