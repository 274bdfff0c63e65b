"""A batch's results as CSV: one line per row of the file, with the output fields picked from each run.

Columns: ``row`` (the row's number in the file, from 1), ``status``, ``run_id``, the file's own
columns, one column per output field, then ``error``. An output field is a dotted path into the
run's output (``summary``, ``result.score``); the field ``output`` is the whole output, which is
what a workflow whose outputs are not objects gets. Objects and lists are written as JSON text.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or TAB or CR before one) as a
formula, and the cells here hold what uploaded files and runs' outputs said: every such text cell,
headers included, starts with a single quote instead, as OWASP advises for CSV files. Numbers are
written as they are (``-3`` is a number, not a formula).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

__all__ = ["WHOLE_OUTPUT", "csv_lines", "field_options", "output_value", "parse_fields"]

WHOLE_OUTPUT = "output"
MAX_FIELDS = 100


def parse_fields(fields: Iterable[str] | None) -> list[str] | None:
    """Field paths without blanks or repeats (None stays None: pick them from the outputs)."""
    if fields is None:
        return None
    return list(dict.fromkeys(f.strip() for f in fields if f and f.strip()))


def output_value(output: Any, path: str) -> Any:
    """The value at the dotted `path` of `output` (None where the path leads nowhere)."""
    if path == WHOLE_OUTPUT and not (isinstance(output, dict) and WHOLE_OUTPUT in output):
        return output
    value = output
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(text: str) -> str:
    """The text, made safe to open in a spreadsheet: never read as a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int | float):  # bool too: true, false
        return json.dumps(value)
    return _text(json.dumps(value, ensure_ascii=False))


def _values(raw: Any, columns: list[str]) -> dict[str, Any]:
    """A row's values by column: a bad CSV row was kept as its list of fields, a bad JSON line as its text."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, list):
        return dict(zip(columns, raw, strict=False))
    return {}


def field_options(outputs: Iterable[Any]) -> list[str]:
    """The top-level keys of the outputs, in the order first seen; ["output"] when none is an object."""
    keys: dict[str, None] = {}
    seen = False
    for output in outputs:
        seen = True
        if isinstance(output, dict):
            keys.update(dict.fromkeys(str(k) for k in output))
    if keys:
        return list(keys)
    return [WHOLE_OUTPUT] if seen else []


def csv_lines(columns: list[str], fields: list[str], rows: Iterable[Any], *, header: bool) -> str:
    """CSV text of `rows` (records with index, status, run_id, raw, output, error), after the header if asked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(["row", "status", "run_id", *map(_text, columns), *map(_text, fields), "error"])
    for row in rows:
        raw = _values(row.raw, columns)
        writer.writerow(
            [
                row.index + 1,
                row.status,
                row.run_id or "",
                *(_cell(raw.get(c)) for c in columns),
                *(_cell(output_value(row.output, f)) if row.status == "COMPLETED" else "" for f in fields),
                _text(row.error or ""),
            ]
        )
    return buffer.getvalue()
