"""From a file's row to a run's input: which column feeds which input field, and as what type.

When the workflow declares an input schema (an object with fields), the mapping is
``{field: column}`` and a CSV cell, always text, becomes the field's type (integer, number,
boolean, or an object/array written as JSON). Without one, the mapping is ``{key: column}``, by
default every column under its own name, and the input is the row as it is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from app.engine.exceptions import InvalidInput
from app.engine.inputs import form_schema, input_problems
from app.models.batches import InputField

__all__ = [
    "MAX_CELL_ERRORS",
    "cell_errors",
    "check_mapping",
    "input_fields",
    "missing_required",
    "row_input",
    "suggest_mapping",
    "with_other_columns",
]

MAX_CELL_ERRORS = 20

_INTEGER = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


def _types(schema: Any) -> tuple[str, ...]:
    if not isinstance(schema, dict):
        return ()
    declared = schema.get("type")
    if isinstance(declared, str):
        return (declared,)
    if isinstance(declared, list):
        return tuple(t for t in declared if isinstance(t, str))
    found: list[str] = []
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key) or []:
            found.extend(t for t in _types(option) if t not in found)
    return tuple(found)


def input_fields(schemas: list[dict[str, Any]]) -> list[InputField] | None:
    """The workflow's input fields, or None when it takes free-form input (no object schema with fields)."""
    schema = form_schema(schemas)
    if schema is None:
        return None
    required = set(schema.get("required") or [])
    fields = []
    for name, spec in (schema.get("properties") or {}).items():
        types = _types(spec)
        fields.append(InputField(name=name, type=" or ".join(types), required=name in required, types=types))
    return fields


def with_other_columns(fields: list[InputField], columns: list[str]) -> list[InputField]:
    """`fields` (inferred from the templates), then every column that none of them takes, as it is: an inferred
    schema is open, and the steps may read the whole input."""
    taken = {_key(f.name) for f in fields}
    others = [InputField(name=c, type="", required=False) for c in columns if _key(c) not in taken]
    return [*fields, *others]


def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name).casefold()


def suggest_mapping(fields: list[InputField] | None, columns: list[str]) -> dict[str, str]:
    """Each input field paired with the column of the same name (ignoring case, spaces and punctuation);
    without fields, every column under its own name."""
    if fields is None:
        return {c: c for c in columns}
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_key(column), column)
    return {f.name: by_key[_key(f.name)] for f in fields if _key(f.name) in by_key}


def check_mapping(mapping: Any, *, fields: list[InputField] | None, columns: list[str]) -> dict[str, str]:
    """The mapping, if every key is an input and every value a column of the file. Raises InvalidInput("mapping")."""
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise InvalidInput("mapping", "must be an object of input names to column names")
    if not mapping:
        raise InvalidInput("mapping", "maps no column to an input")
    if fields is not None:
        names = [f.name for f in fields]
        for name in mapping:
            if name not in names:
                raise InvalidInput(
                    "mapping", f"'{name}' is not an input of this workflow (it takes {', '.join(names)})"
                )
    for name, column in mapping.items():
        if not name.strip():
            raise InvalidInput("mapping", "an input name is empty")
        if column not in columns:
            raise InvalidInput(
                "mapping", f"column '{column}' (for '{name}') is not in the file (its columns: {', '.join(columns)})"
            )
    return dict(mapping)


def missing_required(mapping: Mapping[str, str], fields: list[InputField] | None) -> list[str]:
    """Required inputs that no column feeds."""
    return [f.name for f in fields or [] if f.required and f.name not in mapping]


def row_input(
    values: Mapping[str, Any],
    mapping: Mapping[str, str],
    fields: list[InputField] | None,
    schemas: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[str]]:
    """The run input of one row and, if it cannot run, why (every problem, each naming its field)."""
    by_name = {f.name: f for f in fields or []}
    result: dict[str, Any] = {}
    problems: list[str] = []
    unreadable: set[str] = set()  # cells not of their field's type: said once, not again as missing
    for name, column in mapping.items():
        if column not in values:
            continue
        value = values[column]
        field = by_name.get(name)
        if field is not None and isinstance(value, str):
            converted, problem = _coerce(value, field)
            if problem:
                problems.append(f"{name}: {problem} (column '{column}')")
                unreadable.add(name)
                continue
            if converted is _OMIT:
                continue
            value = converted
        result[name] = value
    problems.extend(
        f"{field}: {message}" for field, message in input_problems(schemas, result) if field not in unreadable
    )
    return result, list(dict.fromkeys(problems))


def cell_errors(
    index: int, values: Mapping[str, Any], mapping: Mapping[str, str], fields: list[InputField] | None
) -> list[str]:
    """Every cell of row `index` (from 0) that is not its input's type: row, column, value and expected type."""
    by_name = {f.name: f for f in fields or []}
    found = []
    for name, column in mapping.items():
        field = by_name.get(name)
        value = values.get(column)
        if field is None or not isinstance(value, str):
            continue
        _, problem = _coerce(value, field)
        if problem:
            found.append(f"row {index + 1}, column '{column}': {problem}")
    return found


_OMIT = object()


def _coerce(text: str, field: InputField) -> tuple[Any, str | None]:
    """A CSV cell as the field's type. An empty cell is no value (the field is left out), except for text."""
    types = field.types
    if not types or "string" in types:
        if text == "" and not field.required:
            return _OMIT, None
        return text, None
    stripped = text.strip()
    if stripped == "":
        return _OMIT, None
    for name in types:
        parsed = _parse(stripped, name)
        if parsed is not _OMIT:
            return parsed, None
    return None, f"{json.dumps(text)} is not {_article(field.type)}"


def _parse(text: str, type_name: str) -> Any:
    if type_name == "integer" and _INTEGER.match(text):
        return int(text)
    if type_name == "number":
        if _INTEGER.match(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            return _OMIT
        return number if math.isfinite(number) else _OMIT
    if type_name == "boolean":
        lowered = text.casefold()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    if type_name == "null" and text.casefold() == "null":
        return None
    if type_name in ("object", "array"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return _OMIT
        if isinstance(value, dict if type_name == "object" else list):
            return value
    return _OMIT


def _article(type_text: str) -> str:
    first = type_text.split(" ", maxsplit=1)[0]
    return f"an {type_text}" if first[:1] in "aeiou" else f"a {type_text}"
