"""`flowyard bench`: the engine's cost per durable step, measured against a floor.

Everything runs in one process on a temporary SQLite database, the way `flowyard serve` runs:

- floor      a bare asyncio loop doing one SQLite commit (one INSERT) per step: the least a
             durable step can cost on this disk
- chain      a 40-node chain of `transform` nodes: per-node overhead, and its ratio to the floor
- fan-out    one node fanning out to 98 parallel nodes that join into one (100 nodes)
- batch      many 5-node runs started at once through the same service the API uses: runs/s
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.engine.model import EdgeSpec, NodeSpec, Position, WorkflowDefinition
from app.root import Flowyard
from app.settings import Settings
from storage.db import create_db_engine

__all__ = ["run_benchmarks"]

TARGET_MS_PER_NODE = 0.5
TARGET_RATIO = 4.0
TARGET_RUNS_PER_SECOND = 100.0


async def _floor(path: Path, steps: int) -> float:
    """Milliseconds per step of a loop that only commits one row per step."""
    engine = create_db_engine(f"sqlite:///{path}")
    table = sa.Table("steps", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.JSON))
    table.metadata.create_all(engine)
    with engine.connect() as conn:
        start = time.perf_counter()
        for i in range(steps):
            conn.execute(table.insert().values(id=i, v={"output": i}))
            conn.commit()
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed * 1000 / steps


def _chain(length: int) -> WorkflowDefinition:
    nodes = [
        NodeSpec(
            key=f"n{i}", agent_id="transform", action="{{ input + 1 }}", step_order=i + 1, position=Position(x=i * 280)
        )
        for i in range(length)
    ]
    edges = [EdgeSpec(source=f"n{i}", target=f"n{i + 1}") for i in range(length - 1)]
    return WorkflowDefinition(nodes=nodes, edges=edges)


def _fan_out(width: int) -> WorkflowDefinition:
    nodes = [NodeSpec(key="start", agent_id="transform", action="{{ input }}")]
    nodes += [NodeSpec(key=f"w{i}", agent_id="transform", action=f"{{{{ input + {i} }}}}") for i in range(width)]
    nodes.append(NodeSpec(key="join", agent_id="transform", action="{{ input | length }}"))
    edges = [EdgeSpec(source="start", target=f"w{i}") for i in range(width)]
    edges += [EdgeSpec(source=f"w{i}", target="join") for i in range(width)]
    return WorkflowDefinition(nodes=nodes, edges=edges)


async def _time_runs(flowyard: Flowyard, workflow_id: str, payload: Any, repeats: int) -> list[float]:
    """Wall-clock milliseconds of each run, from start request to its durable end, one at a time."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run = await flowyard.runs.start(workflow_id, input=payload)
        record = await flowyard.executor.wait(run.id)
        times.append((time.perf_counter() - start) * 1000)
        if record is None or record.status.value != "COMPLETED":
            raise RuntimeError(
                f"benchmark run {run.id} ended {record.status if record else 'missing'}: {record and record.error}"
            )
    return times


async def _batch(flowyard: Flowyard, workflow_id: str, count: int) -> float:
    """Runs per second when `count` 5-node runs are started together and all finish."""
    start = time.perf_counter()
    runs = [await flowyard.runs.start(workflow_id, input=i) for i in range(count)]
    records = [await flowyard.executor.wait(run.id) for run in runs]
    elapsed = time.perf_counter() - start
    failed = [r for r in records if r is None or r.status.value != "COMPLETED"]
    if failed:
        raise RuntimeError(f"{len(failed)} batch runs did not complete")
    return count / elapsed


async def run_benchmarks(*, quick: bool = False) -> dict[str, Any]:
    repeats = 5 if quick else 30
    batch = 100 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="flowyard-bench-") as tmp:
        root = Path(tmp)
        floor_ms = await _floor(root / "floor.db", 500 if quick else 4000)
        settings = Settings(data_dir=root / "data", global_concurrency=64, run_concurrency=8)
        flowyard = Flowyard.open(settings)
        await flowyard.start()
        try:
            chain = await flowyard.workflows.create(name="bench chain", definition=_chain(40))
            fan = await flowyard.workflows.create(name="bench fan-out", definition=_fan_out(98))
            five = await flowyard.workflows.create(name="bench 5-node", definition=_chain(5))
            await _time_runs(flowyard, chain.id, 0, 2)  # warm caches (templates, statements)
            chain_times = await _time_runs(flowyard, chain.id, 0, repeats)
            fan_times = await _time_runs(flowyard, fan.id, 0, max(3, repeats // 3))
            await _batch(flowyard, five.id, 20)
            runs_per_second = await _batch(flowyard, five.id, batch)
        finally:
            await flowyard.close()

    chain_ms = statistics.median(chain_times)
    per_node = chain_ms / 40
    fan_ms = statistics.median(fan_times)
    ratio = per_node / floor_ms
    results = {
        "floor_ms_per_commit": round(floor_ms, 4),
        "chain40_ms_per_run": round(chain_ms, 2),
        "chain40_ms_per_node": round(per_node, 4),
        "chain40_ratio_to_floor": round(ratio, 2),
        "fanout100_ms_per_run": round(fan_ms, 2),
        "fanout100_ms_per_node": round(fan_ms / 100, 4),
        "batch5_runs": batch,
        "batch5_runs_per_second": round(runs_per_second, 1),
        "targets": {
            "chain40_ms_per_node": TARGET_MS_PER_NODE,
            "chain40_ratio_to_floor": TARGET_RATIO,
            "batch5_runs_per_second": TARGET_RUNS_PER_SECOND,
        },
        "met": {
            "chain40_ms_per_node": per_node <= TARGET_MS_PER_NODE,
            "chain40_ratio_to_floor": ratio <= TARGET_RATIO,
            "batch5_runs_per_second": runs_per_second >= TARGET_RUNS_PER_SECOND,
        },
    }

    def mark(name: str) -> str:
        return "ok " if results["met"][name] else "MISS"  # type: ignore[index]

    results["text"] = "\n".join(
        [
            "Flowyard engine benchmark (one process, temporary SQLite, WAL)",
            f"  floor: one commit per step in a bare asyncio loop   {floor_ms:8.3f} ms/step",
            f"  chain of 40 transform steps (median of {repeats})        {chain_ms:8.2f} ms/run",
            f"    per durable step                                  {per_node:8.3f} ms   [{mark('chain40_ms_per_node')}] target <= {TARGET_MS_PER_NODE}",  # noqa: E501
            f"    ratio to the floor                                {ratio:8.2f} x    [{mark('chain40_ratio_to_floor')}] target <= {TARGET_RATIO}",  # noqa: E501
            f"  fan-out/join of 100 transform steps                 {fan_ms:8.2f} ms/run ({fan_ms / 100:.3f} ms/step)",
            f"  {batch} concurrent 5-step runs                      {runs_per_second:8.1f} runs/s [{mark('batch5_runs_per_second')}] target >= {TARGET_RUNS_PER_SECOND:.0f}",  # noqa: E501
        ]
    )
    return results
