"""Plugin kinds through the API, with the example plugin the suite installs (tests/plugins/flowyard_example_plugin)."""

from __future__ import annotations

import httpx

from app.root import Flowyard
from tests.api.helpers import V1, add_step, assert_refused, create_workflow, run_to_end


async def test_plugin_kinds_are_listed_with_their_input_schema(api: httpx.AsyncClient) -> None:
    kinds = {k["kind"]: k for k in (await api.get(f"{V1}/agents/kinds")).json()}

    enrich = kinds["enrich"]
    assert enrich["title"] == "Enrich"
    assert enrich["description"] == "Adds the domain and a company name to a contact."
    assert enrich["inputSchema"]["properties"]["email"] == {"type": "string"}
    assert enrich["inputSchema"]["required"] == ["email"]
    assert set(enrich["configSchema"]["properties"]) == {"source"}
    assert kinds["headline"]["inputSchema"] == {"type": "string"}


async def test_plugin_kinds_have_a_default_agent_for_the_palette(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{V1}/agents/enrich")

    assert response.status_code == 200
    assert (response.json()["kind"], response.json()["name"]) == ("enrich", "Enrich")


async def test_workflow_with_a_plugin_step_outputs_the_functions_result(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await create_workflow(api, "Enrich leads")
    await add_step(api, workflow["id"], "enrich", "", config={"source": "crm"})
    await add_step(api, workflow["id"], "headline", "", inputMapping="{{ input.company }}")

    run = await run_to_end(api, flowyard_of, workflow["id"], {"email": "ada@Analytical.org"})

    assert run["status"] == "COMPLETED", run
    assert run["nodes"][0]["output"] == {
        "email": "ada@Analytical.org",
        "domain": "analytical.org",
        "company": "Analytical",
        "source": "crm",
    }
    assert run["output"] == "ANALYTICAL!"


async def test_run_input_is_checked_against_the_plugins_input_schema(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Enrich leads")
    await add_step(api, workflow["id"], "enrich", "")

    missing = await api.post(f"{V1}/workflows/{workflow['id']}/run", json={"input": {"company": "Acme"}})
    extra = await api.post(f"{V1}/workflows/{workflow['id']}/run", json={"input": {"email": "a@b.c", "phone": "1"}})

    assert_refused(missing, "input.email")
    assert_refused(extra, "input.phone")


async def test_plugin_step_with_bad_config_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.post(
        f"{V1}/workflows/{workflow['id']}/steps", json={"agentId": "enrich", "action": "", "config": {"colour": "red"}}
    )

    assert response.status_code == 422
    assert "colour" in response.json()["detail"]
