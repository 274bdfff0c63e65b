"""`JsonView`: a value shown as a folding JSON tree, read-only, with a Copy button.

Plain data in: any JSON-able value (a string that is not JSON is shown as text, not as a quoted tree).
"""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

__all__ = ["JsonView"]


class JsonView(ui.column):
    def __init__(self, value: Any, *, empty: str = "Nothing", max_height: str = "22rem") -> None:
        super().__init__()
        self.classes("fy-json w-full gap-0")
        self._empty = empty
        self._max_height = max_height
        self.set(value)

    def set(self, value: Any) -> None:
        self.clear()
        with self:
            if value is None or value in ("", {}, []):
                ui.label(self._empty).classes("text-sm text-gray-500 italic")
                return
            text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
            with ui.row().classes("fy-json__bar w-full justify-end"):
                ui.button(icon="content_copy", on_click=lambda: ui.clipboard.write(text)).props(
                    "flat dense round size=sm"
                ).tooltip("Copy")
            if isinstance(value, str):
                ui.label(value).classes("fy-json__text w-full text-sm font-mono whitespace-pre-wrap")
                return
            ui.json_editor(
                {"content": {"json": value}, "readOnly": True, "mainMenuBar": False, "navigationBar": False},
            ).classes("fy-json__tree w-full").style(f"max-height: {self._max_height}")
