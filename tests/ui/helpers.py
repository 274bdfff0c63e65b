"""Short ways to arrange workflows and runs, and to read what the simulated user sees, for the UI tests."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from nicegui import ElementFilter, ui
from nicegui.testing import User

from app.engine.model import EdgeSpec, NodeSpec, RunRecord, WorkflowDefinition
from app.root import Flowyard

__all__ = [
    "EXAMPLES",
    "document",
    "landed_on",
    "marked_rows",
    "paused_run",
    "row_names",
    "run_to_end",
    "should_see_rows",
    "steps",
    "upload",
]

EXAMPLES = Path(__file__).parents[2] / "assets" / "examples"


def steps(*actions: str, agent_id: str = "transform", config: dict[str, Any] | None = None) -> WorkflowDefinition:
    """A chain of nodes `s1 → s2 → …`, one per action."""
    nodes = [
        NodeSpec(key=f"s{i}", agent_id=agent_id, action=action, config=config or {}, step_order=i)
        for i, action in enumerate(actions, start=1)
    ]
    edges = [EdgeSpec(source=a.key, target=b.key) for a, b in itertools.pairwise(nodes)]
    return WorkflowDefinition(nodes=nodes, edges=edges)


def document(name: str = "Imported", **changes: Any) -> dict[str, Any]:
    """A valid export document of a one-step workflow, with `changes` laid over its top level."""
    doc = {
        "format": "flowyard.workflow",
        "version": 1,
        "name": name,
        "description": "",
        "definition": steps("{{ input }}").model_dump(mode="json"),
        "agents": [{"id": "transform", "name": "Transform", "kind": "transform"}],
    }
    return {**doc, **changes}


async def run_to_end(flowyard: Flowyard, workflow_id: str, payload: Any = "x") -> RunRecord:
    run = await flowyard.runs.start(workflow_id, input=payload)
    finished = await flowyard.executor.wait(run.id, timeout=10)
    assert finished is not None
    return finished


async def paused_run(flowyard: Flowyard) -> str:
    """The id of a workflow (the newsletter example) whose run waits for approval: an active run."""
    workflow = await flowyard.examples.import_example("newsletter-with-approval")
    run = await run_to_end(flowyard, workflow.id, "robotics")
    assert run.status == "PAUSED"
    return workflow.id


async def landed_on(user: User, prefix: str) -> str:
    """Wait until the user's browser shows a URL starting with `prefix`; return it."""
    for _ in range(50):
        if user.back_history and user.back_history[-1].startswith(prefix):
            return user.back_history[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected to land on {prefix}…, but the history is {user.back_history}")


def row_names(user: User) -> list[str]:
    """The workflow names in the list, top to bottom."""
    with user:
        return [label.text for label in ElementFilter(kind=ui.label, marker="workflow-name", local_scope=False)]


async def should_see_rows(user: User, names: list[str]) -> None:
    """Wait until the list shows exactly `names`, top to bottom (it refreshes after a click)."""
    for _ in range(40):
        if row_names(user) == names:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected the rows {names}, but the list shows {row_names(user)}")


async def upload(user: User, name: str, content: bytes | str) -> None:
    """Choose `content` as the file called `name` in the open upload field."""
    data = content.encode() if isinstance(content, str) else content
    field = user.find(ui.upload).elements.pop()
    await field.handle_uploads([ui.upload.SmallFileUpload(name, "application/json", data)])


def marked_rows(user: User, marker: str) -> list[str]:
    """The ids of the rows marked `marker`, top to bottom (a row carries its id as a second marker)."""
    with user:
        return [
            extra
            for element in ElementFilter(marker=marker, local_scope=False)
            for extra in element._markers
            if extra != marker
        ]
