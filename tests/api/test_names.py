"""Names people give things refuse NUL, control characters and text-direction marks, and are not only spaces:
each refusal is a 422 naming the field, and nothing is stored."""

from __future__ import annotations

import httpx
import pytest

from app.engine.exceptions import InvalidInput
from app.root import Flowyard
from tests.api.helpers import V1, assert_refused, create_workflow
from tests.batches.helpers import csv_bytes

BAD_NAMES = ["nul\x00here", "tab\there", "invoice\u202egpj.exe", "x\u2066y", "a\u200fb", "a\u061cb", "   ", ""]
BAD_LABELS = [name for name in BAD_NAMES if name]  # a step's label and a schedule's name may be empty


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_a_workflow_name_that_hides_or_reorders_text_or_is_blank_is_refused(
    api: httpx.AsyncClient, name: str
) -> None:
    response = await api.post(f"{V1}/workflows", json={"name": name})

    assert_refused(response, "name")
    assert (await api.get(f"{V1}/workflows")).json()["totalElements"] == 0


@pytest.mark.parametrize("name", ["x\u202e", "  "])
async def test_renaming_a_workflow_follows_the_same_rules(api: httpx.AsyncClient, name: str) -> None:
    workflow = await create_workflow(api, "Digest")

    response = await api.patch(f"{V1}/workflows/{workflow['id']}", json={"name": name})

    assert_refused(response, "name")
    assert (await api.get(f"{V1}/workflows/{workflow['id']}")).json()["name"] == "Digest"


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_an_agent_name_follows_the_same_rules(api: httpx.AsyncClient, name: str) -> None:
    response = await api.post(f"{V1}/agents", json={"id": "mine", "name": name, "kind": "transform"})

    assert_refused(response, "name")
    assert (await api.get(f"{V1}/agents/mine")).status_code == 404


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_a_credential_name_follows_the_same_rules(api: httpx.AsyncClient, name: str) -> None:
    response = await api.post(f"{V1}/credentials", json={"name": name, "type": "bearer", "values": {"token": "t"}})

    assert_refused(response, "name")
    assert (await api.get(f"{V1}/credentials")).json() == []


@pytest.mark.parametrize("name", BAD_LABELS)
async def test_a_schedule_name_follows_the_same_rules(api: httpx.AsyncClient, name: str) -> None:
    workflow = await create_workflow(api)

    response = await api.post(f"{V1}/workflows/{workflow['id']}/schedules", json={"name": name, "cron": "0 * * * *"})

    assert_refused(response, "name")


@pytest.mark.parametrize("name", BAD_LABELS)
async def test_a_step_label_follows_the_same_rules(api: httpx.AsyncClient, name: str) -> None:
    workflow = await create_workflow(api)

    response = await api.post(
        f"{V1}/workflows/{workflow['id']}/steps", json={"agentId": "transform", "action": "", "name": name}
    )

    assert_refused(response, "name")
    assert (await api.get(f"{V1}/workflows/{workflow['id']}/steps")).json() == []


async def test_a_batch_of_a_file_whose_name_reorders_text_is_refused(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)
    file = ("leads\u202evsc.exe", csv_bytes(["name"], [["Ada"]]), "text/csv")

    response = await api.post(f"{V1}/workflows/{workflow['id']}/batches", files={"file": file})

    assert_refused(response, "file")


async def test_names_in_any_script_with_inner_spaces_are_kept_as_given(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{V1}/workflows", json={"name": "Café ☕ 名前 — عربى"})

    assert response.status_code == 201
    assert response.json()["name"] == "Café ☕ 名前 — عربى"


async def test_what_pages_hand_the_services_is_checked_too(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    with pytest.raises(InvalidInput) as refused:
        await flowyard_of.workflows.create(name="evil\u202e")
    assert refused.value.field == "name"
    with pytest.raises(InvalidInput) as refused:
        await flowyard_of.agents.create(id=None, name=" ", kind="transform")
    assert refused.value.field == "name"


async def test_an_imported_document_with_such_a_name_is_refused_naming_the_field(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    document = {
        "format": "flowyard.workflow",
        "version": 1,
        "name": "Imported",
        "definition": {"nodes": [{"key": "s1", "agent_id": "transform", "name": "x\u202ey"}], "edges": []},
        "agents": [],
    }

    with pytest.raises(InvalidInput) as refused:
        await flowyard_of.workflows.import_document(document)

    assert refused.value.field == "definition.nodes.s1.name"
    assert (await api.get(f"{V1}/workflows")).json()["totalElements"] == 0
