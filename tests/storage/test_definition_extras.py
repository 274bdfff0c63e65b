"""What a definition carries besides its steps: sticky notes and turned-off steps, kept through saves, versions,
export and import, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.engine.model import EdgeSpec, NodeSpec, Note, Position, WorkflowDefinition
from app.root import Flowyard
from app.settings import Settings
from tests.databases import fresh_data_dir


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def flowyard(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Flowyard]:
    url = None if request.param == "sqlite" else request.getfixturevalue("migrated_postgres_url")
    app = Flowyard.open(Settings(data_dir=fresh_data_dir(tmp_path), database_url=url))
    yield app
    await app.close()


NOTE = Note(id="n1", text="**Why** this step: the CRM rate-limits us", position=Position(x=10, y=-80), width=300)
DEFINITION = WorkflowDefinition(
    nodes=[
        NodeSpec(key="a", agent_id="transform", action="{{ input }}"),
        NodeSpec(key="b", agent_id="transform", action="{{ input }}!", disabled=True),
    ],
    edges=[EdgeSpec(source="a", target="b")],
    notes=[NOTE],
)


async def test_notes_and_turned_off_steps_survive_save_version_export_and_import(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Leads", definition=DEFINITION)

    saved = await flowyard.workflows.definition(workflow.id)
    assert saved.notes == [NOTE]
    assert [n.disabled for n in saved.nodes] == [False, True]

    run = await flowyard.runs.start(workflow.id, input="x")  # freezes the version
    frozen = await flowyard.workflows.version_definition(workflow.id, run.workflow_version)
    assert frozen.notes == [NOTE] and frozen.nodes[1].disabled

    document = await flowyard.workflows.export(workflow.id)
    copy = await flowyard.workflows.import_document(document.model_dump(mode="json"))
    assert (await flowyard.workflows.definition(copy.id)).notes == [NOTE]

    await flowyard.workflows.save_definition(workflow.id, DEFINITION.model_copy(update={"notes": []}))
    assert (await flowyard.workflows.definition(workflow.id)).notes == []
    await flowyard.executor.wait(run.id, timeout=10)
