"""Every save is a numbered version; an older one can be viewed and restored; a run records its version."""

from __future__ import annotations

import httpx
import pytest

from app.engine.exceptions import InvalidInput, NotFound
from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.root import Flowyard


def _chain(*actions: str) -> WorkflowDefinition:
    nodes = [NodeSpec(key=f"n{i}", agent_id="transform", action=a, step_order=i) for i, a in enumerate(actions, 1)]
    edges = [EdgeSpec(source=f"n{i}", target=f"n{i + 1}") for i in range(1, len(actions))]
    return WorkflowDefinition(nodes=nodes, edges=edges)


async def test_each_save_is_a_new_numbered_version(flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.create(name="Versions")
    await flowyard_of.workflows.save_definition(workflow.id, _chain("one"))
    saved = await flowyard_of.workflows.save_definition(workflow.id, _chain("one", "two"), name="Versions, renamed")

    versions = await flowyard_of.workflows.versions(workflow.id)

    assert saved.name == "Versions, renamed"
    assert [(v.version, v.nodes) for v in versions] == [(3, 2), (2, 1)]
    assert versions[0].created_at is not None


async def test_restore_brings_an_old_version_back_as_a_new_one(flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.create(name="Restore")
    await flowyard_of.workflows.save_definition(workflow.id, _chain("first"))
    await flowyard_of.workflows.save_definition(workflow.id, _chain("second", "third"))

    restored = await flowyard_of.workflows.restore_version(workflow.id, 2)
    current = await flowyard_of.workflows.definition(workflow.id)

    assert restored.version == 4
    assert [n.action for n in current.nodes] == ["first"]
    assert [v.version for v in await flowyard_of.workflows.versions(workflow.id)] == [4, 3, 2]


async def test_run_records_the_version_it_ran(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.create(name="Ran")
    saved = await flowyard_of.workflows.save_definition(workflow.id, _chain("{{ input }}!"))

    run = await flowyard_of.runs.start(workflow.id, input="x")
    await flowyard_of.executor.wait(run.id, timeout=10)
    await flowyard_of.workflows.save_definition(workflow.id, _chain("{{ input }}?"))

    assert run.workflow_version == saved.version
    assert (await api.get(f"/api/v1/workflows/runs/{run.id}")).json()["output"] == "x!"
    assert [
        n.action for n in (await flowyard_of.workflows.version_definition(workflow.id, run.workflow_version)).nodes
    ] == ["{{ input }}!"]


async def test_unknown_version_and_blank_name_are_refused(flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.create(name="Refusals")

    with pytest.raises(NotFound):
        await flowyard_of.workflows.version_definition(workflow.id, 99)
    with pytest.raises(InvalidInput, match="name"):
        await flowyard_of.workflows.save_definition(workflow.id, _chain("x"), name="  ")


async def test_last_run_data_and_try_node_use_the_newest_run(flowyard_of: Flowyard) -> None:
    workflow = await flowyard_of.workflows.create(name="Try")
    definition = _chain("{{ input }}-a", "{{ input }}-b")
    await flowyard_of.workflows.save_definition(workflow.id, definition)
    run = await flowyard_of.runs.start(workflow.id, input="go")
    await flowyard_of.executor.wait(run.id, timeout=10)

    data = await flowyard_of.drafts.last_run(workflow.id)
    assert data is not None
    trial = await flowyard_of.drafts.try_step(workflow.id, definition, "n2", payload=data.payload, outputs=data.outputs)

    assert data.outputs == {"n1": "go-a", "n2": "go-a-b"}
    assert (trial.input, trial.output) == ("go-a", "go-a-b")


async def test_two_versions_compare_step_by_step_and_setting_by_setting(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await flowyard_of.workflows.create(name="Compared")
    await flowyard_of.workflows.save_definition(workflow.id, _chain("{{ input }}", "old"))  # v2
    changed = _chain("{{ input | upper }}", "old")
    changed.nodes.append(NodeSpec(key="notify", agent_id="transform", name="Notify"))
    changed.edges.append(EdgeSpec(source="n2", target="notify"))
    await flowyard_of.workflows.save_definition(workflow.id, changed)  # v3

    response = await api.get(f"/api/v1/workflows/{workflow.id}/versions/2/compare/3")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["before"], body["after"], body["same"]) == (2, 3, False)
    assert [(s["key"], s["change"]) for s in body["steps"]] == [("n1", "changed"), ("notify", "added")]
    assert body["steps"][0]["fields"] == [
        {"path": "$.action", "kind": "changed", "before": "{{ input }}", "after": "{{ input | upper }}"}
    ]
    assert body["edges"] == [
        {"source": "n2", "target": "notify", "outcome": None, "change": "added", "conditionBefore": None,
         "conditionAfter": None}
    ]  # fmt: skip


async def test_comparing_with_a_version_that_is_not_kept_answers_404_naming_it(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow = await flowyard_of.workflows.create(name="Compared")
    await flowyard_of.workflows.save_definition(workflow.id, _chain("one"))

    response = await api.get(f"/api/v1/workflows/{workflow.id}/versions/2/compare/9")

    assert response.status_code == 404
    assert response.json() == {"detail": f"no version with id '{workflow.id} v9'"}
