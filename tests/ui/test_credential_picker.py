"""Credential fields of settings forms: a picker of the stored credentials, with "Create new credential…" for admins."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing import User

from app.engine.model import NodeSpec, WorkflowDefinition
from app.models.people import Role
from app.root import Flowyard
from components.graph_editor import GraphEditor
from components.schema_form import NEW_CREDENTIAL
from tests.ui.conftest import log_in_as

HTTP_STEP = WorkflowDefinition(nodes=[NodeSpec(key="call", agent_id="http", config={"url": "http://127.0.0.1:9/x"})])


def _picker(user: User, marker: str = "credential-credential") -> ui.select:
    [picker] = user.find(marker=marker).elements
    assert isinstance(picker, ui.select)
    return picker


def _config(user: User, key: str) -> dict[str, Any]:
    [canvas] = [e for e in user.find(GraphEditor).elements if not e.props.get("readonly")]
    assert isinstance(canvas, GraphEditor)
    node = canvas.node(key)
    assert node is not None
    return dict(node["data"]["spec"].get("config") or {})


async def _open_http_step(user: User, flowyard: Flowyard) -> str:
    workflow = await flowyard.workflows.create(name="Calls", definition=HTTP_STEP)
    await user.open(f"/workflows/{workflow.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["call"], "edges": []})
    await user.should_see("HTTP request settings")
    return workflow.id


async def test_the_credential_field_picks_a_stored_credential_by_name_and_type(user: User, flowyard: Flowyard) -> None:
    await flowyard.credentials.create("crm", "bearer", {"token": "t-123456"})
    await _open_http_step(user, flowyard)

    picker = _picker(user)
    assert picker.options == {"crm": "crm · Bearer token", NEW_CREDENTIAL: "Create new credential…"}
    picker.set_value("crm")

    assert _config(user, "call")["credential"] == "crm"
    await user.should_see("Unsaved changes")


async def test_create_new_credential_from_a_step_selects_it(user: User, flowyard: Flowyard) -> None:
    await _open_http_step(user, flowyard)

    _picker(user).set_value(NEW_CREDENTIAL)
    await user.should_see("New credential")
    user.find(marker="name").type("billing")
    user.find(marker="value-token").type("sk-live-123456")
    user.find(marker="confirm").click()

    await user.should_see("Saved “billing”")
    assert [c.name for c in await flowyard.credentials.list()] == ["billing"]
    assert _picker(user).value == "billing"
    assert _config(user, "call")["credential"] == "billing"


async def test_a_refused_credential_keeps_the_dialog_and_the_field(user: User, flowyard: Flowyard) -> None:
    await _open_http_step(user, flowyard)

    _picker(user).set_value(NEW_CREDENTIAL)
    user.find(marker="name").type("bad name")
    user.find(marker="value-token").type("sk-live-123456")
    user.find(marker="confirm").click()

    await user.should_see("use 1 to 100 letters")
    assert await flowyard.credentials.list() == []
    assert _picker(user).value is None
    assert "credential" not in _config(user, "call")


async def test_an_editor_picks_but_is_told_to_ask_an_admin_to_add_one(user: User, flowyard: Flowyard) -> None:
    await flowyard.credentials.create("crm", "bearer", {"token": "t-123456"})
    await log_in_as(user, flowyard, "eve@example.com", Role.EDITOR)
    await _open_http_step(user, flowyard)

    assert _picker(user).options == {"crm": "crm · Bearer token"}
    await user.should_see("Only an admin can add a credential")


async def test_the_agents_page_offers_the_same_picker(user: User, flowyard: Flowyard) -> None:
    await flowyard.credentials.create("crm", "api_key", {"token": "t-123456"})
    await flowyard.agents.create(id="crm_api", name="CRM", kind="http", config={"url": "http://127.0.0.1:9/x"})
    await user.open("/agents/crm_api")

    _picker(user).set_value(NEW_CREDENTIAL)
    user.find("Name (how agents refer to it)").type("crm2")  # (the agent's own Name is marked "name" too)
    user.find(marker="value-token").type("sk-live-123456")
    user.find(marker="confirm").click()

    await user.should_see("Saved “crm2”")
    assert _picker(user).value == "crm2"
