"""Reading batch files: CSV with or without a BOM, quoted fields, blank lines; JSON lines; files refused."""

from __future__ import annotations

import pytest

from app.engine.exceptions import InvalidInput
from app.services.batches.files import parse_file


def test_csv_with_bom_quotes_and_blank_lines_gives_rows_under_the_header() -> None:
    content = '\ufeffname,note\r\n"Lovelace, Ada","said ""hi""\nthen left"\r\n\r\nBob,\r\n\r\n'.encode()

    parsed = parse_file("people.csv", content, max_rows=10)

    assert parsed.format == "csv"
    assert parsed.columns == ["name", "note"]
    assert [r.values for r in parsed.rows] == [
        {"name": "Lovelace, Ada", "note": 'said "hi"\nthen left'},
        {"name": "Bob", "note": ""},
    ]
    assert [r.index for r in parsed.rows] == [0, 1]


def test_csv_row_with_more_fields_than_the_header_is_a_bad_row_naming_its_line() -> None:
    parsed = parse_file("x.csv", b"a,b\n1,2\n1,2,3\n4\n", max_rows=10)

    assert parsed.rows[1].values is None
    assert parsed.rows[1].problem == "line 3: has 3 fields, the header has 2"
    assert parsed.rows[2].values == {"a": "4", "b": ""}


def test_json_lines_rows_are_objects_and_other_lines_are_bad_rows() -> None:
    content = b'{"email": "a@b.c", "n": 1}\n\n[1, 2]\n{"email": "d@e.f", "extra": {"x": 1}}\nnot json\n'

    parsed = parse_file("leads.jsonl", content, max_rows=10)

    assert parsed.format == "jsonl"
    assert parsed.columns == ["email", "n", "extra"]
    assert parsed.rows[0].values == {"email": "a@b.c", "n": 1}
    assert parsed.rows[1].problem == "line 3: is an array, not a JSON object"
    assert parsed.rows[2].values == {"email": "d@e.f", "extra": {"x": 1}}
    assert parsed.rows[3].problem is not None and parsed.rows[3].problem.startswith("line 5: not JSON")


def test_a_file_without_a_known_suffix_is_read_as_json_lines_when_it_starts_with_an_object() -> None:
    assert parse_file("upload", b'{"a": 1}\n', max_rows=10).format == "jsonl"
    assert parse_file("upload", b"a\n1\n", max_rows=10).format == "csv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n \r\n", "is empty"),
        (b"name,email\n", "has no rows"),
        (b"name,name\n1,2\n", "the header names column(s) 'name' more than once"),
        (b"name,,email\n1,2,3\n", "column 2 of the header row has no name"),
        ("name\ncaf\xe9\n".encode("latin-1"), "is not UTF-8 text"),
        (b'a,b\n"open,1\n', "is not a readable CSV file"),
    ],
)
def test_files_that_cannot_be_a_batch_are_refused_naming_the_file(content: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_file("x.csv", content, max_rows=10)

    assert refused.value.field == "file"
    assert message in refused.value.message


def test_a_file_over_the_row_limit_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_file("x.csv", b"a\n" + b"1\n" * 4, max_rows=3)

    assert refused.value.message == "has 4 rows; a batch takes at most 3"
