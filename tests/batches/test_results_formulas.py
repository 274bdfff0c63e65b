"""A batch's results CSV opens safely in a spreadsheet: no cell that a file or an output filled runs as a formula."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pytest

from app.engine.model import NodeSpec
from app.root import Flowyard
from app.services.batches.results import csv_lines
from tests.batches.helpers import csv_bytes, finished, workflow


@dataclass
class _Row:
    index: int
    status: str
    run_id: str | None
    raw: Any
    output: Any
    error: str | None = None


def _lines(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://evil.example")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]
)
def test_a_text_cell_that_a_spreadsheet_would_run_starts_with_a_quote(text: str) -> None:
    row = _Row(0, "COMPLETED", "wr-1", {"note": text}, {"answer": text})

    [_, line] = _lines(csv_lines(["note"], ["answer"], [row], header=True))

    assert line[3:5] == ["'" + text, "'" + text]


def test_headers_and_errors_are_guarded_too_and_numbers_and_plain_text_are_left_alone() -> None:
    rows = [
        _Row(0, "COMPLETED", "wr-1", {"=cmd": "Ada"}, {"@score": -3, "plain": "a=b", "list": [-1]}),
        _Row(1, "FAILED", "wr-2", {"=cmd": "Bob"}, None, error="-step 'x' failed"),
    ]

    [header, first, second] = _lines(csv_lines(["=cmd"], ["@score", "plain", "list"], rows, header=True))

    assert header == ["row", "status", "run_id", "'=cmd", "'@score", "plain", "list", "error"]
    assert first[3:] == ["Ada", "-3", "a=b", "[-1]", ""]
    assert second[-1] == "'-step 'x' failed"


async def test_results_csv_of_a_batch_escapes_formulas_from_the_file_and_the_outputs(flowyard: Flowyard) -> None:
    workflow_id = await workflow(
        flowyard, NodeSpec(key="echo", agent_id="transform", action="{{ {'said': input.cell, 'n': -1} }}")
    )
    content = csv_bytes(["cell"], [["=1+1"], ["@A1"], ["fine"]])
    batch = await flowyard.batches.create(
        workflow_id, filename="x.csv", content=content, mapping=None, output_fields=["said", "n"]
    )
    await finished(flowyard, batch.id)

    text = "".join([chunk async for chunk in flowyard.batches.results_csv(batch.id)])

    assert [line[3:6] for line in _lines(text)[1:]] == [
        ["'=1+1", "'=1+1", "-1"],
        ["'@A1", "'@A1", "-1"],
        ["fine", "fine", "-1"],
    ]
