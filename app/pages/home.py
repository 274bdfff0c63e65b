"""`/`: the workflows are the front door; an approver's is the inbox."""

from __future__ import annotations

from fastapi.responses import RedirectResponse

from app.models.people import Permission
from app.pages import access, guard

__all__ = ["register"]


def register() -> None:
    @guard.page("/")
    def home() -> RedirectResponse:
        start = "/workflows" if access.principal().can(Permission.VIEW_WORKFLOWS) else "/inbox"
        return RedirectResponse(start)
