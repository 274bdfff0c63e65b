"""From rows to run inputs: the workflow's input fields, the suggested mapping, CSV text made typed, the preview."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.exceptions import InvalidInput
from app.engine.model import NodeSpec
from app.root import Flowyard
from app.services.batches.mapping import check_mapping, input_fields, row_input, suggest_mapping
from tests.batches.helpers import csv_bytes, workflow

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "score": {"type": "number"},
        "active": {"type": "boolean"},
        "tags": {"type": "array"},
        "meta": {"type": "object"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_input_fields_come_from_the_schema_with_type_and_required() -> None:
    fields = input_fields([SCHEMA])

    assert fields is not None
    assert [(f.name, f.type, f.required) for f in fields] == [
        ("name", "string", True),
        ("age", "integer", True),
        ("score", "number", False),
        ("active", "boolean", False),
        ("tags", "array", False),
        ("meta", "object", False),
        ("note", "string or null", False),
    ]
    assert input_fields([]) is None


def test_suggested_mapping_pairs_fields_and_columns_by_name_ignoring_case() -> None:
    fields = input_fields([SCHEMA])

    assert suggest_mapping(fields, ["NAME", "Age", "Active", "other"]) == {
        "name": "NAME",
        "age": "Age",
        "active": "Active",
    }
    assert suggest_mapping(None, ["a", "b"]) == {"a": "a", "b": "b"}


def test_csv_text_becomes_the_fields_type() -> None:
    fields = input_fields([SCHEMA])
    mapping = {f.name: f.name.upper() for f in fields or []}
    row = {
        "NAME": "Ada",
        "AGE": " 36 ",
        "SCORE": "9.5",
        "ACTIVE": "Yes",
        "TAGS": '["a", "b"]',
        "META": '{"k": 1}',
        "NOTE": "",
    }

    value, problems = row_input(row, mapping, fields, [SCHEMA])

    assert problems == []
    assert value == {"name": "Ada", "age": 36, "score": 9.5, "active": True, "tags": ["a", "b"], "meta": {"k": 1}}


def test_text_that_is_not_the_fields_type_is_a_problem_naming_field_and_column() -> None:
    fields = input_fields([SCHEMA])

    value, problems = row_input(
        {"n": "Ada", "a": "thirty", "t": "{not json"}, {"name": "n", "age": "a", "tags": "t"}, fields, [SCHEMA]
    )

    assert problems == [
        "age: \"thirty\" is not an integer (column 'a')",
        "tags: \"{not json\" is not an array (column 't')",
    ]  # (a required field whose cell is unreadable is not said to be missing too)
    assert value == {"name": "Ada"}


def test_a_mapping_naming_an_unknown_input_or_column_is_refused() -> None:
    fields = input_fields([SCHEMA])

    with pytest.raises(InvalidInput) as unknown_input:
        check_mapping({"phone": "a"}, fields=fields, columns=["a"])
    with pytest.raises(InvalidInput) as unknown_column:
        check_mapping({"name": "b"}, fields=fields, columns=["a"])

    assert unknown_input.value.field == "mapping"
    assert "'phone' is not an input of this workflow" in unknown_input.value.message
    assert unknown_column.value.field == "mapping"
    assert "column 'b' (for 'name') is not in the file" in unknown_column.value.message


async def test_preview_shows_fields_suggested_mapping_first_rows_and_invalid_count(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))
    content = csv_bytes(["E-Mail", "Company"], [["ada@analytical.org", "Analytical"], ["", "Nobody"], ["b@c.d", ""]])

    preview = await flowyard.batches.preview(workflow_id, filename="leads.csv", content=content, limit=2)

    assert [(f.name, f.type, f.required) for f in preview.fields] == [
        ("email", "string", True),
        ("company", "string or null", False),
    ]
    assert preview.free_form is False
    assert preview.suggested_mapping == {"email": "E-Mail", "company": "Company"}
    assert preview.mapping == preview.suggested_mapping
    assert preview.total == 3
    assert preview.invalid == 0
    assert [(r.index, r.input, r.problems) for r in preview.rows] == [
        (0, {"email": "ada@analytical.org", "company": "Analytical"}, []),
        (1, {"email": "", "company": "Nobody"}, []),
    ]


async def test_preview_with_a_mapping_that_misses_a_required_input_says_so(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="enrich", agent_id="enrich"))
    content = csv_bytes(["mail", "org"], [["a@b.c", "Acme"]])

    preview = await flowyard.batches.preview(
        workflow_id, filename="leads.csv", content=content, mapping={"company": "org"}
    )

    assert preview.suggested_mapping == {}
    assert preview.mapping_problems == ["the required input 'email' has no column"]
    assert preview.rows[0].problems == ["email: is required"]
    assert preview.invalid == 1


async def test_preview_without_an_input_schema_maps_every_column_under_its_name(flowyard: Flowyard) -> None:
    workflow_id = await workflow(flowyard, NodeSpec(key="t", agent_id="transform", action="{{ input }}"))

    preview = await flowyard.batches.preview(
        workflow_id, filename="x.jsonl", content=b'{"a": 1, "b": [2]}\n{"a": 3}\n"text"\n'
    )

    assert preview.free_form is True
    assert [f.name for f in preview.fields] == ["a", "b"]
    assert preview.mapping == {"a": "a", "b": "b"}
    assert [(r.input, r.problems) for r in preview.rows] == [
        ({"a": 1, "b": [2]}, []),
        ({"a": 3}, []),
        (None, ["line 3: is a string, not a JSON object"]),
    ]
    assert preview.invalid == 1
