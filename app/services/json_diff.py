"""What an approver changed: a proposal against its edited output, as the approval pages show it.

Two readings of the same change: `json_changes` lists each changed JSON path with its value
before and after (for a table), `text_diff` is a unified diff of the pretty-printed JSON (for a
code view). Both take any JSON value (objects, lists, strings, numbers, null).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["MISSING", "JsonChange", "json_changes", "text_diff"]


class _Missing:
    """The value on the side of a change where the path does not exist."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class JsonChange:
    """One changed place. `path` is "$" for the whole value, else like "$.body.items[2].title"."""

    path: str
    kind: Literal["added", "removed", "changed"]
    before: Any
    """The proposal's value there, or MISSING when it was added."""
    after: Any
    """The edited value there, or MISSING when it was removed."""


def _key_path(path: str, key: str) -> str:
    plain = key.isidentifier()
    return f"{path}.{key}" if plain else f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _walk(before: Any, after: Any, path: str, out: list[JsonChange]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            child = _key_path(path, str(key))
            if key in after:
                _walk(before[key], after[key], child, out)
            else:
                out.append(JsonChange(child, "removed", before[key], MISSING))
        for key in after:
            if key not in before:
                out.append(JsonChange(_key_path(path, str(key)), "added", MISSING, after[key]))
        return
    if isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            child = f"{path}[{index}]"
            if index >= len(after):
                out.append(JsonChange(child, "removed", before[index], MISSING))
            elif index >= len(before):
                out.append(JsonChange(child, "added", MISSING, after[index]))
            else:
                _walk(before[index], after[index], child, out)
        return
    # bool is an int in Python: True == 1, yet JSON tells them apart, and so does the approver.
    if type(before) is not type(after) or before != after:
        out.append(JsonChange(path, "changed", before, after))


def json_changes(before: Any, after: Any) -> list[JsonChange]:
    """Every path where `after` differs from `before`, in document order; empty when they are equal."""
    out: list[JsonChange] = []
    _walk(before, after, "$", out)
    return out


def _pretty(value: Any) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str).splitlines()


def text_diff(before: Any, after: Any, *, context: int = 3) -> str:
    """A unified diff of the two values as pretty JSON (keys sorted), "" when they are equal."""
    lines = difflib.unified_diff(
        _pretty(before), _pretty(after), fromfile="proposal", tofile="edited", n=context, lineterm=""
    )
    return "\n".join(lines)
