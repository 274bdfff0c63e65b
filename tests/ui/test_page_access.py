"""Every page, as everyone: anonymous visitors are sent to the login, each role sees what its rule allows.

The rules are `app.pages.guard.PAGE_RULES`; a page NiceGUI serves that has no rule (and is not the login or
the set-up page) fails here.
"""

from __future__ import annotations

import re

import pytest
from nicegui import Client
from nicegui.testing import User

from app.models.people import ROLE_PERMISSIONS, Role
from app.pages.access import LOGIN_COOKIE
from app.pages.guard import PAGE_RULES
from app.root import Flowyard
from tests.ui.conftest import log_in_as

PUBLIC_PAGES = {"/login", "/setup"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "nothing-here", path)


def test_every_page_has_a_rule(user: User) -> None:
    served = set(Client.page_routes.values())

    assert served - PUBLIC_PAGES - PAGE_RULES.keys() == set()
    assert "/settings/people" in PAGE_RULES  # (the rules are those of the real pages)


async def test_anonymous_visitors_are_sent_to_the_login_and_get_no_live_page(user: User) -> None:
    user.http_client.cookies.delete(LOGIN_COOKIE)

    for path in sorted(PAGE_RULES):
        response = await user.http_client.get(_concrete(path), follow_redirects=False)

        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
        # No page is sent, so no client id a socket could connect with to receive a run's events.
        assert "client_id" not in response.text, path


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_opens_what_its_rule_allows(user: User, flowyard: Flowyard, role: Role) -> None:
    await log_in_as(user, flowyard, f"{role.value}@example.com", role)
    wrong = []
    for path, needed in sorted(PAGE_RULES.items()):
        if path == "/":
            continue  # (a redirect to the person's start page)
        await user.open(_concrete(path))
        forbidden = _has_marker(user, "forbidden")
        allowed = needed is None or needed in ROLE_PERMISSIONS[role]
        if forbidden == allowed:
            wrong.append(f"{path}: {'refused' if forbidden else 'shown'} to {role.value}")
    assert wrong == []


def _has_marker(user: User, marker: str) -> bool:
    try:
        return bool(user.find(marker=marker).elements)
    except AssertionError:  # (find raises when nothing matches)
        return False


async def test_an_approver_starts_in_the_inbox_and_sees_only_runs_and_inbox(user: User, flowyard: Flowyard) -> None:
    await log_in_as(user, flowyard, "ann@example.com", Role.APPROVER)

    await user.open("/")

    await user.should_see("Steps waiting for your approval")
    for section in ("runs", "inbox"):
        await user.should_see(marker=f"nav-{section}")
    for section in ("workflows", "schedules", "agents", "credentials"):
        await user.should_not_see(marker=f"nav-{section}")
