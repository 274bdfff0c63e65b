"""Who is looking at a page, and what they may do there.

A page declared with `app.pages.guard.page` keeps its principal with its client, so handlers ask
`allowed(permission)` before they act (on the server: a hidden button is only presentation).
"""

from __future__ import annotations

from fastapi import Request
from nicegui import app as nicegui_app
from nicegui import ui

from app.models.people import Permission, Principal
from app.pages.context import services

__all__ = ["LOGIN_COOKIE", "PRINCIPAL_KEY", "allowed", "forbidden_text", "may", "principal", "request_principal"]

LOGIN_COOKIE = "flowyard_login"
PRINCIPAL_KEY = "principal"


async def request_principal(request: Request) -> Principal | None:
    """Who sent this request: their open login (cookie), or the trusted proxy's user header when configured."""
    flowyard = services()
    ip = request.client.host if request.client else None
    found = await flowyard.logins.principal(request.cookies.get(LOGIN_COOKIE), ip=ip)
    header = flowyard.settings.trusted_user_header
    if found is None and header and (email := request.headers.get(header)):
        user = await flowyard.users.by_email(email)
        found = await flowyard.users.principal(user.id, ip=ip) if user else None
    return found


def principal() -> Principal:
    """Whoever the current page was opened by (a page declared with `page` always has one)."""
    found = nicegui_app.storage.client.get(PRINCIPAL_KEY)
    if not isinstance(found, Principal):
        raise RuntimeError("this page was not opened through app.pages.access.page")
    return found


def allowed(permission: Permission, *, quiet: bool = False) -> bool:
    """Whether the page's person may do what needs `permission`; if not, say so (unless `quiet`)."""
    if principal().can(permission):
        return True
    if not quiet:
        ui.notify(forbidden_text(principal(), permission), type="warning")
    return False


async def may(permission: Permission) -> bool:
    """`allowed`, after asking the database again who the page's person is now: a login that ended (logged
    out, expired, deactivated, password changed) is sent to the login page, and a changed role counts at once.

    Handlers that change something ask this, not `allowed`: a page can stay open long after it was built.
    """
    request = ui.context.client.request
    fresh = await request_principal(request) if request is not None else None
    if fresh is None:
        ui.notify("Your login has ended: log in again.", type="warning")
        ui.navigate.to("/login")
        return False
    nicegui_app.storage.client[PRINCIPAL_KEY] = fresh
    return allowed(permission)


def forbidden_text(who: Principal, permission: Permission) -> str:
    reason = who.refusal(permission)
    return f"{reason[0].upper()}{reason[1:]}. Ask an admin if you should."
