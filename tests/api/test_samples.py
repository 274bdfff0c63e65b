"""A workflow's input over the API: its schema (declared or inferred) and its named sample inputs."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from app.root import Flowyard
from tests.api.helpers import V1, assert_refused

LEAD_ROUTING = Path(__file__).parents[2] / "assets" / "examples" / "lead-routing.json"


async def _workflow(api: httpx.AsyncClient, action: str) -> str:
    workflow_id: str = (await api.post(f"{V1}/workflows", json={"name": "Greet"})).json()["id"]
    await api.post(f"{V1}/workflows/{workflow_id}/steps", json={"agentId": "transform", "action": action})
    return workflow_id


async def test_input_answers_the_schema_inferred_from_the_templates(api: httpx.AsyncClient) -> None:
    workflow_id = await _workflow(api, "Hi {{ input.name }}, {{ input.age + 1 }}")

    body = (await api.get(f"{V1}/workflows/{workflow_id}/input")).json()

    assert body["inferred"] is True
    assert body["inputSchema"]["properties"] == {"name": {"type": "string"}, "age": {"type": "number"}}
    assert body["inputSchema"]["required"] == ["name", "age"]
    assert body["samples"] == []


async def test_input_answers_the_schema_the_first_step_declares(api: httpx.AsyncClient) -> None:
    workflow_id = (await api.post(f"{V1}/workflows", json={"name": "Enrich"})).json()["id"]
    await api.post(f"{V1}/workflows/{workflow_id}/steps", json={"agentId": "enrich", "action": ""})

    body = (await api.get(f"{V1}/workflows/{workflow_id}/input")).json()

    assert body["inferred"] is False
    assert "email" in body["inputSchema"]["properties"]


async def test_samples_are_kept_in_order_and_replaced_as_a_whole(api: httpx.AsyncClient) -> None:
    workflow_id = await _workflow(api, "Hi {{ input.name }}")
    samples = [{"name": "Ada", "input": {"name": "Ada"}}, {"name": "Text", "input": "just text"}]

    saved = await api.put(f"{V1}/workflows/{workflow_id}/samples", json={"samples": samples})
    replaced = await api.put(f"{V1}/workflows/{workflow_id}/samples", json={"samples": samples[1:]})

    assert saved.status_code == 200 and saved.json()["samples"] == samples
    assert replaced.json()["samples"] == samples[1:]
    assert (await api.get(f"{V1}/workflows/{workflow_id}/input")).json()["samples"] == samples[1:]


async def test_bad_samples_are_refused_naming_the_field_and_change_nothing(api: httpx.AsyncClient) -> None:
    workflow_id = await _workflow(api, "Hi {{ input.name }}")
    kept = [{"name": "Ada", "input": {"name": "Ada"}}]
    await api.put(f"{V1}/workflows/{workflow_id}/samples", json={"samples": kept})

    twice = await api.put(
        f"{V1}/workflows/{workflow_id}/samples",
        json={"samples": [{"name": "One", "input": 1}, {"name": "one ", "input": 2}]},
    )
    nameless = await api.put(f"{V1}/workflows/{workflow_id}/samples", json={"samples": [{"name": "", "input": 1}]})
    huge = await api.put(
        f"{V1}/workflows/{workflow_id}/samples", json={"samples": [{"name": "Big", "input": "x" * 70_000}]}
    )
    missing = await api.put(f"{V1}/workflows/wf-missing/samples", json={"samples": []})

    assert_refused(twice, "samples")
    assert "two samples are named “one”" in twice.json()["detail"]
    assert_refused(nameless, "samples.0.name")
    assert_refused(huge, "samples")
    assert missing.status_code == 404
    assert (await api.get(f"{V1}/workflows/{workflow_id}/input")).json()["samples"] == kept


async def test_samples_travel_with_export_import_and_clone(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    imported = await flowyard_of.workflows.import_document(json.loads(LEAD_ROUTING.read_text()))
    copy = (await api.post(f"{V1}/workflows/{imported.id}/clone")).json()

    exported = await flowyard_of.workflows.export(imported.id)

    assert [s.name for s in exported.samples] == ["Hot lead", "Cold lead"]
    names = [s["name"] for s in (await api.get(f"{V1}/workflows/{copy['id']}/input")).json()["samples"]]
    assert names == ["Hot lead", "Cold lead"]
