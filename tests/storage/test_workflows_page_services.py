"""The services behind /workflows and the shell: summaries with search and sort, activity counts, examples,
and importing an uploaded file. On SQLite and PostgreSQL, since the summaries are one query with subqueries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.engine.exceptions import InvalidInput, NotFound
from app.root import Flowyard
from app.settings import Settings
from tests.databases import fresh_data_dir
from tests.ui.helpers import document, paused_run, run_to_end, steps


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def flowyard(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Flowyard]:
    url = None if request.param == "sqlite" else request.getfixturevalue("migrated_postgres_url")
    app = Flowyard.open(Settings(data_dir=fresh_data_dir(tmp_path), database_url=url))
    await app.start()
    yield app
    await app.close()


async def _names(flowyard: Flowyard, **query: Any) -> list[str]:
    page = await flowyard.workflows.summaries(page=0, size=50, **query)
    return [summary.name for summary in page.items]


async def test_summary_tells_steps_and_last_run(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.create(name="Digest", description="d", definition=steps("a", "b", "c"))
    await run_to_end(flowyard, workflow.id)
    last = await run_to_end(flowyard, workflow.id)

    (summary,) = (await flowyard.workflows.summaries(page=0, size=10)).items

    assert (summary.id, summary.name, summary.description, summary.steps) == (workflow.id, "Digest", "d", 3)
    assert (summary.last_run_status, summary.last_run_at) == ("COMPLETED", last.created_at)


async def test_summary_of_a_workflow_never_run(flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Fresh")

    (summary,) = (await flowyard.workflows.summaries(page=0, size=10)).items

    assert (summary.steps, summary.last_run_status, summary.last_run_at) == (0, None, None)


async def test_summaries_sort_by_name_ignoring_case(flowyard: Flowyard) -> None:
    for name in ("beta", "Gamma", "alpha"):
        await flowyard.workflows.create(name=name)

    assert await _names(flowyard, sort="name") == ["alpha", "beta", "Gamma"]
    assert await _names(flowyard, sort="name", descending=True) == ["Gamma", "beta", "alpha"]


async def test_summaries_sort_by_last_edit_newest_first(flowyard: Flowyard) -> None:
    for name in ("first", "second", "third"):
        await flowyard.workflows.create(name=name)
    first = (await flowyard.workflows.summaries(page=0, size=1, search="first")).items[0]
    await flowyard.workflows.update(first.id, description="touched")

    assert await _names(flowyard) == ["first", "third", "second"]
    assert await _names(flowyard, sort="updated", descending=False) == ["second", "third", "first"]


async def test_summaries_sort_by_last_run_status_attention_first(flowyard: Flowyard) -> None:
    broken = await flowyard.workflows.create(name="broken", definition=steps("{{ 1 // 0 }}"))
    fine = await flowyard.workflows.create(name="fine", definition=steps("{{ input }}"))
    await flowyard.workflows.create(name="untried")
    await paused_run(flowyard)
    await run_to_end(flowyard, broken.id)
    await run_to_end(flowyard, fine.id)

    expected = ["broken", "Newsletter section with approval", "fine", "untried"]
    assert await _names(flowyard, sort="last_run") == expected
    assert await _names(flowyard, sort="last_run", descending=True) == expected[::-1]


async def test_summaries_search_name_and_description_literally(flowyard: Flowyard) -> None:
    await flowyard.workflows.create(name="Lead scoring")
    await flowyard.workflows.create(name="Report", description="for the LEAD team")
    await flowyard.workflows.create(name="100% done")
    await flowyard.workflows.create(name="1000 done")

    assert sorted(await _names(flowyard, search="lead")) == ["Lead scoring", "Report"]
    assert await _names(flowyard, search="0%") == ["100% done"]


async def test_summaries_come_in_pages(flowyard: Flowyard) -> None:
    for number in range(5):
        await flowyard.workflows.create(name=f"w{number}")

    page = await flowyard.workflows.summaries(page=1, size=2, sort="name")

    assert ([s.name for s in page.items], page.total, page.pages) == (["w2", "w3"], 5, 3)


async def test_activity_counts_queued_and_running_runs_and_waiting_approvals(flowyard: Flowyard) -> None:
    slow = await flowyard.workflows.create(name="slow", definition=steps("", agent_id="delay", config={"seconds": 60}))
    await flowyard.runs.start(slow.id, input="x")
    await paused_run(flowyard)

    activity = await flowyard.runs.activity()

    assert (activity.active_runs, activity.pending_approvals) == (1, 1)


async def test_examples_are_listed_and_import_ready_to_run(flowyard: Flowyard) -> None:
    examples = {example.id: example for example in await flowyard.examples.list()}

    workflow = await flowyard.examples.import_example("lead-routing")

    assert set(examples) >= {"lead-routing", "newsletter-with-approval"}
    assert (examples["lead-routing"].name, examples["lead-routing"].steps) == ("Lead routing", 4)
    assert workflow.name == "Lead routing" and await flowyard.workflows.problems(workflow.id) == []


async def test_an_unknown_example_is_not_found(flowyard: Flowyard) -> None:
    with pytest.raises(NotFound):
        await flowyard.examples.import_example("../settings")


async def test_import_file_accepts_an_export_with_a_byte_order_mark(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.import_file(b"\xef\xbb\xbf" + json.dumps(document("With BOM")).encode())

    assert workflow.name == "With BOM"


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (b"x" * 1_048_577, "file", "the file is 1.0 MB; Flowyard imports files of up to 1.0 MB"),
        (b"\xff\xfe", "file", "not text"),
        (b"{", "file", "not valid JSON (line 1, column 2"),
        (b'{"name": Infinity}', "file", "contains Infinity"),
        (json.dumps(document("<b>x</b>")).encode(), "name", "contains HTML markup"),
        (json.dumps(document(description="<!-- hi -->")).encode(), "description", "contains HTML markup"),
        (
            json.dumps(document(agents=[{"id": "transform", "name": "<svg onload=x>", "kind": "transform"}])).encode(),
            "agents.transform.name",
            "contains HTML markup",
        ),
    ],
)
async def test_import_file_refuses_and_creates_nothing(
    flowyard: Flowyard, content: bytes, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await flowyard.workflows.import_file(content)

    assert refused.value.field == field and message in refused.value.message
    assert (await flowyard.workflows.list(page=0, size=1)).total == 0


async def test_import_file_keeps_names_with_angle_brackets_that_are_not_markup(flowyard: Flowyard) -> None:
    workflow = await flowyard.workflows.import_file(json.dumps(document("a < b, c -> d")).encode())

    assert workflow.name == "a < b, c -> d"
