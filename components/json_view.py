"""`JsonView`: a value shown as a folding JSON tree, read-only, with a Copy button.

Plain data in: any JSON-able value (a string that is not JSON is shown as text, not as a quoted tree).
Given a `reference` (the template name of the value, e.g. `nodes.enrich.output`), each field's name is a button
that reports its reference (`nodes.enrich.output.score`) to `on_pick`, and drags as `{{ nodes.enrich.output.score }}`
into any text field or template editor.
The tree is plain HTML — nested `<details>` a keyboard and a screen reader already know how to fold — coloured
by CSS variables (`--fy-json-key`, `--fy-json-string`, …) that `assets/css/flowyard.css` sets for each theme.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

__all__ = ["JsonView", "json_tree_html", "reference_to"]

OPEN_DEPTH = 3
"""Objects and arrays nested deeper than this start folded."""

MAX_ROWS = 1500
"""Rows drawn at most; the rest is summarised (Copy still copies everything)."""


class JsonView(ui.column):
    def __init__(
        self,
        value: Any,
        *,
        empty: str = "Nothing",
        max_height: str = "22rem",
        reference: str | None = None,
        on_pick: Callable[[str], Any] | None = None,
    ) -> None:
        """A read-only view of `value`.

        :param value: any JSON-able value; a string is shown as text
        :param empty: what to say for None, "", {} or []
        :param max_height: the tree scrolls past this height
        :param reference: the value's name in a template (`input`, `nodes.enrich.output`): its fields then are
            buttons to pick, and drag, their references
        :param on_pick: called with a picked field's reference (`input.email`)
        """
        super().__init__()
        self.classes("fy-json w-full gap-0")
        self._empty = empty
        self._max_height = max_height
        self._reference = reference
        self._on_pick = on_pick
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
            tree = ui.html(json_tree_html(value, reference=self._reference), sanitize=False)
            tree.classes("fy-json__tree w-full").style(f"max-height: {self._max_height}")
            if self._reference is not None:
                tree.on("click", self._picked, js_handler=_PICK_JS)
                tree.on("dragstart", js_handler=_DRAG_JS)

    def _picked(self, event: Any) -> None:
        if self._on_pick is not None and isinstance(event.args, str):
            self._on_pick(event.args)


# a field's button reports its reference; dragged, it carries the whole expression as text
_PICK_JS = "(e) => { const b = e.target.closest('[data-ref]'); if (b) emit(b.dataset.ref); }"
_DRAG_JS = (
    "(e) => { const b = e.target.closest('[data-ref]'); if (!b) return; "
    "e.dataTransfer.setData('text/plain', '{{ ' + b.dataset.ref + ' }}'); e.dataTransfer.effectAllowed = 'copy'; }"
)
_PLAIN = frozenset(dir({}))  # names a dotted reference cannot use for a key: `input.items` is the dict's method


def reference_to(parent: str, key: str | int) -> str:
    """The template reference of `key` under `parent`: `input.email`, `input.tags[0]`, `input["first name"]`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if key.isidentifier() and key not in _PLAIN:
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"


def json_tree_html(value: Any, *, reference: str | None = None) -> str:
    """The value as nested HTML: `<details>` for objects and arrays, one row per scalar; all text escaped.

    With a `reference` (the value's name in a template), each scalar's name is a button carrying its reference.
    """
    budget = [MAX_ROWS]
    return _node(None, value, 0, budget, reference)


def _node(key: str | None, value: Any, depth: int, budget: list[int], ref: str | None) -> str:
    budget[0] -= 1
    label = (
        "" if key is None else f'<span class="fy-json__key">{html.escape(key)}</span><span class="fy-json__p">: </span>'
    )
    if isinstance(value, dict):
        items: list[tuple[str | None, Any, str | None]] = [
            (json.dumps(str(k), ensure_ascii=False), v, None if ref is None else reference_to(ref, str(k)))
            for k, v in value.items()
        ]
        return _container(label, "{", "}", f"{len(items)} key{'' if len(items) == 1 else 's'}", items, depth, budget)
    if isinstance(value, (list, tuple)):
        entries: list[tuple[str | None, Any, str | None]] = [
            (None, v, None if ref is None else reference_to(ref, i)) for i, v in enumerate(value)
        ]
        return _container(
            label, "[", "]", f"{len(entries)} item{'' if len(entries) == 1 else 's'}", entries, depth, budget
        )
    if ref is not None and depth > 0:  # a field to pick: its name is a button (an array item's, its index)
        shown = html.escape(key if key is not None else ref[ref.rindex("[") + 1 : -1])
        label = (
            f'<button type="button" class="fy-json__key fy-json__ref" data-ref="{html.escape(ref)}" draggable="true" '
            f'title="Insert {{{{ {html.escape(ref)} }}}}">{shown}</button><span class="fy-json__p">: </span>'
        )
    return f'<div class="fy-json__row">{label}{_scalar(value)}</div>'


def _container(
    label: str,
    opening: str,
    closing: str,
    count: str,
    items: list[tuple[str | None, Any, str | None]],
    depth: int,
    budget: list[int],
) -> str:
    if not items:
        return f'<div class="fy-json__row">{label}<span class="fy-json__p">{opening}{closing}</span></div>'
    rows = []
    for shown, (key, value, ref) in enumerate(items):
        if budget[0] <= 0:
            rows.append(
                f'<div class="fy-json__row fy-json__more">… {len(items) - shown} more (Copy has them all)</div>'
            )
            break
        rows.append(_node(key, value, depth + 1, budget, ref))
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
