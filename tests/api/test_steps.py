"""Steps: the ordered view of a workflow. Adding, inserting, listing and removing steps keeps one chain."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from app.root import Flowyard
from tests.api.helpers import (
    V1,
    add_step,
    assert_refused,
    create_workflow,
    run_to_end,
    workflow_detail,
    workflow_with_steps,
)


def _chain(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The edges a plain sequence of `steps` has: each step feeds the next."""
    return [
        {"source": a["key"], "target": b["key"], "sourceHandle": None, "condition": None}
        for a, b in itertools.pairwise(steps)
    ]


@pytest.fixture
async def two_steps(api: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """A workflow of two steps, and its detail as it was before the test touched it."""
    workflow_id = await workflow_with_steps(api, "{{ input }} news", "{{ input | upper }}")
    return workflow_id, await workflow_detail(api, workflow_id)


# --- add ------------------------------------------------------------------------------------------------------------


async def test_add_step_answers_201_with_the_step(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.post(
        f"{V1}/workflows/{workflow['id']}/steps",
        json={"agentId": "transform", "action": "Search for {{ input }}", "stepOrder": 1},
    )

    assert response.status_code == 201
    step = response.json()
    assert step["id"].startswith("st-")
    assert step["workflowId"] == workflow["id"]
    assert step["agentId"] == "transform"
    assert step["action"] == "Search for {{ input }}"
    assert step["stepOrder"] == 1
    assert step["key"] == "step_1"
    assert {"config", "inputMapping", "needsApproval", "retries", "retryBackoffSeconds", "timeoutSeconds"} <= set(step)


async def test_add_step_keeps_the_settings_it_was_given(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    step = await add_step(
        api,
        workflow["id"],
        "delay",
        "",
        key="pause",
        name="Short pause",
        config={"seconds": 0.5},
        needsApproval=True,
        retries=3,
        retryBackoffSeconds=0.25,
        timeoutSeconds=10,
    )

    assert (step["key"], step["name"], step["config"]) == ("pause", "Short pause", {"seconds": 0.5})
    assert (step["needsApproval"], step["retries"], step["retryBackoffSeconds"], step["timeoutSeconds"]) == (
        True,
        3,
        0.25,
        10,
    )


async def test_add_step_without_step_order_appends_after_the_last_step(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    added = [await add_step(api, workflow["id"], "transform", f"step {n}") for n in range(1, 4)]

    assert [s["stepOrder"] for s in added] == [1, 2, 3]
    detail = await workflow_detail(api, workflow["id"])
    assert [s["id"] for s in detail["steps"]] == [s["id"] for s in added]
    assert detail["edges"] == _chain(added)


async def test_add_step_with_step_order_in_the_middle_inserts_it_and_renumbers(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    workflow_id, before = two_steps

    inserted = await add_step(api, workflow_id, "transform", "between", stepOrder=2)

    detail = await workflow_detail(api, workflow_id)
    assert inserted["stepOrder"] == 2
    assert [s["action"] for s in detail["steps"]] == ["{{ input }} news", "between", "{{ input | upper }}"]
    assert [s["stepOrder"] for s in detail["steps"]] == [1, 2, 3]
    assert detail["edges"] == _chain(detail["steps"])
    assert detail["steps"][2]["id"] == before["steps"][1]["id"]


async def test_add_step_with_step_order_1_becomes_the_first_step(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    workflow_id, _ = two_steps

    await add_step(api, workflow_id, "transform", "first now", stepOrder=1)

    detail = await workflow_detail(api, workflow_id)
    assert [s["action"] for s in detail["steps"]] == ["first now", "{{ input }} news", "{{ input | upper }}"]
    assert detail["edges"] == _chain(detail["steps"])


async def test_add_step_with_step_order_past_the_end_is_appended(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    workflow_id, _ = two_steps

    step = await add_step(api, workflow_id, "transform", "last", stepOrder=99)

    assert step["stepOrder"] == 3
    assert [s["stepOrder"] for s in (await workflow_detail(api, workflow_id))["steps"]] == [1, 2, 3]


async def test_add_step_bumps_the_workflow_version(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    workflow_id, before = two_steps

    await add_step(api, workflow_id, "transform", "more")

    assert (await workflow_detail(api, workflow_id))["version"] > before["version"]


async def test_add_step_after_a_step_named_twice_connects_them_once(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news")

    await add_step(api, workflow_id, "transform", "{{ input | upper }}", after=["step_1", "step_1"])

    detail = await workflow_detail(api, workflow_id)
    assert detail["edges"] == _chain(detail["steps"])
    assert (await run_to_end(api, flowyard_of, workflow_id, "ai"))["output"] == "AI NEWS"


async def test_add_step_to_unknown_workflow_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows/wf-missing/steps", json={"agentId": "transform", "action": "x"})

    assert response.status_code == 404


# --- add, refused: a 422 that names the field, and the workflow unchanged -------------------------------------------


async def _refused_and_unchanged(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    workflow_id, before = two_steps
    response = await api.post(f"{V1}/workflows/{workflow_id}/steps", json=body)
    assert_refused(response, field)
    assert await workflow_detail(api, workflow_id) == before


async def test_add_step_with_unknown_agent_id_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    await _refused_and_unchanged(
        api, two_steps, {"agentId": "web_agent", "action": "search", "stepOrder": 1}, "agentId"
    )


async def test_add_step_without_agent_id_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    await _refused_and_unchanged(api, two_steps, {"action": "search"}, "agentId")


async def test_add_step_without_action_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    await _refused_and_unchanged(api, two_steps, {"agentId": "transform"}, "action")


async def test_add_step_with_unknown_field_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    await _refused_and_unchanged(api, two_steps, {"agentId": "transform", "action": "x", "prompt": "y"}, "prompt")


async def test_add_step_with_config_wrong_for_its_agent_kind_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    body = {"agentId": "delay", "action": "", "config": {"seconds": "soon"}, "stepOrder": 1}
    await _refused_and_unchanged(api, two_steps, body, "config")


async def test_add_step_with_config_field_its_kind_lacks_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    await _refused_and_unchanged(
        api, two_steps, {"agentId": "transform", "action": "x", "config": {"url": "x"}}, "config"
    )


async def test_add_step_with_duplicate_key_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    taken = two_steps[1]["steps"][0]["key"]
    await _refused_and_unchanged(api, two_steps, {"agentId": "transform", "action": "x", "key": taken}, "key")


async def test_add_step_with_key_that_is_no_identifier_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    body = {"agentId": "transform", "action": "x", "key": "1st step", "stepOrder": 1}
    await _refused_and_unchanged(api, two_steps, body, "key")


@pytest.mark.parametrize(
    ("field", "value"), [("stepOrder", 0), ("retries", -1), ("retries", 21), ("timeoutSeconds", 0)]
)
async def test_add_step_with_number_out_of_range_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]], field: str, value: int
) -> None:
    await _refused_and_unchanged(api, two_steps, {"agentId": "transform", "action": "x", field: value}, field)


async def test_add_step_after_unknown_step_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    await _refused_and_unchanged(api, two_steps, {"agentId": "transform", "action": "x", "after": ["nope"]}, "after")


# --- list -----------------------------------------------------------------------------------------------------------


async def test_list_steps_answers_them_in_step_order(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "transform", "b")
    await add_step(api, workflow["id"], "transform", "c")
    await add_step(api, workflow["id"], "transform", "a", stepOrder=1)

    response = await api.get(f"{V1}/workflows/{workflow['id']}/steps")

    assert response.status_code == 200
    steps = response.json()
    assert [s["action"] for s in steps] == ["a", "b", "c"]
    assert [s["stepOrder"] for s in steps] == [1, 2, 3]


async def test_list_steps_of_a_workflow_without_steps_is_empty(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    assert (await api.get(f"{V1}/workflows/{workflow['id']}/steps")).json() == []


async def test_list_steps_of_unknown_workflow_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.get(f"{V1}/workflows/wf-missing/steps")).status_code == 404


# --- delete ---------------------------------------------------------------------------------------------------------


async def test_delete_step_rejoins_the_chain_around_it(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "one", "two", "three")
    middle = (await workflow_detail(api, workflow_id))["steps"][1]

    response = await api.delete(f"{V1}/workflows/{workflow_id}/steps/{middle['id']}")

    assert response.status_code == 204
    detail = await workflow_detail(api, workflow_id)
    assert [s["action"] for s in detail["steps"]] == ["one", "three"]
    assert [s["stepOrder"] for s in detail["steps"]] == [1, 2]
    assert detail["edges"] == _chain(detail["steps"])


async def test_delete_first_step_makes_the_next_one_first(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "one", "two", "three")
    first = (await workflow_detail(api, workflow_id))["steps"][0]

    await api.delete(f"{V1}/workflows/{workflow_id}/steps/{first['id']}")

    detail = await workflow_detail(api, workflow_id)
    assert [(s["action"], s["stepOrder"]) for s in detail["steps"]] == [("two", 1), ("three", 2)]
    assert detail["edges"] == _chain(detail["steps"])


async def test_delete_last_remaining_step_leaves_no_steps(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "only")
    only = (await workflow_detail(api, workflow_id))["steps"][0]

    await api.delete(f"{V1}/workflows/{workflow_id}/steps/{only['id']}")

    detail = await workflow_detail(api, workflow_id)
    assert (detail["steps"], detail["edges"]) == ([], [])


async def test_delete_step_with_unknown_id_is_404_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    workflow_id, before = two_steps

    response = await api.delete(f"{V1}/workflows/{workflow_id}/steps/st-missing")

    assert response.status_code == 404
    assert "st-missing" in response.json()["detail"]
    assert await workflow_detail(api, workflow_id) == before


async def test_delete_step_of_another_workflow_is_404_and_changes_nothing(
    api: httpx.AsyncClient, two_steps: tuple[str, dict[str, Any]]
) -> None:
    workflow_id, before = two_steps
    other_id = await workflow_with_steps(api, "elsewhere")

    response = await api.delete(f"{V1}/workflows/{other_id}/steps/{before['steps'][0]['id']}")

    assert response.status_code == 404
    assert await workflow_detail(api, workflow_id) == before


async def test_delete_step_of_unknown_workflow_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.delete(f"{V1}/workflows/wf-missing/steps/st-missing")).status_code == 404
