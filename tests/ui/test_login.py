"""Logging in, out, and setting up a new Flowyard's first admin, through the forms' own routes."""

from __future__ import annotations

from datetime import timedelta

import httpx
import sqlalchemy as sa
from nicegui.testing import User
from sqlmodel import Session

from app import clock
from app.models.people import Role, UserUpdate
from app.pages.access import LOGIN_COOKIE
from app.root import Flowyard
from app.services.audit import AuditQuery
from app.services.logins import digest
from storage.models import LoginRow, UserRow
from tests.ui.conftest import PASSWORD, add_person

ADMIN = {"email": "root@example.com", "name": "Rita Root", "password": "a long first password"}


async def _no_one(flowyard: Flowyard, user: User) -> httpx.AsyncClient:
    """A Flowyard with no users yet, and a browser with no login."""

    def clear(session: Session) -> None:
        session.execute(sa.delete(LoginRow))
        session.execute(sa.delete(UserRow))

    await flowyard.db.tx(clear)
    user.http_client.cookies.clear()
    return user.http_client


def _location(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:200]
    return response.headers["location"]


async def test_a_new_flowyard_sends_everyone_to_set_up_then_the_admin_is_logged_in(
    user: User, flowyard: Flowyard
) -> None:
    browser = await _no_one(flowyard, user)

    assert _location(await browser.get("/runs", follow_redirects=False)) == "/login?next=%2Fruns"
    assert _location(await browser.get("/login", follow_redirects=False)) == "/setup"
    assert (await browser.get("/setup")).status_code == 200

    created = await browser.post("/auth/setup", data=ADMIN, follow_redirects=False)

    assert _location(created) == "/"
    cookie = created.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # (plain http here)
    await user.open("/settings")
    await user.should_see("Rita Root")
    [admin] = await flowyard.users.list()
    assert (admin.email, admin.role) == ("root@example.com", "admin")


async def test_set_up_is_one_time(user: User, flowyard: Flowyard) -> None:
    browser = await _no_one(flowyard, user)
    await browser.post("/auth/setup", data=ADMIN)
    browser.cookies.clear()

    again = await browser.post("/auth/setup", data={**ADMIN, "email": "mallory@example.com"}, follow_redirects=False)

    assert _location(again) == "/login"
    assert [u.email for u in await flowyard.users.list()] == ["root@example.com"]
    assert _location(await browser.get("/setup", follow_redirects=False)) == "/login"


async def test_set_up_from_another_machine_needs_the_printed_code(user: User, flowyard: Flowyard) -> None:
    browser = await _no_one(flowyard, user)
    relayed = {"X-Forwarded-For": "203.0.113.9"}  # through a proxy: not this machine

    refused = await browser.post(
        "/auth/setup", data={**ADMIN, "code": "WRONG"}, headers=relayed, follow_redirects=False
    )

    assert "Wrong+set-up+code" in _location(refused)
    assert await flowyard.users.needs_setup()
    page = await browser.get("/setup", headers=relayed)
    assert "Set-up code" in page.text
    accepted = await browser.post(
        "/auth/setup",
        data={**ADMIN, "code": flowyard.users.setup_code.lower()},
        headers=relayed,
        follow_redirects=False,
    )
    assert _location(accepted) == "/"
    assert not await flowyard.users.needs_setup()


async def test_a_bad_first_admin_is_refused_naming_the_field(user: User, flowyard: Flowyard) -> None:
    browser = await _no_one(flowyard, user)

    refused = await browser.post("/auth/setup", data={**ADMIN, "password": "short"}, follow_redirects=False)

    assert "error=Password%3A+Use+at+least+10+characters" in _location(refused)  # a sentence, not pydantic's words
    assert await flowyard.users.needs_setup()


