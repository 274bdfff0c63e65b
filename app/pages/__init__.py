"""The browser UI: one module per page, all composed in the shared `frame()`."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["register_pages"]


def register_pages(api: FastAPI) -> None:
    """Declare every page; each reaches the app's services through `api.state.flowyard`."""
    from app.pages import home

    home.register(api)
