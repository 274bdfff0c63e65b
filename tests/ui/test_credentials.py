"""The credentials page: write-only secrets, as a person manages them (NiceGUI's simulated user)."""

from __future__ import annotations

from nicegui import ElementFilter
from nicegui.testing import User

from app.root import Flowyard
from tests.ui.helpers import marked_rows

SECRET = "sk-test-7f3a9c1e5b"


async def test_add_a_credential_and_its_value_is_never_shown(user: User, flowyard: Flowyard) -> None:
    await user.open("/credentials")
    await user.should_see("No credentials yet")
    user.find(marker="create").click()
    user.find(marker="name").type("openai")
    user.find(marker="value-token").type(SECRET)

    user.find(marker="confirm").click()

    await user.should_see("Saved “openai”")
    assert marked_rows(user, "credential-row") == ["openai"]
    [info] = await flowyard.credentials.list()
    assert (info.name, info.type) == ("openai", "api_key")
    with user:  # nowhere on the page, not even in an input's value
        assert not [e for e in ElementFilter(local_scope=False) if SECRET in str(e.props)]


async def test_a_missing_value_is_refused_naming_it(user: User, flowyard: Flowyard) -> None:
    await user.open("/credentials")
    user.find(marker="create").click()
    user.find(marker="name").type("crm")
    [kind] = user.find(marker="type").elements
    kind.value = "basic"  # type: ignore[attr-defined]
    user.find(marker="value-username").type("ada")

    user.find(marker="confirm").click()

    await user.should_see("Password: required")
    assert await flowyard.credentials.list() == []


async def test_replace_and_delete(user: User, flowyard: Flowyard) -> None:
    await flowyard.credentials.create("crm", "bearer", {"token": "old-token-123"})
    await user.open("/credentials")

    user.find(marker="replace-crm").click()
    user.find(marker="value-token").type("new-token-456")
    user.find(marker="confirm").click()
    await user.should_see("Replaced the value of “crm”")

    user.find(marker="delete-crm").click()
    user.find(marker="confirm").click()
    await user.should_see("Deleted “crm”")
    assert await flowyard.credentials.list() == []


async def test_delete_is_refused_while_an_agent_refers_to_it(user: User, flowyard: Flowyard) -> None:
    await flowyard.credentials.create("crm", "bearer", {"token": "t-123456"})
    await flowyard.agents.create(
        id="crm_api", name="CRM", kind="http", config={"url": "http://127.0.0.1:9/x", "credential": "crm"}
    )
    await user.open("/credentials")

    user.find(marker="delete-crm").click()
    user.find(marker="confirm").click()

    await user.should_see("crm_api")
    assert [c.name for c in await flowyard.credentials.list()] == ["crm"]
