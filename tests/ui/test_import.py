"""Bringing workflows in: an exported file, or one of the examples. A bad file creates nothing and says why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nicegui.testing import User

from app.root import Flowyard
from tests.ui.helpers import EXAMPLES, document, landed_on, steps, upload


async def _count(flowyard: Flowyard) -> int:
    return (await flowyard.workflows.list(page=0, size=1)).total


async def test_import_an_exported_file_opens_the_new_workflow(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")

    user.find(marker="import").click()
    await upload(user, "lead-routing.json", (EXAMPLES / "lead-routing.json").read_bytes())

    url = await landed_on(user, "/workflows/wf-")
    workflow = await flowyard.workflows.get(url.removeprefix("/workflows/"))
    assert workflow.name == "Lead routing"
    assert await flowyard.workflows.problems(workflow.id) == []


async def test_import_from_the_empty_state(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")

    user.find("Import a file").click()
    await upload(user, "mine.json", json.dumps(document("Mine")))

    await landed_on(user, "/workflows/wf-")
    assert (await flowyard.workflows.list(page=0, size=5)).items[0].name == "Mine"


def _cycle() -> dict[str, Any]:
    definition = steps("{{ input }}", "{{ input }}").model_dump(mode="json")
    definition["edges"].append({"source": "s2", "target": "s1"})
    return document(definition=definition)


def _many_nodes() -> dict[str, Any]:
    nodes = [{"key": f"n{i}", "agent_id": "transform"} for i in range(2001)]
    return document(definition={"nodes": nodes, "edges": []})


def _node_named(name: str) -> dict[str, Any]:
    definition = steps("{{ input }}").model_dump(mode="json")
    definition["nodes"][0]["name"] = name
    return document(definition=definition)


BAD_FILES = {
    "not JSON": (b"{ this is not json", "is not valid JSON"),
    "not text": (b"\xff\xfe\x00\x00\x9c", "is not text"),
    "JSON but no document": (json.dumps([1, 2, 3]), "a workflow document is a JSON object"),
    "another format": (json.dumps({"format": "n8n.workflow", "version": 1}), "not a Flowyard workflow document"),
    "wrong version": (json.dumps(document(version=2)), "document version 2 is not supported"),
    "unknown kind": (
        json.dumps(document(agents=[{"id": "transform", "name": "Transform", "kind": "teleport"}])),
        "unknown agent kind 'teleport'",
    ),
    "unknown agent": (
        json.dumps(document(definition=steps("", agent_id="summarizer").model_dump(mode="json"), agents=[])),
        "unknown agent(s) summarizer",
    ),
    "cycle": (json.dumps(_cycle()), "cycle"),
    "huge file": (b" " * (3 * 1_048_576) + b"{}", "the file is 3.0 MB; Flowyard imports files of up to 1.0 MB"),
    "too many nodes": (json.dumps(_many_nodes()), "at most 2000 items"),
    "script in the name": (json.dumps(document("<script>alert(1)</script>")), "name: contains HTML markup"),
    "markup in a node name": (
        json.dumps(_node_named('<img src=x onerror="alert(1)">')),
        "definition.nodes.s1.name: contains HTML markup",
    ),
    "NaN": (b'{"format": "flowyard.workflow", "version": 1, "name": NaN}', "contains NaN"),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize(("content", "reason"), BAD_FILES.values(), ids=BAD_FILES.keys())
async def test_import_a_bad_file_creates_nothing_and_says_why(
    user: User, flowyard: Flowyard, content: bytes | str, reason: str
) -> None:
    await user.open("/workflows")

    user.find(marker="import").click()
    await upload(user, "bad.json", content)

    await user.should_see("Couldn't import bad.json")
    await user.should_see(reason)
    assert await _count(flowyard) == 0
    assert user.back_history[-1] == "/workflows"


async def test_import_a_bad_file_then_a_good_one(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")
    user.find(marker="import").click()
    await upload(user, "bad.json", "nope")
    await user.should_see("is not valid JSON")

    await upload(user, "good.json", json.dumps(document("Good")))

    await landed_on(user, "/workflows/wf-")
    assert await _count(flowyard) == 1


async def test_start_from_an_example_opens_it_ready_to_run(user: User, flowyard: Flowyard) -> None:
    await user.open("/workflows")

    with user.scope(marker="example-lead-routing"):
        user.find("Use this example").click()

    url = await landed_on(user, "/workflows/wf-")
    workflow = await flowyard.workflows.get(url.removeprefix("/workflows/"))
    assert workflow.name == "Lead routing"
    assert await flowyard.workflows.problems(workflow.id) == []


async def test_examples_stay_on_offer_once_there_are_workflows(user: User, flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Mine")

    await user.open("/workflows")

    await user.should_see("Start from an example")
    with user.scope(marker="example-newsletter-with-approval"):
        await user.should_see("5 steps")
