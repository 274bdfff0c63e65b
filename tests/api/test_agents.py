"""Saved agents: the defaults, the kinds, and creating, reading, changing and deleting agents."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.agents import registry
from app.root import Flowyard
from tests.api.helpers import ISO_UTC, V1, add_step, assert_refused, create_workflow, finished_run, run_to_end
from tests.servers import LocalServer

# One saved agent per built-in kind the palette offers, and one per installed plugin kind (the example plugin's).
DEFAULT_AGENTS = {"transform", "http", "branch", "approval", "delay", "workflow", *registry.PLUGIN_KINDS}


async def _create_agent(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post(f"{V1}/agents", json={"name": "Agent", "kind": "transform", **body})
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent


# --- list and kinds -------------------------------------------------------------------------------------------------


async def test_list_agents_has_the_default_agents_from_the_start(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/agents")

    assert response.status_code == 200
    page = response.json()
    assert {a["id"] for a in page["content"]} == DEFAULT_AGENTS
    assert page["totalElements"] == len(DEFAULT_AGENTS)
    assert all(a["kind"] == a["id"] for a in page["content"])
    assert all({"name", "description", "config", "createdAt", "updatedAt"} <= set(a) for a in page["content"])


async def test_list_agents_pages_with_page_and_size(api: httpx.AsyncClient) -> None:
    pages = -(-len(DEFAULT_AGENTS) // 2)
    first = (await api.get(f"{V1}/agents", params={"page": 0, "size": 2})).json()
    last = (await api.get(f"{V1}/agents", params={"page": pages - 1, "size": 2})).json()

    assert len(first["content"]) == 2
    assert len(last["content"]) == 2 - len(DEFAULT_AGENTS) % 2
    assert (first["totalElements"], first["totalPages"]) == (len(DEFAULT_AGENTS), pages)


async def test_list_agents_with_size_out_of_range_is_refused(api: httpx.AsyncClient) -> None:
    assert_refused(await api.get(f"{V1}/agents", params={"size": 500}), "size")


async def test_list_kinds_describes_every_kind_with_its_config_schema(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/agents/kinds")

    assert response.status_code == 200
    kinds = {k["kind"]: k for k in response.json()}
    assert set(kinds) >= DEFAULT_AGENTS
    for kind in kinds.values():
        assert {"title", "group", "description", "configSchema", "inputSchema"} <= set(kind)
        assert kind["configSchema"]["type"] == "object"
    assert {"method", "url", "headers", "body"} <= set(kinds["http"]["configSchema"]["properties"])
    assert "seconds" in kinds["delay"]["configSchema"]["properties"]


# --- create ---------------------------------------------------------------------------------------------------------


async def test_create_agent_answers_201_with_the_agent(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{V1}/agents",
        json={
            "id": "news_api",
            "name": "News API",
            "kind": "http",
            "description": "Fetches news",
            "config": {"method": "GET"},
        },
    )

    assert response.status_code == 201
    agent = response.json()
    assert (agent["id"], agent["name"], agent["kind"]) == ("news_api", "News API", "http")
    assert (agent["description"], agent["config"]) == ("Fetches news", {"method": "GET"})
    assert ISO_UTC.match(agent["createdAt"])
    assert (await api.get(f"{V1}/agents/news_api")).json() == agent


async def test_create_agent_without_id_gets_a_generated_one(api: httpx.AsyncClient) -> None:
    agent = await _create_agent(api)

    assert agent["id"].startswith("ag-")
    assert (await api.get(f"{V1}/agents/{agent['id']}")).status_code == 200


async def test_create_agent_of_unknown_kind_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/agents", json={"id": "llm_bot", "name": "Bot", "kind": "telepathy"})

    assert_refused(response, "kind")
    assert "telepathy" in response.json()["detail"]
    assert (await api.get(f"{V1}/agents/llm_bot")).status_code == 404


async def test_create_agent_with_bad_config_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{V1}/agents", json={"id": "slow", "name": "Slow", "kind": "delay", "config": {"seconds": -5}}
    )

    assert_refused(response, "config")
    assert "seconds" in response.json()["errors"][0]["message"]
    assert (await api.get(f"{V1}/agents/slow")).status_code == 404


async def test_create_agent_with_config_field_its_kind_lacks_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/agents", json={"name": "T", "kind": "transform", "config": {"model": "gpt"}})

    assert_refused(response, "config")
    assert "model" in response.json()["errors"][0]["message"]


async def test_create_agent_with_an_id_that_exists_is_a_conflict(api: httpx.AsyncClient) -> None:
    await _create_agent(api, id="summarizer", name="First")

    response = await api.post(f"{V1}/agents", json={"id": "summarizer", "name": "Second", "kind": "transform"})

    assert response.status_code == 409
    assert "summarizer" in response.json()["detail"]
    assert (await api.get(f"{V1}/agents/summarizer")).json()["name"] == "First"


async def test_create_agent_with_a_default_agents_id_is_a_conflict(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/agents", json={"id": "http", "name": "Mine", "kind": "http"})

    assert response.status_code == 409


async def test_create_agent_with_malformed_id_is_refused(api: httpx.AsyncClient) -> None:
    assert_refused(await api.post(f"{V1}/agents", json={"id": "has space", "name": "A", "kind": "transform"}), "id")


@pytest.mark.parametrize("agent_id", ["kinds", ".", ".."])
async def test_create_agent_with_id_its_url_cannot_reach_is_refused(api: httpx.AsyncClient, agent_id: str) -> None:
    response = await api.post(f"{V1}/agents", json={"id": agent_id, "name": "K", "kind": "transform"})

    assert_refused(response, "id")
    assert (await api.get(f"{V1}/agents")).json()["totalElements"] == len(DEFAULT_AGENTS)


async def test_created_agent_runs_with_its_saved_config(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    url = web.reply("/headlines", (200, ["AI beats doctors"]))
    await _create_agent(api, id="news_api", name="News API", kind="http", config={"method": "GET", "url": url})
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "news_api", "")

    run = await run_to_end(api, flowyard_of, workflow["id"])

    assert run["status"] == "COMPLETED"
    assert run["output"]["body"] == ["AI beats doctors"]
    assert run["nodes"][0]["agentId"] == "news_api"


# --- get, update, delete --------------------------------------------------------------------------------------------


async def test_get_default_agent_answers_it(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/agents/delay")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["kind"]) == ("delay", "delay")


async def test_get_agent_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/agents/web_agent")

    assert response.status_code == 404
    assert "web_agent" in response.json()["detail"]


async def test_patch_agent_changes_name_description_and_config(api: httpx.AsyncClient) -> None:
    created = await _create_agent(api, id="pause", name="Pause", kind="delay", config={"seconds": 1})

    response = await api.patch(
        f"{V1}/agents/pause", json={"name": "Long pause", "description": "waits", "config": {"seconds": 60}}
    )

    assert response.status_code == 200
    agent = response.json()
    assert (agent["name"], agent["description"], agent["config"]) == ("Long pause", "waits", {"seconds": 60})
    assert (agent["kind"], agent["createdAt"]) == ("delay", created["createdAt"])
    assert (await api.get(f"{V1}/agents/pause")).json() == agent


async def test_patch_agent_keeps_the_fields_not_sent(api: httpx.AsyncClient) -> None:
    await _create_agent(api, id="pause", name="Pause", kind="delay", config={"seconds": 1})

    agent = (await api.patch(f"{V1}/agents/pause", json={"name": "Renamed"})).json()

    assert (agent["name"], agent["config"]) == ("Renamed", {"seconds": 1})


async def test_patch_agent_with_bad_config_is_refused_and_changes_nothing(api: httpx.AsyncClient) -> None:
    before = await _create_agent(api, id="pause", name="Pause", kind="delay", config={"seconds": 1})

    response = await api.patch(f"{V1}/agents/pause", json={"name": "Renamed", "config": {"seconds": "long"}})

    assert_refused(response, "config")
    assert (await api.get(f"{V1}/agents/pause")).json() == before


async def test_patch_agent_with_unknown_kind_field_is_refused(api: httpx.AsyncClient) -> None:
    await _create_agent(api, id="pause", name="Pause", kind="delay")

    assert_refused(await api.patch(f"{V1}/agents/pause", json={"kind": "http"}), "kind")


async def test_patch_agent_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.patch(f"{V1}/agents/web_agent", json={"name": "x"})).status_code == 404


async def test_delete_agent_answers_204_and_it_is_gone(api: httpx.AsyncClient) -> None:
    await _create_agent(api, id="summarizer")

    response = await api.delete(f"{V1}/agents/summarizer")

    assert response.status_code == 204
    assert (await api.get(f"{V1}/agents/summarizer")).status_code == 404


async def test_delete_agent_used_by_a_workflow_is_refused_naming_the_workflow(api: httpx.AsyncClient) -> None:
    await _create_agent(api, id="summarizer")
    workflow = await create_workflow(api, "Tech News Briefing")
    await add_step(api, workflow["id"], "summarizer", "Summarize {{ input }}")

    response = await api.delete(f"{V1}/agents/summarizer")

    assert response.status_code == 409
    assert "Tech News Briefing" in response.json()["detail"]
    assert workflow["id"] in response.json()["detail"]
    assert (await api.get(f"{V1}/agents/summarizer")).status_code == 200


async def test_delete_agent_used_by_a_paused_run_is_refused(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    await _create_agent(api, id="editor", name="Editor", kind="approval")
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "transform", "Draft about {{ input }}")
    review = await add_step(api, workflow["id"], "editor", "", key="review")
    paused = await run_to_end(api, flowyard_of, workflow["id"], "AI")
    await api.delete(f"{V1}/workflows/{workflow['id']}/steps/{review['id']}")  # the run keeps its own copy

    response = await api.delete(f"{V1}/agents/editor")

    assert response.status_code == 409
    await api.post(f"{V1}/workflows/runs/{paused['id']}/resume", json={"output": "Approved"})
    assert (await finished_run(api, flowyard_of, paused["id"]))["status"] == "COMPLETED"


async def test_delete_agent_is_allowed_once_its_steps_are_removed(api: httpx.AsyncClient) -> None:
    await _create_agent(api, id="summarizer")
    workflow = await create_workflow(api)
    step = await add_step(api, workflow["id"], "summarizer", "Summarize {{ input }}")
    await api.delete(f"{V1}/workflows/{workflow['id']}/steps/{step['id']}")

    assert (await api.delete(f"{V1}/agents/summarizer")).status_code == 204


async def test_delete_agent_with_unknown_id_is_404(api: httpx.AsyncClient) -> None:
    assert (await api.delete(f"{V1}/agents/web_agent")).status_code == 404
