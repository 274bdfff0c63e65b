"""Reading an uploaded batch file: CSV (header row first) or JSON lines (one object per line).

A file that cannot be a batch at all (not UTF-8, empty, no header, two columns with one name, too
many rows) is refused naming the `file` field. A row that is wrong on its own (a JSON line that is
not an object, a CSV row with more fields than the header) is kept as a bad row that says why, so
the rest of the file can still run.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from app.engine.exceptions import InvalidInput

__all__ = ["ParsedFile", "ParsedRow", "parse_file"]

JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class ParsedRow:
    """One data row, numbered from 0 in file order. `values` is None for a bad row, with `problem` saying why.

    `raw` is the row as read: its values by column, or for a bad row its CSV fields (a list) or its line (text).
    """

    index: int
    line: int
    raw: Any
    values: dict[str, Any] | None
    problem: str | None = None


@dataclass(frozen=True)
class ParsedFile:
    format: str  # "csv" or "jsonl"
    columns: list[str]
    rows: list[ParsedRow]


def parse_file(filename: str, content: bytes, *, max_rows: int) -> ParsedFile:
    """The file's columns and rows. Raises InvalidInput("file", ...) when it cannot be a batch."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"is not UTF-8 text (byte {exc.start} cannot be read)") from None
    if not text.strip():
        raise InvalidInput("file", "is empty")
    if _is_jsonl(filename, text):
        parsed = _jsonl(text)
    else:
        parsed = _csv(text)
    if not parsed.rows:
        raise InvalidInput("file", "has no rows")
    if len(parsed.rows) > max_rows:
        raise InvalidInput("file", f"has {len(parsed.rows)} rows; a batch takes at most {max_rows}")
    return parsed


def _is_jsonl(filename: str, text: str) -> bool:
    name = filename.lower()
    if name.endswith(".csv") or name.endswith(".tsv"):
        return False
    if name.endswith(JSONL_SUFFIXES):
        return True
    return text.lstrip().startswith("{")


def _csv(text: str) -> ParsedFile:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[ParsedRow] = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # blank lines (and lines of empty cells) are not rows
            if header is None:
                header = _header(record)
                continue
            line = reader.line_num
            raw = dict(zip(header, record, strict=False))
            index = len(rows)
            if len(record) > len(header):
                extra = f"has {len(record)} fields, the header has {len(header)}"
                rows.append(ParsedRow(index, line, record, None, f"line {line}: {extra}"))
                continue
            raw.update({name: "" for name in header[len(record) :]})
            rows.append(ParsedRow(index, line, raw, raw))
    except csv.Error as exc:
        raise InvalidInput("file", f"is not a readable CSV file (line {reader.line_num}: {exc})") from None
    if header is None:
        raise InvalidInput("file", "has no header row")
    return ParsedFile("csv", header, rows)


def _header(record: list[str]) -> list[str]:
    names = [cell.strip() for cell in record]
    for number, name in enumerate(names, start=1):
        if not name:
            raise InvalidInput("file", f"column {number} of the header row has no name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput("file", f"the header names column(s) {', '.join(map(repr, duplicates))} more than once")
    return names


def _jsonl(text: str) -> ParsedFile:
    columns: dict[str, None] = {}
    rows: list[ParsedRow] = []
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        index = len(rows)
        try:
            value = json.loads(content)
        except json.JSONDecodeError as exc:
            rows.append(ParsedRow(index, line, content, None, f"line {line}: not JSON ({exc.msg})"))
            continue
        if not isinstance(value, dict):
            rows.append(ParsedRow(index, line, content, None, f"line {line}: is {_kind(value)}, not a JSON object"))
            continue
        columns.update(dict.fromkeys(value))
        rows.append(ParsedRow(index, line, value, value))
    return ParsedFile("jsonl", list(columns), rows)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
