"""Logging in and out, and the one-time set-up of a new Flowyard's first admin.

The forms post to plain routes (`/auth/login`, `/auth/setup`, `/auth/logout`) that set or clear the login
cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) and answer with a redirect, so a password never travels
over the UI's websocket and the cookie is out of reach of scripts. The set-up page is open only while no user
exists, and only to a browser on the server's own machine or to whoever types the set-up code the server
printed when it started.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse
from nicegui import app as nicegui_app
from nicegui import ui
from pydantic import ValidationError

from app.engine.exceptions import FlowyardError
from app.models.people import UserCreate
from app.pages import theme
from app.pages.access import LOGIN_COOKIE, request_principal
from app.pages.context import services
from components.schema_form import plain_message

__all__ = ["is_local", "register"]

FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def is_local(request: Request) -> bool:
    """A request from the server's own machine, not relayed by a proxy (a proxy makes everything local)."""
    if any(request.headers.get(name) for name in FORWARDED) or request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server only (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _back(path: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)


def _shell(title: str) -> ui.column:
    ui.page_title(f"{title} · Flowyard")
    ui.colors(primary=theme.ACCENT)
    ui.dark_mode(nicegui_app.storage.user.get("dark_mode"))  # none chosen yet: the system's
    ui.query("body").classes("fy-auth-body")
    with ui.column().classes("fy-auth"):
        with ui.row().classes("fy-auth__brand items-center"):
            ui.icon("hub").classes("fy-brand__mark")
            ui.label("Flowyard").classes("fy-brand__name")
        card = ui.column().classes("fy-card fy-auth__card")
    return card


def _field(label: str, name: str, *, kind: str = "text", value: str = "", autocomplete: str = "") -> ui.input:
    field = ui.input(label, value=value).props(
        f'name={name} type={kind} outlined stack-label autocomplete="{autocomplete}"'
    )
    return field.classes("w-full").mark(name)


def register() -> None:
    @ui.page("/login")
    async def login_page(
        request: Request, next: str = "/", error: str = "", email: str = ""
    ) -> RedirectResponse | None:
        if await services().users.needs_setup():
            return RedirectResponse("/setup", status_code=303)
        if await request_principal(request) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        with _shell("Log in"):
            ui.label("Log in").classes("fy-title")
            with ui.element("form").props('method=post action="/auth/login"').classes("fy-auth__form"):
                _field("Email", "email", value=email, autocomplete="username")
                _field("Password", "password", kind="password", autocomplete="current-password")
                hidden = ui.element("input").props("type=hidden name=next")
                hidden.props["value"] = _safe_next(next)
                if error:
                    ui.label(error).classes("fy-error").mark("login-error")
                ui.button("Log in", icon="login").props("type=submit unelevated no-caps").classes("w-full").mark(
                    "log-in"
                )
            ui.label("Forgot your password? An admin can set a new one.").classes("fy-muted")
        return None

    @ui.page("/setup")
    async def setup_page(request: Request, error: str = "", email: str = "", name: str = "") -> RedirectResponse | None:
        if not await services().users.needs_setup():
            return RedirectResponse("/login", status_code=303)
        local = is_local(request)
        with _shell("Set up"):
            ui.label("Welcome to Flowyard").classes("fy-title")
            ui.label("Create the first admin: the account that invites everyone else.").classes("fy-subtitle")
            with ui.element("form").props('method=post action="/auth/setup"').classes("fy-auth__form"):
                _field("Your name", "name", value=name, autocomplete="name")
                _field("Email", "email", value=email, autocomplete="username")
                _field("Password (10 characters or more)", "password", kind="password", autocomplete="new-password")
                if not local:
                    _field("Set-up code (printed where the server started)", "code", autocomplete="off")
                if error:
                    ui.label(error).classes("fy-error").mark("setup-error")
                ui.button("Create admin and log in", icon="person_add").props("type=submit unelevated no-caps").classes(
                    "w-full"
                ).mark("create-admin")
        return None

    @nicegui_app.post("/auth/login", include_in_schema=False)
    async def log_in(
        request: Request,
        email: Annotated[str, Form(max_length=254)] = "",
        password: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=2000)] = "/",
    ) -> RedirectResponse:
        ip = request.client.host if request.client else None
        outcome = await services().logins.log_in(email, password, ip=ip, user_agent=request.headers.get("user-agent"))
        if isinstance(outcome, str):
            return _back("/login", error=outcome, email=email, next=_safe_next(next))
        token, _ = outcome
        response = RedirectResponse(_safe_next(next), status_code=303)
        _set_cookie(request, response, token)
        return response

    @nicegui_app.post("/auth/setup", include_in_schema=False)
    async def set_up(
        request: Request,
        email: Annotated[str, Form(max_length=254)] = "",
        name: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=200)] = "",
        code: Annotated[str, Form(max_length=40)] = "",
    ) -> RedirectResponse:
        flowyard = services()
        if not await flowyard.users.needs_setup():
            return RedirectResponse("/login", status_code=303)
        if not is_local(request) and not flowyard.users.codes_match(code):
            return _back("/setup", error="Wrong set-up code: use the one the server printed when it started.",
                         email=email, name=name)  # fmt: skip
        ip = request.client.host if request.client else None
        try:
            created = await flowyard.users.create_first_admin(
                UserCreate(email=email, name=name, password=password), ip=ip
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]).capitalize() or "Form"
            return _back("/setup", error=f"{where}: {plain_message(str(problem['msg']))}", email=email, name=name)
        except FlowyardError as exc:
            return _back("/setup", error=str(exc), email=email, name=name)
        token, _ = await flowyard.logins.open(
            await flowyard.users.row(created.id), ip=ip, user_agent=request.headers.get("user-agent")
        )
        response = RedirectResponse("/", status_code=303)
        _set_cookie(request, response, token)
        return response

    @nicegui_app.post("/auth/logout", include_in_schema=False)
    async def log_out(request: Request) -> RedirectResponse:
        ip = request.client.host if request.client else None
        await services().logins.log_out(request.cookies.get(LOGIN_COOKIE), ip=ip)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="lax")
        return response


def _set_cookie(request: Request, response: RedirectResponse, token: str) -> None:
    flowyard = services()
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=int(flowyard.logins.lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
