"""Workflows: create, list, read, rename, delete and clone them."""

from __future__ import annotations

import httpx
import pytest

from app.root import Flowyard
from tests.api.helpers import (
    ISO_UTC,
    V1,
    add_step,
    assert_refused,
    create_workflow,
    paused_run,
    run_to_end,
    workflow_detail,
    workflow_with_steps,
)

# --- create ---------------------------------------------------------------------------------------------------------


async def test_tags_file_a_workflow_and_filter_the_list(api: httpx.AsyncClient) -> None:
    created = await api.post(f"{V1}/workflows", json={"name": "Leads", "tags": [" sales ", "Nightly", "SALES"]})
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == ["sales", "Nightly"]  # trimmed, each once in any case
    other = (await api.post(f"{V1}/workflows", json={"name": "Digest"})).json()

    listed = (await api.get(f"{V1}/workflows", params={"tag": "Sales"})).json()
    assert [w["name"] for w in listed["content"]] == ["Leads"]

    changed = await api.patch(f"{V1}/workflows/{other['id']}", json={"tags": ["sales"]})
    assert changed.json()["tags"] == ["sales"]
    listed = (await api.get(f"{V1}/workflows", params={"tag": "sales"})).json()
    assert sorted(w["name"] for w in listed["content"]) == ["Digest", "Leads"]
    kept = await api.patch(f"{V1}/workflows/{other['id']}", json={"name": "Daily digest"})
    assert kept.json()["tags"] == ["sales"]  # tags omitted: kept

    for bad in (["   "], ["x" * 41], ["a\u202eb"], [f"t{n}" for n in range(21)]):
        refused = await api.patch(f"{V1}/workflows/{other['id']}", json={"tags": bad})
        assert refused.status_code == 422, bad
    assert (await api.get(f"{V1}/workflows/{other['id']}")).json()["tags"] == ["sales"]


async def test_create_workflow_answers_201_with_the_new_workflow(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{V1}/workflows", json={"name": "Tech News Briefing", "description": "Searches, summarizes, drafts."}
    )

    assert response.status_code == 201
    workflow = response.json()
    assert set(workflow) == {
        "id",
        "name",
        "description",
        "version",
        "createdAt",
        "updatedAt",
        "tags",
        "offerAsTool",
        "forAgent",
    }
    assert workflow["forAgent"] is None
    assert workflow["tags"] == []
    assert workflow["id"].startswith("wf-")
    assert workflow["name"] == "Tech News Briefing"
    assert workflow["description"] == "Searches, summarizes, drafts."
    assert isinstance(workflow["version"], int)
    assert ISO_UTC.match(workflow["createdAt"])
    assert ISO_UTC.match(workflow["updatedAt"])


