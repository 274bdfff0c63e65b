"""`/`: the workflows are the front door."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

__all__ = ["register"]


def register() -> None:
    @ui.page("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/workflows")