async def test_log_in_with_the_right_password_and_go_where_you_were_going(user: User, flowyard: Flowyard) -> None:
    await add_person(flowyard, "bo@example.com", Role.VIEWER)
    user.http_client.cookies.clear()
    browser = user.http_client

    wrong = await browser.post("/auth/login", data={"email": "bo@example.com", "password": "nope", "next": "/runs"},
                               follow_redirects=False)  # fmt: skip
    assert "Wrong+email+or+password" in _location(wrong)
    assert _location(await browser.get("/runs", follow_redirects=False)).startswith("/login")

    right = await browser.post(
        "/auth/login", data={"email": "BO@example.com", "password": PASSWORD, "next": "/runs"}, follow_redirects=False
    )

    assert _location(right) == "/runs"
    assert (await browser.get("/runs", follow_redirects=False)).status_code == 200
    actions = [entry.action for entry in await flowyard.audit.list(AuditQuery(action="login"))]
    assert actions[:2] == ["login", "login.failed"]


async def test_the_next_page_is_never_another_site(user: User, flowyard: Flowyard) -> None:
    await add_person(flowyard, "bo@example.com", Role.VIEWER)
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        data = {"email": "bo@example.com", "password": PASSWORD, "next": target}
        assert _location(await user.http_client.post("/auth/login", data=data, follow_redirects=False)) == "/"


async def test_guessing_passwords_is_slowed_down_then_stopped(user: User, flowyard: Flowyard) -> None:
    await add_person(flowyard, "cy@example.com", Role.EDITOR)
    browser = user.http_client
    for _ in range(5):
        await browser.post("/auth/login", data={"email": "cy@example.com", "password": "guess"})

    blocked = await browser.post(
        "/auth/login", data={"email": "cy@example.com", "password": PASSWORD}, follow_redirects=False
    )

    assert "Too+many+failed+attempts" in _location(blocked)


async def test_log_out_ends_the_login_everywhere_it_was_sent(user: User, flowyard: Flowyard) -> None:
    token = user.http_client.cookies.get(LOGIN_COOKIE)
    assert (await user.http_client.get("/runs", follow_redirects=False)).status_code == 200

    out = await user.http_client.post("/auth/logout", follow_redirects=False)

    assert _location(out) == "/login"
    assert await flowyard.logins.principal(token) is None
    user.http_client.cookies.set(LOGIN_COOKIE, token or "")  # the old cookie, replayed
    assert _location(await user.http_client.get("/runs", follow_redirects=False)).startswith("/login")


async def test_a_login_ends_when_idle_too_long_or_past_its_lifetime(user: User, flowyard: Flowyard) -> None:
    row = await add_person(flowyard, "di@example.com", Role.VIEWER)
    idle, _ = await flowyard.logins.open(row)
    old, _ = await flowyard.logins.open(row)
    now = clock.now()

    def age(session: Session) -> None:
        logins = sa.update(LoginRow).where(LoginRow.token_hash == digest(idle))
        session.execute(logins.values(last_seen_at=now - flowyard.logins.idle - timedelta(seconds=1)))
        session.execute(sa.update(LoginRow).where(LoginRow.token_hash == digest(old)).values(expires_at=now))

    assert await flowyard.logins.principal(idle) is not None
    await flowyard.db.tx(age)

    assert await flowyard.logins.principal(idle) is None
    assert await flowyard.logins.principal(old) is None


async def test_a_new_role_or_deactivation_ends_the_persons_logins(user: User, flowyard: Flowyard) -> None:
    row = await add_person(flowyard, "ed@example.com", Role.EDITOR)
    token, _ = await flowyard.logins.open(row)
    admin = await flowyard.logins.principal(user.http_client.cookies.get(LOGIN_COOKIE))
    assert admin is not None

    await flowyard.users.update(row.id, UserUpdate(role=Role.VIEWER), by=admin)

    assert await flowyard.logins.principal(token) is None  # the pages they had open go to the login
    token, again = await flowyard.logins.open(await flowyard.users.row(row.id))
    assert again.role is Role.VIEWER
    await flowyard.users.update(row.id, UserUpdate(active=False), by=admin)
    assert await flowyard.logins.principal(token) is None
