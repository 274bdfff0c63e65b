"""The example workflows in assets/examples import and run offline, as the README promises."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from app.root import Flowyard

EXAMPLES = sorted((Path(__file__).parents[2] / "assets" / "examples").glob("*.json"))


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"lead-routing.json", "newsletter-with-approval.json"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
async def test_example_imports_and_runs_clean(path: Path, flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.import_document(json.loads(path.read_text()))

    assert await flowyard_of.workflows.problems(workflow.id) == []


async def test_lead_routing_sends_a_hot_lead_to_sales(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.import_document(
        json.loads((EXAMPLES[0].parent / "lead-routing.json").read_text())
    )
    lead = {"name": "Ada", "company": "Analytical Engines", "employees": 120, "title": "CTO"}

    run_id = (await api.post(f"/api/v1/workflows/{workflow.id}/run", json={"input": lead})).json()["runId"]
    await flowyard_of.executor.wait(run_id, timeout=10)
    run = (await api.get(f"/api/v1/workflows/runs/{run_id}")).json()

    assert run["status"] == "COMPLETED"
    assert run["output"].startswith("Hi Ada, teams like Analytical Engines")
    assert {n["key"]: n["status"] for n in run["nodes"]}["nurture"] == "SKIPPED"


async def test_newsletter_waits_for_the_editor_then_publishes(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    document = json.loads((EXAMPLES[0].parent / "newsletter-with-approval.json").read_text())
    workflow = await flowyard_of.workflows.import_document(document)

    run_id = (await api.post(f"/api/v1/workflows/{workflow.id}/run", json={"input": "robotics"})).json()["runId"]
    await flowyard_of.executor.wait(run_id, timeout=10)
    paused = (await api.get(f"/api/v1/workflows/runs/{run_id}")).json()
    resume = await api.post(f"/api/v1/workflows/runs/{run_id}/resume", json={"output": "Edited section"})
    await flowyard_of.executor.wait(run_id, timeout=10)
    run = (await api.get(f"/api/v1/workflows/runs/{run_id}")).json()

    assert paused["status"] == "PAUSED"
    assert paused["approvals"][0]["proposal"].startswith("This week in robotics:\n- What changed in robotics")
    assert resume.status_code == 202
    assert run["output"]["published"] is True and run["output"]["text"] == "Edited section"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
async def test_every_sample_of_an_example_runs_offline(
    path: Path, api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await flowyard_of.workflows.import_document(json.loads(path.read_text()))
    samples = await flowyard_of.inputs.samples(workflow.id)

    assert samples, "each example ships a sample input, so its first Run works"
    for sample in samples:
        response = await api.post(f"/api/v1/workflows/{workflow.id}/run", json={"input": sample.input})
        await flowyard_of.executor.wait(response.json()["runId"], timeout=10)
        run = (await api.get(f"/api/v1/workflows/runs/{response.json()['runId']}")).json()
        assert run["status"] in ("COMPLETED", "PAUSED"), (sample.name, run)


async def test_the_lead_routing_csv_runs_all_green_as_a_batch(flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.import_document(
        json.loads((EXAMPLES[0].parent / "lead-routing.json").read_text())
    )
    content = (EXAMPLES[0].parent / "lead-routing.csv").read_bytes()

    batch = await flowyard_of.batches.create(workflow.id, filename="lead-routing.csv", content=content, mapping=None)
    for _ in range(200):
        batch = await flowyard_of.batches.get(batch.id)
        if batch.status != "RUNNING":
            break
        await asyncio.sleep(0.05)

    assert (batch.status, batch.counts["COMPLETED"], batch.total) == ("FINISHED", 10, 10)
