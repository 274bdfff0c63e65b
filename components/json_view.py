"""`JsonView`: a value shown as a folding JSON tree, read-only, with a Copy button.

Plain data in: any JSON-able value (a string that is not JSON is shown as text, not as a quoted tree).
The tree is plain HTML — nested `<details>` a keyboard and a screen reader already know how to fold — coloured
by CSS variables (`--fy-json-key`, `--fy-json-string`, …) that `assets/css/flowyard.css` sets for each theme.
"""

from __future__ import annotations

import html
import json
from typing import Any

from nicegui import ui

__all__ = ["JsonView", "json_tree_html"]

OPEN_DEPTH = 3
"""Objects and arrays nested deeper than this start folded."""

MAX_ROWS = 1500
"""Rows drawn at most; the rest is summarised (Copy still copies everything)."""


class JsonView(ui.column):
    def __init__(self, value: Any, *, empty: str = "Nothing", max_height: str = "22rem") -> None:
        """A read-only view of `value`.

        :param value: any JSON-able value; a string is shown as text
        :param empty: what to say for None, "", {} or []
        :param max_height: the tree scrolls past this height
        """
        super().__init__()
        self.classes("fy-json w-full gap-0")
        self._empty = empty
        self._max_height = max_height
        self.set(value)

    def set(self, value: Any) -> None:
        self.clear()
        with self:
            if value is None or value in ("", {}, []):
                ui.label(self._empty).classes("fy-json__empty")
                return
            text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
            with ui.row().classes("fy-json__bar w-full justify-end"):
                ui.button(icon="content_copy", on_click=lambda: ui.clipboard.write(text)).props(
                    'flat dense round size=sm aria-label="Copy"'
                ).tooltip("Copy")
            if isinstance(value, str):
                ui.label(value).classes("fy-json__text w-full whitespace-pre-wrap")
                return
            # every piece of the value is escaped by json_tree_html, so no client-side sanitising is needed
            ui.html(json_tree_html(value), sanitize=False).classes("fy-json__tree w-full").style(
                f"max-height: {self._max_height}"
            )


def json_tree_html(value: Any) -> str:
    """The value as nested HTML: `<details>` for objects and arrays, one row per scalar; all text escaped."""
    budget = [MAX_ROWS]
    return _node(None, value, 0, budget)


def _node(key: str | None, value: Any, depth: int, budget: list[int]) -> str:
    budget[0] -= 1
    label = (
        "" if key is None else f'<span class="fy-json__key">{html.escape(key)}</span><span class="fy-json__p">: </span>'
    )
    if isinstance(value, dict):
        items: list[tuple[str | None, Any]] = [(json.dumps(str(k), ensure_ascii=False), v) for k, v in value.items()]
        return _container(label, "{", "}", f"{len(items)} key{'' if len(items) == 1 else 's'}", items, depth, budget)
    if isinstance(value, (list, tuple)):
        entries: list[tuple[str | None, Any]] = [(None, v) for v in value]
        return _container(
            label, "[", "]", f"{len(entries)} item{'' if len(entries) == 1 else 's'}", entries, depth, budget
        )
    return f'<div class="fy-json__row">{label}{_scalar(value)}</div>'


def _container(
    label: str,
    opening: str,
    closing: str,
    count: str,
    items: list[tuple[str | None, Any]],
    depth: int,
    budget: list[int],
) -> str:
    if not items:
        return f'<div class="fy-json__row">{label}<span class="fy-json__p">{opening}{closing}</span></div>'
    rows = []
    for shown, (key, value) in enumerate(items):
        if budget[0] <= 0:
            rows.append(
                f'<div class="fy-json__row fy-json__more">… {len(items) - shown} more (Copy has them all)</div>'
            )
            break
        rows.append(_node(key, value, depth + 1, budget))
    state = " open" if depth < OPEN_DEPTH else ""
    return (
        f'<details class="fy-json__node"{state}><summary>{label}<span class="fy-json__p">{opening}</span>'
        f'<span class="fy-json__count"> {count} {closing}</span></summary>'
        f'<div class="fy-json__children">{"".join(rows)}</div>'
        f'<div class="fy-json__p fy-json__close">{closing}</div></details>'
    )


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        kind, text = "literal", json.dumps(value)
    elif isinstance(value, (int, float)):
        kind, text = "number", json.dumps(value)
    elif isinstance(value, str):
        kind, text = "string", json.dumps(value, ensure_ascii=False)
    else:
        kind, text = "string", json.dumps(str(value), ensure_ascii=False)
    return f'<span class="fy-json__{kind}">{html.escape(text)}</span>'
