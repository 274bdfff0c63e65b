"""CSV cells typed by the input schema inferred from the templates; a cell of the wrong type starts nothing."""

from __future__ import annotations

import pytest

from app.engine.exceptions import InvalidInput
from app.engine.model import NodeSpec
from app.root import Flowyard
from app.services.batches.mapping import cell_errors, input_fields
from tests.batches.helpers import csv_bytes, finished, workflow

SHARE = "{{ {'who': input.name, 'share': 100 // input.n, 'vip': input.vip == true} }}"


def test_cell_errors_name_row_column_value_and_type() -> None:
    fields = input_fields([{"type": "object", "properties": {"n": {"type": "number"}, "on": {"type": "boolean"}}}])

    found = cell_errors(2, {"N": "four", "On": "maybe"}, {"n": "N", "on": "On"}, fields)

    assert found == [
        "row 3, column 'N': \"four\" is not a number",
        "row 3, column 'On': \"maybe\" is not a boolean",
    ]


async def test_cells_become_the_types_the_templates_use_and_other_columns_go_along(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="share", agent_id="transform", action=SHARE))
    content = csv_bytes(["Name", "n", "vip", "note"], [["Ada", "4", "yes", "first"], ["Bob", "5", "no", ""]])

    preview = await flowyard.batches.preview(workflow_id, filename="people.csv", content=content)

    assert [(f.name, f.type, f.required) for f in preview.fields] == [
        ("name", "string", True),
        ("n", "number", True),
        ("vip", "boolean", True),
        ("note", "", False),
    ]
    assert preview.mapping == {"name": "Name", "n": "n", "vip": "vip", "note": "note"}
    assert preview.rows[0].input == {"name": "Ada", "n": 4, "vip": True, "note": "first"}
    assert preview.cell_errors == []

    batch = await flowyard.batches.create(workflow_id, filename="people.csv", content=content, mapping=None)
    done = await finished(flowyard, batch.id)

    assert done.counts["COMPLETED"] == 2
    rows = await flowyard.batches.rows(batch.id)
    assert rows[0].output == {"who": "Ada", "share": 25, "vip": True}


async def test_a_cell_of_the_wrong_type_is_named_and_nothing_starts(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="share", agent_id="transform", action=SHARE))
    content = csv_bytes(["name", "n", "vip"], [["Ada", "4", "yes"], ["Bob", "four", "no"], ["Cy", "2", "perhaps"]])

    preview = await flowyard.batches.preview(workflow_id, filename="people.csv", content=content)
    with pytest.raises(InvalidInput) as refused:
        await flowyard.batches.create(workflow_id, filename="people.csv", content=content, mapping=None)

    assert preview.cell_errors == [
        "row 2, column 'n': \"four\" is not a number",
        "row 3, column 'vip': \"perhaps\" is not a boolean",
    ]
    assert refused.value.field == "file"
    assert "row 2, column 'n': \"four\" is not a number" in refused.value.message
    assert await flowyard.batches.list(workflow_id) == []
