"""`flowyard bench --history`: the runs page and the inbox against a large run history.

A temporary SQLite database is built by the normal migrations, then bulk-seeded through the
driver (one big transaction per table, journal and sync off for the load only): about 50
workflows, 1,000,000 runs with a realistic spread of statuses, triggers and times (a year,
growing, with scheduled bursts that share a timestamp) and 5,000,000 step runs. Each query is
then timed through the service the pages call, `RunService.list_all` and friends, and
reported as the median and 95th percentile of several repetitions against the 100 ms target.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.engine.model import RunStatus, Trigger
from app.models.runs import RunQuery
from app.root import Flowyard
from app.settings import Settings
from storage.db import create_db_engine, migrate

__all__ = ["run_history_benchmark", "seed_history"]

TARGET_MS = 100.0
WORKFLOWS = 50
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
SPAN_DAYS = 365
# Share of finished runs by status, and of all runs by trigger; the active ones are a recent few.
FINISHED_MIX = ((RunStatus.COMPLETED, 0.90), (RunStatus.FAILED, 0.075), (RunStatus.CANCELLED, 0.025))
TRIGGER_MIX = (
    (Trigger.API, 0.45),
    (Trigger.SCHEDULE, 0.30),
    (Trigger.UI, 0.15),
    (Trigger.WEBHOOK, 0.08),
    (Trigger.BATCH, 0.02),
)
ACTIVE = {RunStatus.QUEUED: 40, RunStatus.RUNNING: 120, RunStatus.PAUSED: 400}
ERRORS = (
    "step 'fetch' failed: HTTP 503 from https://api.example.com/v2/items",
    "step 'summarize' failed: timed out after 30 s",
    "step 'review' failed: rejected: tone is off\nplease rewrite the second paragraph",
    "step 'route' failed: template '{{ input.kind }}' failed: 'dict object' has no attribute 'kind'",
)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _pick(mix: tuple[tuple[Any, float], ...], roll: float) -> Any:
    total = 0.0
    for value, share in mix:
        total += share
        if roll < total:
            return value
    return mix[-1][0]


@dataclass(frozen=True)
class Seeded:
    runs: int
    node_runs: int
    approvals: int
    seconds: float
    busiest_workflow: str
    quiet_workflow: str
    paused_workflow: str


def _run_rows(
    count: int, rng: random.Random, workflow_ids: list[str], weights: list[float]
) -> Iterator[tuple[Any, ...]]:
    """Runs oldest first: created over a year with traffic growing towards now; scheduled runs start on the
    minute, so many share a created_at exactly (the case keyset paging must get right)."""
    span = SPAN_DAYS * 86_400.0
    base = NOW - timedelta(days=SPAN_DAYS)
    offsets = sorted(span * (rng.random() ** 0.6) for _ in range(count))
    chosen = rng.choices(workflow_ids, weights=weights, k=count)
    active_left = dict(ACTIVE)
    for number, (offset, workflow_id) in enumerate(zip(offsets, chosen, strict=True)):
        trigger = _pick(TRIGGER_MIX, rng.random())
        created = base + timedelta(seconds=offset)
        if trigger is Trigger.SCHEDULE:
            created = created.replace(second=0, microsecond=0)
        status = _pick(FINISHED_MIX, rng.random())
        remaining = count - number
        if remaining <= 5_000:  # the newest few thousand hold the active runs
            for active, left in active_left.items():
                if left and rng.random() < left / remaining:
                    status = active
                    active_left[active] -= 1
                    break
        started = None if status is RunStatus.QUEUED else created + timedelta(seconds=rng.uniform(0.01, 2))
        finished = None
        if status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
            finished = (started or created) + timedelta(seconds=rng.expovariate(1 / 20))
        error = (
            rng.choice(ERRORS) if status is RunStatus.FAILED else "cancelled" if status is RunStatus.CANCELLED else None
        )
        stamp = _stamp(created)
        yield (
            f"wr-{rng.getrandbits(64):016x}",
            workflow_id,
            1 + rng.randrange(4),
            f"session-{number % 5000}",
            trigger.value,
            status.value,
            f'{{"topic": "weekly digest", "n": {number}}}',
            '{"summary": "done"}' if status is RunStatus.COMPLETED else "null",
            error,
            stamp,
            _stamp(finished or started or created),
            _stamp(started) if started else None,
            _stamp(finished) if finished else None,
            0,
        )


def seed_history(path: Path, *, runs: int = 1_000_000, nodes_per_run: int = 5, seed: int = 7) -> Seeded:
    """Migrate a new SQLite file at `path` and bulk-load a run history into it."""
    started = time.perf_counter()
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-400000; PRAGMA temp_store=MEMORY;"
    )
    stamp = _stamp(NOW - timedelta(days=SPAN_DAYS + 1))
    workflow_ids = [f"wf-{number:016x}" for number in range(1, WORKFLOWS + 1)]
    weights = [1 / (rank**0.9) for rank in range(1, WORKFLOWS + 1)]  # a few busy workflows, a long quiet tail
    keys = [f"step_{n}" for n in range(1, nodes_per_run + 1)]
    definition = json.dumps(
        {"nodes": [{"key": k, "agent_id": "transform", "name": f"Step {k[5:]}"} for k in keys], "edges": []}
    )
    with db:
        db.executemany(
            "INSERT INTO workflows (id, name, description, version, created_at, updated_at) VALUES (?, ?, '', 4, ?, ?)",
            [(wid, f"Workflow {n:02d}", stamp, stamp) for n, wid in enumerate(workflow_ids, start=1)],
        )
        db.executemany(
            "INSERT INTO workflow_versions (workflow_id, version, name, definition, created_at) VALUES (?, ?, ?, ?, ?)",
            [
                (wid, v, f"Workflow {n:02d}", definition, stamp)
                for n, wid in enumerate(workflow_ids, 1)
                for v in range(1, 5)
            ],
        )
    run_sql = (
        "INSERT INTO runs (id, workflow_id, workflow_version, session_id, trigger, status, input, output, error,"
        " created_at, updated_at, started_at, finished_at, cancel_requested) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    node_sql = (
        "INSERT INTO node_runs (run_id, node_key, status, attempt, step_order, input, output, error, handles, usage,"
        " started_at, finished_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, 'null', 'null', ?, ?)"
    )
    approval_sql = (
        "INSERT INTO approvals (id, run_id, node_key, status, proposal, output, decided_by, reason, created_at,"
        " decided_at, deadline_at, on_deadline) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 'wait')"
    )
    counts = {"runs": 0, "nodes": 0, "approvals": 0}
    paused_by_workflow: dict[str, int] = {}
    chunk: list[tuple[Any, ...]] = []

    def flush() -> None:
        nodes: list[tuple[Any, ...]] = []
        waiting: list[tuple[Any, ...]] = []
        for run in chunk:
            run_id, status, created, finished = run[0], run[5], run[9], run[12]
            last = nodes_per_run - 1
            for index, key in enumerate(keys):
                node_status = "COMPLETED"
                if index == last and status in ("FAILED", "CANCELLED", "RUNNING", "PAUSED", "QUEUED"):
                    node_status = {"PAUSED": "WAITING_APPROVAL", "QUEUED": "PENDING"}.get(status, status)
                nodes.append((run_id, key, node_status, index + 1, '{"n": 1}', '{"ok": true}', None, created, finished))
            if status == "PAUSED":
                paused_by_workflow[run[1]] = paused_by_workflow.get(run[1], 0) + 1
                proposal = '{"draft": "Dear team, this week we shipped the new runs page."}'
                waiting.append(
                    (f"ap-{run_id[3:]}", run_id, keys[-1], "PENDING", proposal, "null", None, created, None, None)
                )
        with db:
            db.executemany(run_sql, chunk)
            db.executemany(node_sql, nodes)
            db.executemany(approval_sql, waiting)
        counts["runs"] += len(chunk)
        counts["nodes"] += len(nodes)
        counts["approvals"] += len(waiting)
        chunk.clear()

    for row in _run_rows(runs, rng, workflow_ids, weights):
        chunk.append(row)
        if len(chunk) >= 50_000:
            flush()
    flush()
    db.close()
    return Seeded(
        runs=counts["runs"],
        node_runs=counts["nodes"],
        approvals=counts["approvals"],
        seconds=time.perf_counter() - started,
        busiest_workflow=workflow_ids[0],
        quiet_workflow=workflow_ids[-1],
        paused_workflow=max(paused_by_workflow, key=lambda w: paused_by_workflow[w]) if paused_by_workflow else "",
    )


async def _time(call: Callable[[], Awaitable[Any]], repeats: int) -> tuple[float, float, Any]:
    """Median and 95th percentile in milliseconds of `repeats` calls (after one warm-up), and the last result."""
    result = await call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, result


def _cases(seeded: Seeded) -> list[tuple[str, RunQuery]]:
    day = NOW - timedelta(days=1)
    quarter_ago = NOW - timedelta(days=90)
    return [
        ("first page, no filter", RunQuery()),
        ("status FAILED", RunQuery(statuses=[RunStatus.FAILED])),
        ("status PAUSED (rare)", RunQuery(statuses=[RunStatus.PAUSED])),
        ("status QUEUED+RUNNING+PAUSED", RunQuery(statuses=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED])),
        ("status FAILED+CANCELLED", RunQuery(statuses=[RunStatus.FAILED, RunStatus.CANCELLED])),
        ("busiest workflow", RunQuery(workflow_id=seeded.busiest_workflow)),
        ("quietest workflow", RunQuery(workflow_id=seeded.quiet_workflow)),
        ("trigger batch (rare)", RunQuery(triggers=[Trigger.BATCH])),
        ("trigger schedule", RunQuery(triggers=[Trigger.SCHEDULE])),
        ("last 24 hours", RunQuery(created_from=day)),
        ("one hour, 90 days ago", RunQuery(created_from=quarter_ago, created_to=quarter_ago + timedelta(hours=1))),
        ("busiest wf + FAILED", RunQuery(workflow_id=seeded.busiest_workflow, statuses=[RunStatus.FAILED])),
        ("quiet wf + QUEUED (no rows)", RunQuery(workflow_id=seeded.quiet_workflow, statuses=[RunStatus.QUEUED])),
        ("busiest wf + trigger batch", RunQuery(workflow_id=seeded.busiest_workflow, triggers=[Trigger.BATCH])),
        (
            "FAILED + webhook + 30 days",
            RunQuery(statuses=[RunStatus.FAILED], triggers=[Trigger.WEBHOOK], created_from=NOW - timedelta(days=30)),
        ),
        (
            "wf + FAILED + ui + one day",
            RunQuery(
                workflow_id=seeded.busiest_workflow,
                statuses=[RunStatus.FAILED],
                triggers=[Trigger.UI],
                created_from=quarter_ago,
                created_to=quarter_ago + timedelta(days=1),
            ),
        ),
        ("empty: range before any run", RunQuery(created_to=NOW - timedelta(days=SPAN_DAYS + 30))),
        ("unknown workflow", RunQuery(workflow_id="wf-missing")),
    ]


def _lister(flowyard: Flowyard, query: RunQuery) -> Callable[[], Awaitable[Any]]:
    return lambda: flowyard.runs.list_all(query, size=50)


async def run_history_benchmark(*, runs: int = 1_000_000, repeats: int = 15) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flowyard-history-") as tmp:
        root = Path(tmp)
        path = root / "history.db"
        seeded = seed_history(path, runs=runs)
        flowyard = Flowyard.open(Settings(data_dir=root, database_url=f"sqlite:///{path}"))
        rows: list[dict[str, Any]] = []
        try:  # the executor is not started: the seeded active runs stay as they are
            for name, query in _cases(seeded):
                median, p95, page = await _time(_lister(flowyard, query), repeats)
                rows.append({"query": name, "median_ms": median, "p95_ms": p95, "items": len(page.items)})
            first = await flowyard.runs.list_all(RunQuery(), size=50)
            cursor = first.next_cursor
            for _ in range(100):  # deep paging: the 101st page costs what the first does
                page = await flowyard.runs.list_all(RunQuery(), after=cursor, size=50)
                cursor = page.next_cursor
            median, p95, page = await _time(lambda: flowyard.runs.list_all(RunQuery(), after=cursor, size=50), repeats)
            rows.append({"query": "page 102, no filter", "median_ms": median, "p95_ms": p95, "items": len(page.items)})
            median, p95, page = await _time(lambda: flowyard.approvals.pending(size=50), repeats)
            rows.append(
                {"query": "approval inbox, first page", "median_ms": median, "p95_ms": p95, "items": len(page.items)}
            )
            median, p95, _ = await _time(flowyard.runs.active_counts, repeats)
            rows.append({"query": "header badge (active counts)", "median_ms": median, "p95_ms": p95, "items": 1})
        finally:
            await flowyard.close()
    for row in rows:
        row["met"] = row["p95_ms"] < TARGET_MS
    lines = [
        f"Flowyard run history benchmark: {seeded.runs:,} runs, {seeded.node_runs:,} step runs,"
        f" {seeded.approvals:,} pending approvals, {WORKFLOWS} workflows (SQLite; seeded in {seeded.seconds:.0f} s)",
        f"  {'query (page of 50)':<34} {'items':>5} {'median':>9} {'p95':>9}   target < {TARGET_MS:.0f} ms",
    ]
    for row in rows:
        mark = "ok " if row["met"] else "MISS"
        lines.append(
            f"  {row['query']:<34} {row['items']:>5} {row['median_ms']:>6.2f} ms {row['p95_ms']:>6.2f} ms   [{mark}]"
        )
    return {
        "runs": seeded.runs,
        "node_runs": seeded.node_runs,
        "pending_approvals": seeded.approvals,
        "seed_seconds": round(seeded.seconds, 1),
        "repeats": repeats,
        "target_ms": TARGET_MS,
        "queries": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
        "text": "\n".join(lines),
    }
