"""Settings: an admin adds people and changes their roles; anyone makes and revokes their own API tokens."""

from __future__ import annotations

from nicegui.testing import User

from app.models.people import Role
from app.root import Flowyard
from tests.ui.conftest import add_person


async def test_an_admin_adds_a_person_with_a_role(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/people")
    user.find(marker="add-person").click()

    user.find(marker="person-name").type("Ann Approver")
    user.find(marker="person-email").type("not an email")
    user.find(marker="person-password").type("short")
    user.find(marker="confirm").click()

    await user.should_see("Email: not an email address (name@example.com); Password: String should have at least")
    user.find(marker="person-email").clear().type("ann@example.com")
    user.find(marker="person-password").clear().type("a long first password")
    user.find(marker="confirm").click()

    await user.should_see("Added Ann Approver as viewer")
    [ann] = [u for u in await flowyard.users.list() if u.email == "ann@example.com"]
    assert (ann.name, ann.role) == ("Ann Approver", "viewer")


async def test_changing_a_role_says_what_it_is_now(user: User, flowyard: Flowyard) -> None:
    await add_person(flowyard, "bo@example.com", Role.VIEWER, name="Bo")
    await user.open("/settings/people")

    select = user.find(marker="role-bo@example.com").elements.pop()
    select.set_value("approver")

    await user.should_see("Bo is now an approver")
    [bo] = [u for u in await flowyard.users.list() if u.email == "bo@example.com"]
    assert bo.role == "approver"


async def test_the_last_admin_cannot_be_demoted(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/people")

    select = user.find(marker="role-ada@example.com").elements.pop()
    select.set_value("viewer")

    await user.should_see("This is the last active admin")
    [ada] = [u for u in await flowyard.users.list() if u.email == "ada@example.com"]
    assert ada.role == "admin"
