"""Settings: an admin adds people and changes their roles; anyone makes and revokes their own API tokens."""

from __future__ import annotations

from nicegui.testing import User

from app.models.people import SYSTEM, Role, Scope, TokenCreate
from app.root import Flowyard
from tests.ui.conftest import add_person
from tests.ui.helpers import steps


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


async def test_enter_in_a_field_confirms_the_dialog(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/people")
    user.find(marker="add-person").click()
    user.find(marker="person-name").type("Cy")
    user.find(marker="person-email").type("cy@example.com")
    user.find(marker="person-password").type("a long first password").trigger("keydown.enter")

    await user.should_see("Added Cy as viewer")
    assert "cy@example.com" in [u.email for u in await flowyard.users.list()]


async def test_deactivating_a_person_asks_first(user: User, flowyard: Flowyard) -> None:
    await add_person(flowyard, "bo@example.com", Role.EDITOR, name="Bo")
    await user.open("/settings/people")

    user.find(marker="deactivate-bo@example.com").click()
    await user.should_see("Deactivate Bo?")
    user.find("Cancel").click()
    [bo] = [u for u in await flowyard.users.list() if u.email == "bo@example.com"]
    assert bo.active

    user.find(marker="deactivate-bo@example.com").click()
    await user.should_see("Deactivate Bo?")
    user.find(marker="confirm").click()
    await user.should_see("Bo can no longer log in")
    [bo] = [u for u in await flowyard.users.list() if u.email == "bo@example.com"]
    assert not bo.active


async def test_revoking_a_token_asks_first(user: User, flowyard: Flowyard) -> None:
    [ada] = [u for u in await flowyard.users.list() if u.email == "ada@example.com"]
    owner = await flowyard.users.principal(ada.id)
    assert owner is not None
    await flowyard.tokens.create(owner, TokenCreate(name="ci", scopes=[Scope.READ]))
    await user.open("/settings")

    user.find(marker="revoke-ci").click()
    await user.should_see("Revoke “ci”?")
    user.find("Cancel").click()
    assert [t.revoked_at for t in await flowyard.tokens.list(owner)] == [None]

    user.find(marker="revoke-ci").click()
    user.find(marker="confirm").click()
    await user.should_see("Revoked “ci”")
    [token] = await flowyard.tokens.list(owner)
    assert token.revoked_at is not None


async def test_the_audit_log_names_actions_in_words_and_keeps_its_filters_in_the_address(
    user: User, flowyard: Flowyard
) -> None:
    await add_person(flowyard, "bo@example.com", Role.EDITOR, name="Bo")
    bo = next(u.id for u in await flowyard.users.list() if u.email == "bo@example.com")
    await flowyard.users.set_password(bo, "another long password", by=SYSTEM)

    await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))

    await user.open("/settings/audit?what=user.password")

    await user.should_see("Set a password")
    await user.should_not_see("Created a workflow")  # only what the address asked for
    user.find(marker="audit-action").elements.pop().set_value("")
    await user.should_see("Created a workflow")
