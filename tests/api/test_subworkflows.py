"""The `workflow` kind: a step that runs another workflow, waits for it, and outputs its result."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.engine.exceptions import AgentError
from app.engine.model import NodeSpec, RunStatus, Trigger, WorkflowDefinition
from app.models.runs import RunQuery
from app.root import Flowyard
from tests.api.helpers import V1, add_step, create_workflow, finished_run, run_to_end, start_run, workflow_with_steps
from tests.servers import LocalServer


async def _parent_of(api: httpx.AsyncClient, child_id: str, *, action: str = "", **fields: Any) -> str:
    """A workflow 'prepare → sub (runs `child_id`) → report'. Returns its id."""
    parent = await workflow_with_steps(api, "{{ input }}", name="Parent")
    await add_step(api, parent, "workflow", action, key="sub", config={"workflow_id": child_id}, **fields)
    await add_step(api, parent, "transform", "Report: {{ input }}", key="report")
    return parent


async def _child_runs(flowyard: Flowyard) -> list[Any]:
    return (await flowyard.runs.list_all(RunQuery(triggers=[Trigger.WORKFLOW]))).items


async def _wait_until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def _paused_child(api: httpx.AsyncClient, flowyard: Flowyard) -> tuple[str, str, str]:
    """A parent run waiting on its child run, which waits for approval. Returns the child workflow's id, the
    child run's id and the parent run's id."""
    child = await workflow_with_steps(api, "Draft for {{ input }}", name="Child")
    await add_step(api, child, "approval", "", key="review")
    parent = await _parent_of(api, child)
    run_id = (await start_run(api, parent, "Ada"))["runId"]

    async def child_paused() -> bool:
        runs = await _child_runs(flowyard)
        return bool(runs) and runs[0].status is RunStatus.PAUSED

    await _wait_until(child_paused)
    [child_run] = await _child_runs(flowyard)
    return child, child_run.id, run_id


# --- running --------------------------------------------------------------------------------------------------------


async def test_workflow_step_outputs_the_child_runs_output(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    child = await workflow_with_steps(api, "Hello {{ input }}", "{{ input }}!", name="Greeter")
    parent = await _parent_of(api, child)

    run = await run_to_end(api, flowyard_of, parent, "Ada")

    assert run["status"] == "COMPLETED", run
    assert run["nodes"][1]["output"] == "Hello Ada!"
    assert run["output"] == "Report: Hello Ada!"


async def test_child_run_is_a_stored_run_triggered_by_workflow(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    child = await workflow_with_steps(api, "Hello {{ input }}", name="Greeter")
    parent = await _parent_of(api, child)
    run = await run_to_end(api, flowyard_of, parent, "Ada")

    [listed] = await _child_runs(flowyard_of)
    stored = await flowyard_of.store.get_run(listed.id)

    assert stored is not None
    assert (stored.workflow_id, stored.trigger, stored.status) == (child, Trigger.WORKFLOW, RunStatus.COMPLETED)
    assert (stored.parent_run_id, stored.parent_node_key, stored.chain) == (run["id"], "sub", (parent,))
    assert stored.input == "Ada"
    assert stored.session_id == run["sessionId"]
    detail = (await api.get(f"{V1}/workflows/runs/{listed.id}")).json()
    assert (detail["trigger"], detail["parentRunId"]) == ("workflow", run["id"])
    assert run["parentRunId"] is None


async def test_workflow_step_with_an_action_sends_the_rendered_action_as_input(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    child = await workflow_with_steps(api, "{{ input.name }} from {{ input.city }}", name="Card")
    parent = await _parent_of(api, child, action='{"name": "{{ input }}", "city": "{{ payload | upper }}"}')

    run = await run_to_end(api, flowyard_of, parent, "ada")

    assert run["status"] == "COMPLETED", run
    assert run["output"] == "Report: ada from ADA"


async def test_workflow_step_whose_child_fails_fails_naming_the_child_run(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    child = await workflow_with_steps(api, "{{ input.missing }}", name="Broken")
    parent = await _parent_of(api, child)

    run = await run_to_end(api, flowyard_of, parent, "Ada")

    [child_run] = await _child_runs(flowyard_of)
    assert run["status"] == "FAILED"
    assert run["nodes"][1]["status"] == "FAILED"
    assert child_run.id in run["nodes"][1]["error"]
    assert "failed" in run["nodes"][1]["error"]
    assert child_run.status is RunStatus.FAILED


async def test_workflow_step_refused_input_fails_naming_the_field(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    child = await create_workflow(api, "Enrich contact")
    await add_step(api, child["id"], "enrich", "")
    parent = await _parent_of(api, child["id"])

    run = await run_to_end(api, flowyard_of, parent, "not an object")

    assert run["status"] == "FAILED"
    assert "refused the input" in run["nodes"][1]["error"]
    assert await _child_runs(flowyard_of) == []


async def test_parent_waits_while_the_child_waits_for_approval_then_completes(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, child_id, run_id = await _paused_child(api, flowyard_of)
    waiting = (await api.get(f"{V1}/workflows/runs/{run_id}")).json()
    assert waiting["status"] == "RUNNING"
    assert waiting["nodes"][1]["status"] == "RUNNING"

    await api.post(f"{V1}/workflows/runs/{child_id}/resume", json={"output": "Approved draft"})
    await _wait_until(lambda: _status_is(flowyard_of, run_id, RunStatus.COMPLETED))

    run = (await api.get(f"{V1}/workflows/runs/{run_id}")).json()
    assert run["output"] == "Report: Approved draft"


async def _status_is(flowyard: Flowyard, run_id: str, status: RunStatus) -> bool:
    run = await flowyard.store.get_run(run_id)
    return run is not None and run.status is status


async def test_cancelled_child_fails_the_step_naming_the_child_run(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    child, child_id, run_id = await _paused_child(api, flowyard_of)

    await api.post(f"{V1}/workflows/runs/{child_id}/cancel")
    await _wait_until(lambda: _status_is(flowyard_of, run_id, RunStatus.FAILED))

    run = (await api.get(f"{V1}/workflows/runs/{run_id}")).json()
    assert run["nodes"][1]["error"] == f"sub-workflow run {child_id} (workflow '{child}') was cancelled"
    assert child_id in run["error"]


async def test_cancelling_the_parent_cancels_the_child(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    _, child_id, run_id = await _paused_child(api, flowyard_of)

    await api.post(f"{V1}/workflows/runs/{run_id}/cancel")
    await _wait_until(lambda: _status_is(flowyard_of, child_id, RunStatus.CANCELLED))

    assert await _status_is(flowyard_of, run_id, RunStatus.CANCELLED)


async def test_rerun_of_the_step_after_a_crash_waits_on_the_same_child(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    _, child_id, run_id = await _paused_child(api, flowyard_of)

    # The process stops while the step waits (its lease is released, the step stays RUNNING), then starts again.
    await flowyard_of.executor.stop()
    await flowyard_of.executor.start()
    await _wait_until(lambda: _driven(flowyard_of, run_id))
    await api.post(f"{V1}/workflows/runs/{child_id}/resume", json={"output": "Approved"})
    await _wait_until(lambda: _status_is(flowyard_of, run_id, RunStatus.COMPLETED))

    assert [r.id for r in await _child_runs(flowyard_of)] == [child_id]
    run = (await api.get(f"{V1}/workflows/runs/{run_id}")).json()
    assert run["output"] == "Report: Approved"


async def _driven(flowyard: Flowyard, run_id: str) -> bool:
    return flowyard.executor.is_driving(run_id)


async def test_rerun_of_a_failed_parent_reruns_its_failed_child_instead_of_starting_another(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    url = web.reply("/flaky", (500, {"error": "busy"}), (200, {"ok": True}))
    child = await workflow_with_steps(api, "{{ input }}", name="Flaky")
    await add_step(api, child, "http", f"POST {url}", key="call")
    parent = await _parent_of(api, child)
    failed = await run_to_end(api, flowyard_of, parent, "Ada")
    assert failed["status"] == "FAILED"
    [child_run] = await _child_runs(flowyard_of)

    await flowyard_of.runs.rerun_failed(failed["id"])
    await _wait_until(lambda: _status_is(flowyard_of, failed["id"], RunStatus.COMPLETED))

    assert [r.id for r in await _child_runs(flowyard_of)] == [child_run.id]
    assert [r.path for r in web.requests] == ["/flaky", "/flaky"]
    run = (await api.get(f"{V1}/workflows/runs/{failed['id']}")).json()
    assert run["nodes"][1]["output"]["body"] == {"ok": True}


# --- recursion ---------------------------------------------------------------------------------------------------


async def test_workflow_running_itself_is_a_validation_problem_and_cannot_run(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await create_workflow(api, "Loop")
    await add_step(api, workflow["id"], "workflow", "", key="again", config={"workflow_id": workflow["id"]})

    problems = await flowyard_of.workflows.problems(workflow["id"])
    response = await api.post(f"{V1}/workflows/{workflow['id']}/run", json={"input": "x"})

    assert [p.message for p in problems] == ["step 'again' runs this workflow itself; a workflow cannot run itself"]
    assert response.status_code == 422
    assert "cannot run itself" in response.json()["detail"]


async def test_workflows_running_each_other_are_a_problem_of_both(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    first = (await create_workflow(api, "First"))["id"]
    second = (await create_workflow(api, "Second"))["id"]
    await add_step(api, first, "workflow", "", key="to_second", config={"workflow_id": second})
    await add_step(api, second, "workflow", "", key="to_first", config={"workflow_id": first})

    [problem] = await flowyard_of.workflows.problems(first)
    response = await api.post(f"{V1}/workflows/{second}/run", json={"input": "x"})

    assert problem.node == "to_second"
    assert problem.message == (
        f"step 'to_second' runs workflow 'Second' ({second}), which runs this workflow again: "
        f"{first} → {second} → {first}; a workflow cannot run itself"
    )
    assert response.status_code == 422
    assert "runs this workflow again" in response.json()["detail"]


async def test_workflow_reaching_a_loop_elsewhere_is_a_problem(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    outer = (await create_workflow(api, "Outer"))["id"]
    looping = (await create_workflow(api, "Looping"))["id"]
    await add_step(api, outer, "workflow", "", key="sub", config={"workflow_id": looping})
    await add_step(api, looping, "workflow", "", key="self", config={"workflow_id": looping})

    [problem] = await flowyard_of.workflows.problems(outer)

    assert problem.message.startswith(f"step 'sub' runs workflow 'Looping' ({looping}), which runs itself")


async def test_workflow_step_running_a_missing_workflow_is_a_problem(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await create_workflow(api, "Dangling")
    await add_step(api, workflow["id"], "workflow", "", key="sub", config={"workflow_id": "wf-gone"})

    problems = await flowyard_of.workflows.problems(workflow["id"])

    assert [p.message for p in problems] == ["step 'sub' runs workflow 'wf-gone', which does not exist"]


async def test_workflow_step_without_a_workflow_id_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.post(f"{V1}/workflows/{workflow['id']}/steps", json={"agentId": "workflow", "action": ""})

    assert response.status_code == 422
    assert "workflow_id" in response.json()["detail"]


async def test_recursion_is_refused_at_run_time_through_the_chain(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    child = await workflow_with_steps(api, "{{ input }}", name="Child")
    runner = flowyard_of.executor.services.workflows
    assert runner is not None

    outer = await finished_run(api, flowyard_of, (await start_run(api, child, "x"))["runId"])

    with pytest.raises(AgentError) as refused:
        await runner.run(child, "x", parent_run_id=outer["id"], node_key="sub", chain=("wf-top", child, "wf-mid"))

    assert str(refused.value) == (
        f"workflow '{child}' is already running further up ({child} → wf-mid → {child}); a workflow cannot run itself"
    )
    assert not refused.value.retryable
    assert await _child_runs(flowyard_of) == []


async def test_runs_page_filters_on_the_workflow_trigger(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    child = await workflow_with_steps(api, "{{ input }}", name="Child")
    parent = await _parent_of(api, child)
    run = await run_to_end(api, flowyard_of, parent, "x")

    by_api = (await flowyard_of.runs.list_all(RunQuery(triggers=[Trigger.API]))).items
    by_workflow = await _child_runs(flowyard_of)

    assert [r.id for r in by_api] == [run["id"]]
    assert [r.workflow_id for r in by_workflow] == [child]


async def test_an_unsaved_definition_is_checked_for_recursion_too(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await create_workflow(api, "Draft")
    draft = WorkflowDefinition(
        nodes=[NodeSpec(key="again", agent_id="workflow", config={"workflow_id": workflow["id"]})]
    )

    problems = await flowyard_of.workflows.problems(workflow["id"], draft)

    assert [p.node for p in problems] == ["again"]
    saved = await flowyard_of.workflows.problems(workflow["id"])
    assert [p.message for p in saved] == ["the workflow has no steps; add one first"]
