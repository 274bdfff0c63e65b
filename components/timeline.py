"""`Timeline`: when each node of a run ran, as bars on one time axis.

Plain data in: a list of `{"key", "title", "status", "start", "end", "label"}` (datetimes; `end` None while
running, drawn up to `now`). Bars take their colour from the status (`--fy-status-<key>` CSS variables).
A step that did not start (`start` None) is listed after the bars with its `label` ("Queued", "Skipped",
"Not run") instead of a bar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from nicegui import ui

__all__ = ["Timeline", "duration_text"]


def duration_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class Timeline(ui.column):
    def __init__(self, *, status_key: Callable[[str], str], on_click: Callable[[str], Any] | None = None) -> None:
        super().__init__()
        self.classes("fy-timeline w-full gap-1")
        self._status_key = status_key
        self._on_click = on_click

    def set(self, items: list[dict[str, Any]], *, now: datetime) -> None:
        self.clear()
        started = [i for i in items if i.get("start") is not None]
        with self:
            if not started:
                ui.label("No step has started yet.").classes("text-sm text-gray-500")
                self._unstarted(items)
                return
            origin = min(i["start"] for i in started)
            end = max((i["end"] or now) for i in started)
            span = max((end - origin).total_seconds(), 0.001)
            for item in sorted(started, key=lambda i: (i["start"], i["key"])):
                finish = item["end"] or now
                offset = (item["start"] - origin).total_seconds() / span * 100
                width = max((finish - item["start"]).total_seconds() / span * 100, 0.4)
                seconds = (finish - item["start"]).total_seconds()
                key = self._status_key(item["status"])
                with ui.row().classes("fy-timeline__row w-full no-wrap items-center gap-2") as row:
                    ui.label(item["title"]).classes("fy-timeline__name text-sm truncate")
                    with ui.element("div").classes("fy-timeline__track grow"):
                        ui.element("div").classes(f"fy-timeline__bar fy-timeline__bar--{key}").style(
                            f"left: {offset:.2f}%; width: {min(width, 100 - offset):.2f}%"
                        )
                    ui.label(duration_text(seconds) + ("…" if item["end"] is None else "")).classes(
                        "fy-timeline__time text-xs text-gray-500"
                    )
                if self._on_click is not None:
                    row.classes("cursor-pointer").on("click", lambda _, k=item["key"]: self._on_click(k))
            self._unstarted(items)
            ui.label(f"Total {duration_text(span)}").classes("text-xs text-gray-500 self-end")

    def _unstarted(self, items: list[dict[str, Any]]) -> None:
        """The steps that did not start, in the order given, each with its label where a bar would be."""
        for item in (i for i in items if i.get("start") is None):
            key = self._status_key(item["status"])
            with ui.row().classes(
                f"fy-timeline__row fy-timeline__row--idle w-full no-wrap items-center gap-2 fy-timeline--{key}"
            ) as row:
                ui.label(item["title"]).classes("fy-timeline__name text-sm truncate fy-muted")
                ui.element("div").classes("fy-timeline__track grow")
                ui.label(item.get("label") or "").classes("fy-timeline__time text-xs fy-muted")
            row.props(f'data-status="{item["status"]}"')
            if self._on_click is not None:
                row.classes("cursor-pointer").on("click", lambda _, k=item["key"]: self._on_click(k))
