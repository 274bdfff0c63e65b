"""`flowyard bench --batch`: a 10,000-row CSV through a 3-step `transform` workflow, end to end.

One process on a temporary SQLite database, the way `flowyard serve` runs: the file is parsed,
mapped and stored as a batch (one transaction), then the batch runner starts one run per row
(at most `concurrency` active) until the batch is FINISHED. Prints rows, seconds, rows/s and how
far under or over the target the whole batch was.
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from app.engine.model import EdgeSpec, NodeSpec, Position, WorkflowDefinition
from app.root import Flowyard
from app.settings import Settings

__all__ = ["run_batch_benchmark"]

TARGET_SECONDS = 60.0


def _workflow() -> WorkflowDefinition:
    actions = (
        "{{ {'name': input.name | upper, 'n': input.n | int} }}",
        "{{ {'name': input.name, 'score': input.n * 2} }}",
        "{{ {'summary': input.name ~ ' scored ' ~ input.score, 'result': {'score': input.score}} }}",
    )
    nodes = [
        NodeSpec(key=f"t{i}", agent_id="transform", action=action, step_order=i + 1, position=Position(x=i * 280))
        for i, action in enumerate(actions)
    ]
    edges = [EdgeSpec(source=f"t{i}", target=f"t{i + 1}") for i in range(len(nodes) - 1)]
    return WorkflowDefinition(nodes=nodes, edges=edges)


def _csv(rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "n"])
    writer.writerows([f"person {i}", i] for i in range(rows))
    return buffer.getvalue().encode()


async def _wait(flowyard: Flowyard, batch_id: str, timeout: float) -> str:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        batch = await flowyard.batches.get(batch_id)
        if batch.status != "RUNNING":
            return batch.status
        await asyncio.sleep(0.1)
    return "RUNNING"


async def run_batch_benchmark(*, rows: int = 10_000, concurrency: int = 32) -> dict[str, Any]:
    content = _csv(rows)
    with tempfile.TemporaryDirectory(prefix="flowyard-bench-batch-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        flowyard = Flowyard.open(settings)
        await flowyard.start()
        try:
            workflow = await flowyard.workflows.create(name="bench batch", definition=_workflow())
            start = time.perf_counter()
            batch = await flowyard.batches.create(
                workflow.id, filename="bench.csv", content=content, mapping=None, concurrency=concurrency
            )
            created = time.perf_counter() - start
            status = await _wait(flowyard, batch.id, timeout=TARGET_SECONDS * 5)
            seconds = time.perf_counter() - start
            done = await flowyard.batches.get(batch.id)
        finally:
            await flowyard.close()

    completed = done.counts["COMPLETED"]
    met = status == "FINISHED" and completed == rows and seconds < TARGET_SECONDS
    margin = TARGET_SECONDS - seconds
    results: dict[str, Any] = {
        "rows": rows,
        "concurrency": concurrency,
        "status": status,
        "completed": completed,
        "create_seconds": round(created, 3),
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "met": met,
    }
    where = f"{margin:.1f} s under" if margin >= 0 else f"{-margin:.1f} s over"
    results["text"] = "\n".join(
        [
            "Flowyard batch benchmark (one process, temporary SQLite, WAL)",
            f"  {rows} CSV rows through a 3-step transform workflow, {concurrency} runs at once",
            f"  stored the batch (parse, map, one transaction)   {created:8.3f} s",
            f"  batch {status.lower()}, {completed} rows completed   {seconds:8.2f} s   {rows / seconds:8.1f} rows/s",
            f"  [{'ok ' if met else 'MISS'}] target < {TARGET_SECONDS:.0f} s: {where}",
        ]
    )
    return results
