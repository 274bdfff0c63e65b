"""One decorator per page: `page(path, permission)` declares a page (in place of `ui.page`) behind a login.

Without a login the browser is sent to `/login`; without the permission the person sees why, in the shell,
not the page. `PAGE_RULES` lists every page with its permission, for the authorization matrix test.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app as nicegui_app
from nicegui import ui

from app.models.people import Permission
from app.pages.access import PRINCIPAL_KEY, forbidden_text, request_principal
from app.pages.layout import frame

__all__ = ["PAGE_RULES", "page"]

PAGE_RULES: dict[str, Permission | None] = {}
"""Every page behind a login, with the permission it needs (None: any logged-in person)."""


def page(path: str, permission: Permission | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`ui.page(path)` behind a login; `permission` (None: anyone logged in) is checked before it is built."""

    def decorator(build: Callable[..., Any]) -> Callable[..., Any]:
        PAGE_RULES[path] = permission
        wanted = inspect.signature(build).parameters

        @functools.wraps(build)
        async def guarded(request: Request, **kwargs: Any) -> Any:
            who = await request_principal(request)
            if who is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            nicegui_app.storage.client[PRINCIPAL_KEY] = who
            if permission is not None and not who.can(permission):
                with frame("Not allowed"), ui.column().classes("fy-empty").mark("forbidden"):
                    with ui.element("div").classes("fy-empty__icon"):
                        ui.icon("lock")
                    ui.label("This page is not for your role").classes("fy-empty__title")
                    ui.label(forbidden_text(who, permission)).classes("fy-empty__text")
                    start = "/workflows" if who.can(Permission.VIEW_WORKFLOWS) else "/inbox"
                    ui.link("Go to your start page", start).classes("fy-empty__link")
                return None
            arguments = {name: value for name, value in kwargs.items() if name in wanted}
            if "request" in wanted:
                arguments["request"] = request
            result = build(**arguments)
            return await result if inspect.isawaitable(result) else result

        parameters = [p for p in wanted.values() if p.name != "request"]
        request_parameter = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        guarded.__signature__ = inspect.Signature([*parameters, request_parameter])  # type: ignore[attr-defined]
        return ui.page(path)(guarded)

    return decorator
