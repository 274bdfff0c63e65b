"""A small batch on PostgreSQL: the same rows, runs, counts and results as on SQLite."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from app.engine.model import NodeSpec
from app.root import Flowyard
from app.settings import Settings
from tests.batches.helpers import csv_bytes, finished, workflow


@pytest.mark.postgres
async def test_a_batch_with_good_and_bad_rows_runs_on_postgresql(migrated_postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=migrated_postgres_url, lease_seconds=5, recovery_interval_seconds=0.5
    )
    flowyard = Flowyard.open(settings)
    await flowyard.start()
    try:
        workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))
        content = csv_bytes(["email"], [["ada@analytical.org"], ["bob@acme.io"], ["cy@x.org"], ["dee@y.org"]])
        content += b"1,2\n"  # more fields than the header: a bad row

        batch = await flowyard.batches.create(
            workflow_id, filename="leads.csv", content=content, mapping=None, concurrency=2, output_fields=["domain"]
        )
        done = await finished(flowyard, batch.id)
        text = "".join([chunk async for chunk in flowyard.batches.results_csv(batch.id)])
        listed = await flowyard.batches.list(workflow_id)
    finally:
        await flowyard.close()

    assert done.status == "FINISHED"
    assert (done.counts["COMPLETED"], done.counts["INVALID"], done.counts["done"]) == (4, 1, 5)
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["row", "status", "run_id", "email", "domain", "error"]
    assert [line[4] for line in lines[1:5]] == ["analytical.org", "acme.io", "x.org", "y.org"]
    assert lines[5][:2] == ["5", "INVALID"] and lines[5][5] == "line 6: has 2 fields, the header has 1"
    assert [b.id for b in listed] == [batch.id]
