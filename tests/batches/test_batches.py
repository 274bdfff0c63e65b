"""Running batches: good and bad rows, the concurrency limit, progress counts, results, retry, cancel, restart."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter

import pytest
from sqlmodel import Session, select

from app.engine.exceptions import Conflict, InvalidInput, NotFound, WorkflowInvalid
from app.engine.model import NodeSpec
from app.root import Flowyard
from app.settings import Settings
from storage.models import RunRow
from tests.batches.helpers import csv_bytes, finished, workflow
from tests.servers import LocalServer

# 10 divided by the row's n: a row whose n is not a number (0) fails.
SCORE = "{{ {'summary': input.name ~ '!', 'result': {'score': 10 // (input.n | int), 'tags': ['x']}} }}"


def _runs(flowyard: Flowyard) -> list[RunRow]:
    """Every run in the database."""
    with Session(flowyard.db.engine) as session:
        return list(session.exec(select(RunRow)).all())


async def test_batch_runs_good_rows_and_keeps_bad_rows_invalid_without_running_them(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))
    content = (
        b'{"email": "ada@analytical.org"}\n{"company": "Acme"}\n[1]\n{"email": "bob@acme.io", "company": "Acme"}\n'
    )

    batch = await flowyard.batches.create(workflow_id, filename="leads.jsonl", content=content, mapping=None)
    done = await finished(flowyard, batch.id)

    assert done.status == "FINISHED"
    assert done.total == 4
    assert done.counts["COMPLETED"] == 2
    assert done.counts["INVALID"] == 2
    assert done.counts["done"] == 4
    rows = await flowyard.batches.rows(batch.id)
    assert [(r.index, r.status) for r in rows] == [(0, "COMPLETED"), (1, "INVALID"), (2, "INVALID"), (3, "COMPLETED")]
    assert rows[0].output["domain"] == "analytical.org"
    assert rows[1].error == "email: is required" and rows[1].run_id is None
    assert rows[2].error == "line 3: is an array, not a JSON object"
    runs = _runs(flowyard)
    assert len(runs) == 2
    assert {r.trigger for r in runs} == {"batch"}


async def test_no_more_runs_than_the_concurrency_are_active_at_once(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="wait", agent_id="delay", action="0.15"))
    active: set[str] = set()
    most = 0

    async def watch() -> None:
        nonlocal most
        async with flowyard.bus.subscribe() as events:
            async for event in events:
                if event.node_key is None and event.status == "RUNNING":
                    active.add(event.run_id)
                elif event.node_key is None and event.status in ("COMPLETED", "FAILED", "CANCELLED"):
                    active.discard(event.run_id)
                most = max(most, len(active))

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    batch = await flowyard.batches.create(
        workflow_id, filename="x.csv", content=csv_bytes(["n"], [[i] for i in range(9)]), mapping=None, concurrency=3
    )
    done = await finished(flowyard, batch.id)
    watcher.cancel()

    assert done.counts["COMPLETED"] == 9
    assert most == 3


async def test_progress_counts_rows_per_status_while_the_batch_runs(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="wait", agent_id="delay", action="{{ input.wait }}"))
    content = csv_bytes(["wait"], [["0"], ["x"], ["0"], ["30"], ["30"], ["30"]])

    batch = await flowyard.batches.create(workflow_id, filename="x.csv", content=content, mapping=None, concurrency=2)
    async with asyncio.timeout(10):
        while (during := await flowyard.batches.get(batch.id)).counts["done"] < 3 or during.counts["RUNNING"] < 2:
            await asyncio.sleep(0.02)

    assert during.status == "RUNNING"
    assert during.counts["COMPLETED"] == 2
    assert during.counts["RUNNING"] == 2
    assert during.counts["PENDING"] == 1
    assert during.counts["FAILED"] == 1  # "x" seconds: the delay step fails
    assert during.counts["done"] == 3
    assert sum(v for k, v in during.counts.items() if k != "done") == 6
    cancelled = await flowyard.batches.cancel(batch.id)
    assert cancelled.status == "CANCELLED"


async def test_results_csv_has_the_original_columns_and_one_column_per_output_field(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="score", agent_id="transform", action=SCORE))
    content = csv_bytes(["name", "n"], [["Ada", "2"], ["Bob", "x"], ["Cy", "5"]])

    batch = await flowyard.batches.create(
        workflow_id, filename="x.csv", content=content, mapping=None, output_fields=["summary", "result.score"]
    )
    await finished(flowyard, batch.id)
    rows = await flowyard.batches.rows(batch.id)
    text = "".join([chunk async for chunk in flowyard.batches.results_csv(batch.id)])
    picked = "".join([chunk async for chunk in flowyard.batches.results_csv(batch.id, ["result"])])

    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["row", "status", "run_id", "name", "n", "summary", "result.score", "error"]
    assert lines[1] == ["1", "COMPLETED", rows[0].run_id, "Ada", "2", "Ada!", "5", ""]
    assert lines[2][:5] == ["2", "FAILED", rows[1].run_id, "Bob", "x"]
    assert lines[2][5:7] == ["", ""] and lines[2][7]
    assert lines[3] == ["3", "COMPLETED", rows[2].run_id, "Cy", "5", "Cy!", "2", ""]
    assert list(csv.reader(io.StringIO(picked)))[1][5] == '{"score": 5, "tags": ["x"]}'
    assert await flowyard.batches.output_field_options(batch.id) == ["summary", "result"]


async def test_results_of_a_workflow_whose_output_is_not_an_object_have_one_output_column(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="up", agent_id="transform", action="{{ input.name | upper }}"))

    batch = await flowyard.batches.create(
        workflow_id, filename="x.csv", content=csv_bytes(["name"], [["ada"]]), mapping=None
    )
    await finished(flowyard, batch.id)
    text = "".join([chunk async for chunk in flowyard.batches.results_csv(batch.id)])

    assert await flowyard.batches.output_field_options(batch.id) == ["output"]
    assert list(csv.reader(io.StringIO(text)))[1][3:] == ["ada", "ADA", ""]


async def test_retry_runs_only_the_failed_rows_again_with_the_same_input(flowyard: Flowyard, web: LocalServer) -> None:
    for item in ("3", "5"):
        web.reply(f"/item/{item}", (500, {"error": "down"}), (200, {"ok": True}))
    call = NodeSpec(key="call", agent_id="http", config={"method": "GET", "url": web.url + "/item/{{ input.id }}"})
    workflow_id = await workflow(flowyard, call)
    batch = await flowyard.batches.create(
        workflow_id, filename="x.csv", content=csv_bytes(["id"], [[i] for i in range(1, 6)]), mapping=None
    )
    first = await finished(flowyard, batch.id)
    before = {r.index: r for r in await flowyard.batches.rows(batch.id)}

    retried = await flowyard.batches.retry_failed(batch.id)
    done = await finished(flowyard, batch.id)
    after = {r.index: r for r in await flowyard.batches.rows(batch.id)}

    assert (first.counts["COMPLETED"], first.counts["FAILED"]) == (3, 2)
    assert retried.status == "RUNNING"
    assert done.status == "FINISHED" and done.counts["COMPLETED"] == 5
    assert [i for i in after if after[i].run_id != before[i].run_id] == [2, 4]
    assert after[2].input == before[2].input == {"id": "3"}
    assert Counter(r.path for r in web.requests) == {
        "/item/1": 1,
        "/item/2": 1,
        "/item/3": 2,
        "/item/4": 1,
        "/item/5": 2,
    }
    with pytest.raises(Conflict):
        await flowyard.batches.retry_failed(batch.id)


async def test_cancel_starts_no_more_rows_and_cancels_the_active_runs(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="wait", agent_id="delay", action="30"))
    batch = await flowyard.batches.create(
        workflow_id, filename="x.csv", content=csv_bytes(["n"], [[i] for i in range(6)]), mapping=None, concurrency=2
    )
    async with asyncio.timeout(10):
        while (await flowyard.batches.get(batch.id)).counts["RUNNING"] < 2:
            await asyncio.sleep(0.02)

    cancelled = await flowyard.batches.cancel(batch.id)
    await asyncio.sleep(0.3)
    later = await flowyard.batches.get(batch.id)

    assert cancelled.status == "CANCELLED" and cancelled.finished_at is not None
    assert later.counts["CANCELLED"] == 6
    assert len(_runs(flowyard)) == 2
    with pytest.raises(Conflict):
        await flowyard.batches.cancel(batch.id)


async def test_a_batch_resumes_after_a_restart_and_runs_no_row_twice(settings: Settings) -> None:
    first = Flowyard.open(settings)
    await first.start()
    workflow_id = await workflow(first, NodeSpec(key="wait", agent_id="delay", action="0.1"))
    batch = await first.batches.create(
        workflow_id, filename="x.csv", content=csv_bytes(["n"], [[i] for i in range(12)]), mapping=None, concurrency=3
    )
    async with asyncio.timeout(10):
        while (await first.batches.get(batch.id)).counts["COMPLETED"] < 3:
            await asyncio.sleep(0.02)
    await first.close()

    second = Flowyard.open(settings)
    await second.start()
    try:
        done = await finished(second, batch.id)
        rows = await second.batches.rows(batch.id)
        runs = _runs(second)
    finally:
        await second.close()

    assert done.status == "FINISHED"
    assert done.counts["COMPLETED"] == 12
    assert len(runs) == 12
    assert {r.run_id for r in rows} == {r.id for r in runs}


async def test_create_refuses_bad_requests_and_stores_nothing(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))
    broken = await flowyard.workflows.create(name="Broken", definition=None)
    good = csv_bytes(["email"], [["a@b.c"]])

    async def refused(**kwargs: object) -> InvalidInput:
        arguments: dict[str, object] = {"filename": "x.csv", "content": good, "mapping": None, **kwargs}
        with pytest.raises(InvalidInput) as caught:
            await flowyard.batches.create(str(arguments.pop("workflow_id", workflow_id)), **arguments)  # type: ignore[arg-type]
        return caught.value

    assert (await refused(content=b"")).field == "file"
    assert (await refused(concurrency=0)).field == "concurrency"
    assert (await refused(output_fields=["a..b"])).field == "outputFields"
    assert (await refused(mapping={"email": "nope"})).field == "mapping"
    missing = await refused(content=csv_bytes(["mail"], [["a@b.c"]]))
    assert (missing.field, missing.message) == ("mapping", "the required input(s) 'email' have no column")
    with pytest.raises(NotFound):
        await flowyard.batches.create("wf-nope", filename="x.csv", content=good, mapping=None)
    with pytest.raises(WorkflowInvalid):
        await flowyard.batches.create(broken.id, filename="x.csv", content=good, mapping=None)
    assert await flowyard.batches.list() == []


async def test_retry_after_cancel_runs_the_cancelled_rows(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="wait", agent_id="delay", action="{{ input.wait }}"))
    content = csv_bytes(["wait"], [["0"], ["30"], ["0"], ["0"]])
    batch = await flowyard.batches.create(workflow_id, filename="x.csv", content=content, mapping=None, concurrency=1)
    async with asyncio.timeout(10):
        while (await flowyard.batches.get(batch.id)).counts["RUNNING"] < 1 or len(_runs(flowyard)) < 2:
            await asyncio.sleep(0.02)
    cancelled = await flowyard.batches.cancel(batch.id)

    retried = await flowyard.batches.retry_failed(batch.id)
    async with asyncio.timeout(10):
        while (await flowyard.batches.get(batch.id)).counts["RUNNING"] < 1:
            await asyncio.sleep(0.02)
    await flowyard.batches.cancel(batch.id)
    rows = await flowyard.batches.rows(batch.id)

    assert (cancelled.counts["COMPLETED"], cancelled.counts["CANCELLED"]) == (1, 3)
    assert retried.status == "RUNNING"
    assert [r.status for r in rows] == ["COMPLETED", "CANCELLED", "CANCELLED", "CANCELLED"]
    assert len(_runs(flowyard)) == 3  # row 1 ran twice (cancelled both times), rows 2 and 3 never started


async def test_another_process_takes_over_a_batch_whose_process_stopped(settings: Settings) -> None:
    quick = settings.model_copy(update={"batch_poll_seconds": 0.1})
    first, second = Flowyard.open(quick), Flowyard.open(quick)
    await first.start()
    await second.start()
    try:
        workflow_id = await workflow(first, NodeSpec(key="wait", agent_id="delay", action="0.05"))
        batch = await first.batches.create(
            workflow_id,
            filename="x.csv",
            content=csv_bytes(["n"], [[i] for i in range(20)]),
            mapping=None,
            concurrency=2,
        )
        async with asyncio.timeout(10):
            while (await second.batches.get(batch.id)).counts["COMPLETED"] < 2:
                await asyncio.sleep(0.02)
        await first.close()
        done = await finished(second, batch.id)
        runs = _runs(second)
    finally:
        await second.close()

    assert done.status == "FINISHED" and done.counts["COMPLETED"] == 20
    assert len(runs) == 20