async def test_create_workflow_without_description_gets_an_empty_one(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows", json={"name": "Bare"})

    assert response.status_code == 201
    assert response.json()["description"] == ""


async def test_create_workflow_without_name_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows", json={"description": "no name"})

    assert_refused(response, "name")
    assert (await api.get(f"{V1}/workflows")).json()["totalElements"] == 0


async def test_create_workflow_with_empty_name_is_refused(api: httpx.AsyncClient) -> None:
    assert_refused(await api.post(f"{V1}/workflows", json={"name": ""}), "name")


async def test_create_workflow_with_unknown_field_is_refused(api: httpx.AsyncClient) -> None:
    assert_refused(await api.post(f"{V1}/workflows", json={"name": "A", "owner": "me"}), "owner")


# --- list -----------------------------------------------------------------------------------------------------------


async def test_list_workflows_answers_a_page(api: httpx.AsyncClient) -> None:
    created = await create_workflow(api, "Only one")

    response = await api.get(f"{V1}/workflows")

    assert response.status_code == 200
    page = response.json()
    assert page["content"] == [created]
    assert page["totalElements"] == 1
    assert page["totalPages"] == 1
    assert page["page"] == 0
    assert page["size"] == 20


async def test_list_workflows_when_there_are_none_is_an_empty_page(api: httpx.AsyncClient) -> None:
    page = (await api.get(f"{V1}/workflows")).json()

    assert page["content"] == []
    assert page["totalElements"] == 0
    assert page["totalPages"] == 0


async def test_list_workflows_is_newest_first(api: httpx.AsyncClient) -> None:
    for name in ("first", "second", "third"):
        await create_workflow(api, name)

    page = (await api.get(f"{V1}/workflows")).json()

    assert [w["name"] for w in page["content"]] == ["third", "second", "first"]


async def test_list_workflows_pages_with_page_and_size(api: httpx.AsyncClient) -> None:
    for number in range(5):
        await create_workflow(api, f"wf {number}")

    second = (await api.get(f"{V1}/workflows", params={"page": 1, "size": 2})).json()
    last = (await api.get(f"{V1}/workflows", params={"page": 2, "size": 2})).json()
    beyond = (await api.get(f"{V1}/workflows", params={"page": 3, "size": 2})).json()

    assert [w["name"] for w in second["content"]] == ["wf 2", "wf 1"]
    assert [w["name"] for w in last["content"]] == ["wf 0"]
    assert beyond["content"] == []
    assert (second["totalElements"], second["totalPages"], second["page"], second["size"]) == (5, 3, 1, 2)


@pytest.mark.parametrize(("params", "field"), [({"size": 0}, "size"), ({"size": 201}, "size"), ({"page": -1}, "page")])
async def test_list_workflows_with_page_or_size_out_of_range_is_refused(
    api: httpx.AsyncClient, params: dict[str, int], field: str
) -> None:
    assert_refused(await api.get(f"{V1}/workflows", params=params), field)


async def test_list_workflows_with_size_200_is_accepted(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/workflows", params={"size": 200})

    assert response.status_code == 200
    assert response.json()["size"] == 200


async def test_list_workflows_with_search_keeps_matching_names(api: httpx.AsyncClient) -> None:
    await create_workflow(api, "Tech News Briefing")
    await create_workflow(api, "Invoice check")

    page = (await api.get(f"{V1}/workflows", params={"search": "news"})).json()

    assert [w["name"] for w in page["content"]] == ["Tech News Briefing"]
    assert page["totalElements"] == 1


# --- get ------------------------------------------------------------------------------------------------------------


async def test_get_workflow_includes_its_steps_and_the_edges_between_them(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }} news", "{{ input | upper }}")

    response = await api.get(f"{V1}/workflows/{workflow_id}")

    assert response.status_code == 200
    workflow = response.json()
    assert workflow["id"] == workflow_id
    assert workflow["name"] == "Briefing"
    assert [s["action"] for s in workflow["steps"]] == ["{{ input }} news", "{{ input | upper }}"]
    first, second = (s["key"] for s in workflow["steps"])
    assert workflow["edges"] == [{"source": first, "target": second, "sourceHandle": None, "condition": None}]


async def test_get_workflow_without_steps_has_empty_steps_and_edges(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    detail = await workflow_detail(api, workflow["id"])

    assert detail["steps"] == []
    assert detail["edges"] == []


async def test_get_workflow_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/workflows/wf-missing")

    assert response.status_code == 404
    assert "wf-missing" in response.json()["detail"]


# --- update ---------------------------------------------------------------------------------------------------------


async def test_patch_workflow_changes_name_and_description(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Old", "old text")

    response = await api.patch(f"{V1}/workflows/{workflow['id']}", json={"name": "New", "description": "new text"})

    assert response.status_code == 200
    updated = response.json()
    assert (updated["name"], updated["description"]) == ("New", "new text")
    assert updated["createdAt"] == workflow["createdAt"]
    assert updated["updatedAt"] >= workflow["updatedAt"]
    assert (await workflow_detail(api, workflow["id"]))["name"] == "New"


async def test_patch_workflow_keeps_the_fields_not_sent(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Keep me", "and this")

    updated = (await api.patch(f"{V1}/workflows/{workflow['id']}", json={"description": "changed"})).json()

    assert (updated["name"], updated["description"]) == ("Keep me", "changed")


async def test_patch_workflow_with_empty_name_is_refused_and_changes_nothing(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Stays")

    assert_refused(await api.patch(f"{V1}/workflows/{workflow['id']}", json={"name": ""}), "name")
    assert (await workflow_detail(api, workflow["id"]))["name"] == "Stays"


async def test_patch_workflow_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.patch(f"{V1}/workflows/wf-missing", json={"name": "x"})).status_code == 404


# --- delete ---------------------------------------------------------------------------------------------------------


async def test_delete_workflow_answers_204_and_it_is_gone(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")

    response = await api.delete(f"{V1}/workflows/{workflow_id}")

    assert response.status_code == 204
    assert response.content == b""
    assert (await api.get(f"{V1}/workflows/{workflow_id}")).status_code == 404
    assert (await api.get(f"{V1}/workflows/{workflow_id}/steps")).status_code == 404
    assert (await api.get(f"{V1}/workflows")).json()["totalElements"] == 0


async def test_delete_workflow_removes_its_run_history(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    run = await run_to_end(api, flowyard_of, workflow_id)

    await api.delete(f"{V1}/workflows/{workflow_id}")

    assert (await api.get(f"{V1}/workflows/runs/{run['id']}")).status_code == 404


async def test_delete_workflow_with_a_paused_run_is_refused(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id, run = await paused_run(api, flowyard_of)

    response = await api.delete(f"{V1}/workflows/{workflow_id}")

    assert response.status_code == 409
    assert "active run" in response.json()["detail"]
    assert len((await workflow_detail(api, workflow_id))["steps"]) == 3
    assert (await api.get(f"{V1}/workflows/runs/{run['id']}")).json()["status"] == "PAUSED"


async def test_delete_workflow_succeeds_once_its_paused_run_is_cancelled(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id, run = await paused_run(api, flowyard_of)
    await api.post(f"{V1}/workflows/runs/{run['id']}/cancel")

    assert (await api.delete(f"{V1}/workflows/{workflow_id}")).status_code == 204


async def test_delete_workflow_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.delete(f"{V1}/workflows/wf-missing")).status_code == 404


# --- clone ----------------------------------------------------------------------------------------------------------


async def test_clone_workflow_appends_copy_to_the_name(api: httpx.AsyncClient) -> None:
    original = await create_workflow(api, "Tech News Briefing", "Searches, summarizes, drafts.")

    response = await api.post(f"{V1}/workflows/{original['id']}/clone")

    assert response.status_code == 201
    clone = response.json()
    assert clone["id"] != original["id"]
    assert clone["id"].startswith("wf-")
    assert clone["name"] == "Tech News Briefing (Copy)"
    assert clone["description"] == "Searches, summarizes, drafts."


async def test_clone_workflow_copies_every_step_with_new_ids(api: httpx.AsyncClient) -> None:
    original_id = await workflow_with_steps(api, "{{ input }} news", "{{ input | upper }}", "Draft: {{ input }}")
    await add_step(api, original_id, "delay", "", config={"seconds": 0}, retries=2)
    original = await workflow_detail(api, original_id)

    clone_id = (await api.post(f"{V1}/workflows/{original_id}/clone")).json()["id"]

    clone = await workflow_detail(api, clone_id)
    same = ("key", "agentId", "action", "stepOrder", "config", "retries", "needsApproval")
    assert [{f: s[f] for f in same} for s in clone["steps"]] == [{f: s[f] for f in same} for s in original["steps"]]
    assert {s["id"] for s in clone["steps"]}.isdisjoint({s["id"] for s in original["steps"]})
    assert all(s["workflowId"] == clone_id for s in clone["steps"])
    assert clone["edges"] == original["edges"]


async def test_clone_workflow_runs_like_the_original(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    original_id = await workflow_with_steps(api, "{{ input }} news", "{{ input | upper }}")
    clone_id = (await api.post(f"{V1}/workflows/{original_id}/clone")).json()["id"]

    run = await run_to_end(api, flowyard_of, clone_id, "ai")

    assert run["status"] == "COMPLETED"
    assert run["output"] == "AI NEWS"


async def test_clone_workflow_is_independent_of_the_original(api: httpx.AsyncClient) -> None:
    original_id = await workflow_with_steps(api, "one", "two")
    clone_id = (await api.post(f"{V1}/workflows/{original_id}/clone")).json()["id"]
    clone_step = (await workflow_detail(api, clone_id))["steps"][0]

    await api.delete(f"{V1}/workflows/{clone_id}/steps/{clone_step['id']}")

    assert [s["action"] for s in (await workflow_detail(api, original_id))["steps"]] == ["one", "two"]


async def test_clone_workflow_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.post(f"{V1}/workflows/wf-missing/clone")).status_code == 404
