"""Credentials through the API: stored encrypted, used by agents by name, never shown again anywhere."""

from __future__ import annotations

import base64
import logging
import os
import stat
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.root import Flowyard
from app.settings import Settings
from storage.models import CredentialRow
from tests.api.helpers import V1, add_step, assert_refused, create_workflow, run_to_end
from tests.servers import LocalServer

SECRET = "sk-live-Zq81xW-distinctive-7c0ffee"


async def create_credential(api: httpx.AsyncClient, name: str = "openai", **body: Any) -> dict[str, Any]:
    payload = {"name": name, "type": "bearer", "values": {"token": SECRET}, **body}
    response = await api.post(f"{V1}/credentials", json=payload)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_agent(api: httpx.AsyncClient, agent_id: str, kind: str, config: dict[str, Any]) -> None:
    response = await api.post(f"{V1}/agents", json={"id": agent_id, "name": agent_id, "kind": kind, "config": config})
    assert response.status_code == 201, response.text


# --- managing credentials ------------------------------------------------------------------------------------------


async def test_create_credential_answers_without_its_values(api: httpx.AsyncClient) -> None:
    created = await create_credential(api)

    assert set(created) == {"name", "type", "createdAt", "updatedAt"}
    assert created["name"] == "openai"
    assert created["type"] == "bearer"


async def test_list_credentials_shows_names_and_types_only(api: httpx.AsyncClient) -> None:
    await create_credential(api, "zeta")
    await create_credential(api, "alpha", type="basic", values={"username": "ada", "password": SECRET})

    response = await api.get(f"{V1}/credentials")

    assert response.status_code == 200
    assert [(c["name"], c["type"]) for c in response.json()] == [("alpha", "basic"), ("zeta", "bearer")]
    assert SECRET not in response.text


async def test_update_credential_replaces_its_values(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    await create_credential(api)

    response = await api.put(f"{V1}/credentials/openai", json={"values": {"token": "new-token-value"}})

    assert response.status_code == 200, response.text
    assert "new-token-value" not in response.text
    credential = await flowyard_of.executor.services.credentials.get("openai")
    assert credential.values == {"token": "new-token-value"}


async def test_update_unknown_credential_is_404(api: httpx.AsyncClient) -> None:
    response = await api.put(f"{V1}/credentials/ghost", json={"values": {"token": "x"}})

    assert response.status_code == 404
    assert "ghost" in response.json()["detail"]


async def test_duplicate_name_is_refused(api: httpx.AsyncClient) -> None:
    await create_credential(api)

    response = await api.post(
        f"{V1}/credentials", json={"name": "openai", "type": "bearer", "values": {"token": "another"}}
    )

    assert response.status_code == 409
    assert "openai" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "type": "oauth", "values": {"token": "t"}}, "type"),
        ({"name": "x", "type": "basic", "values": {"username": "ada"}}, "values.password"),
        ({"name": "x", "type": "bearer", "values": {"token": "t", "extra": "e"}}, "values.extra"),
        ({"name": "has space", "type": "bearer", "values": {"token": "t"}}, "name"),
        ({"name": "x", "type": "header", "values": {"name": "Bad Header", "value": "v"}}, "values.name"),
    ],
)
async def test_invalid_credential_is_refused_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post(f"{V1}/credentials", json=body)

    assert_refused(response, field)


async def test_delete_credential_removes_it(api: httpx.AsyncClient) -> None:
    await create_credential(api)

    response = await api.delete(f"{V1}/credentials/openai")

    assert response.status_code == 204
    assert (await api.get(f"{V1}/credentials")).json() == []


async def test_delete_credential_in_use_is_refused_listing_the_agents(api: httpx.AsyncClient) -> None:
    await create_credential(api)
    await create_agent(api, "crm", "http", {"url": "https://crm.example/api", "credential": "openai"})

    response = await api.delete(f"{V1}/credentials/openai")

    assert response.status_code == 409
    assert "agent 'crm' (crm)" in response.json()["detail"]
    assert len((await api.get(f"{V1}/credentials")).json()) == 1


async def test_delete_credential_used_by_a_step_is_refused_listing_the_workflow(api: httpx.AsyncClient) -> None:
    await create_credential(api)
    workflow = await create_workflow(api, "Sync")
    await add_step(api, workflow["id"], "http", "", config={"url": "https://x.example", "credential": "openai"})

    response = await api.delete(f"{V1}/credentials/openai")

    assert response.status_code == 409
    assert f"workflow 'Sync' ({workflow['id']})" in response.json()["detail"]


# --- the key ------------------------------------------------------------------------------------------------------


async def test_credentials_are_encrypted_with_the_generated_key(settings: Settings, flowyard_of: Flowyard) -> None:
    await flowyard_of.credentials.create("openai", "bearer", {"token": SECRET})

    key_file = settings.data_dir / "secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    with flowyard_of.db.engine.connect() as conn:
        sealed = conn.execute(sa.select(CredentialRow.secret)).scalar_one()
    assert SECRET.encode() not in sealed
    assert SECRET in Fernet(key_file.read_text().strip()).decrypt(sealed).decode()


async def test_generated_key_is_reused_after_a_restart(settings: Settings) -> None:
    first = Flowyard.open(settings)
    await first.credentials.create("openai", "bearer", {"token": SECRET})
    await first.close()

    again = Flowyard.open(settings)
    try:
        credential = await again.executor.services.credentials.get("openai")
    finally:
        await again.close()

    assert credential.values == {"token": SECRET}


async def test_configured_key_is_used(settings: Settings) -> None:
    key = Fernet.generate_key().decode()
    flowyard = Flowyard.open(settings.model_copy(update={"secret_key": key}))
    try:
        await flowyard.credentials.create("openai", "bearer", {"token": SECRET})
        with flowyard.db.engine.connect() as conn:
            sealed = conn.execute(sa.select(CredentialRow.secret)).scalar_one()
    finally:
        await flowyard.close()

    assert Fernet(key).decrypt(sealed)
    assert not (settings.data_dir / "secret.key").exists()


def test_malformed_secret_key_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_SECRET_KEY", "not-a-fernet-key")

    with pytest.raises(ValidationError, match="FLOWYARD_SECRET_KEY must be a Fernet key"):
        Settings()


async def test_credential_under_another_key_fails_the_step_clearly(
    api: httpx.AsyncClient, flowyard_of: Flowyard, settings: Settings, web: LocalServer
) -> None:
    other = Flowyard.open(settings.model_copy(update={"secret_key": Fernet.generate_key().decode()}))
    try:
        await other.credentials.create("openai", "bearer", {"token": SECRET})
    finally:
        await other.close()
    workflow = await create_workflow(api)
    await add_step(api, workflow["id"], "http", "", config={"url": web.url + "/x", "credential": "openai"})

    run = await run_to_end(api, flowyard_of, workflow["id"])

    assert run["status"] == "FAILED"
    assert "credential 'openai' cannot be decrypted" in run["nodes"][0]["error"]
    assert not web.requests


# --- never shown again ------------------------------------------------------------------------------------------


async def test_secret_never_leaves_through_records_exports_or_logs(
    api: httpx.AsyncClient,
    flowyard_of: Flowyard,
    settings: Settings,
    web: LocalServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await create_credential(api, "crm-token")
    await create_credential(api, "crm-login", type="basic", values={"username": "ada", "password": SECRET})
    await create_agent(api, "crm", "http", {"method": "POST", "credential": "crm-token"})
    # The far end echoes what it was sent, secret included, and then refuses the basic login with it.
    echo = web.reply("/contacts", (200, {"seen": SECRET}))
    refused = web.reply("/login", (401, {"error": f"bad password {SECRET}"}))
    workflow = await create_workflow(api, "Enrich")
    await add_step(api, workflow["id"], "crm", "", config={"url": echo, "body": {"q": "{{ input }}"}})
    await add_step(api, workflow["id"], "http", "", config={"url": refused, "credential": "crm-login"})

    run = await run_to_end(api, flowyard_of, workflow["id"], "ada@example.com")

    assert web.calls_to("/contacts")[0].headers["authorization"] == f"Bearer {SECRET}"
    basic = base64.b64encode(f"ada:{SECRET}".encode()).decode()
    assert web.calls_to("/login")[0].headers["authorization"] == f"Basic {basic}"
    assert run["status"] == "FAILED"
    assert "401 from" in run["nodes"][1]["error"]
    assert "check credential 'crm-login'" in run["nodes"][1]["error"]
    encoded = {SECRET, basic}
    detail = (await api.get(f"{V1}/workflows/runs/{run['id']}")).text
    runs = (await api.get(f"{V1}/workflows/{workflow['id']}/runs")).text
    listed = (await api.get(f"{V1}/credentials")).text
    exported = (await flowyard_of.workflows.export(workflow["id"])).model_dump_json()
    agents = (await api.get(f"{V1}/agents")).text
    for where, text in {"run detail": detail, "runs": runs, "credentials": listed, "export": exported,
                        "agents": agents, "logs": caplog.text}.items():  # fmt: skip
        for secret in encoded:
            assert secret not in text, where
    await flowyard_of.close()  # every write on disk (the WAL checkpointed into the file)
    files = [p for p in settings.data_dir.iterdir() if p.name.startswith("flowyard.db")]
    assert files
    for path in files:
        for secret in encoded:
            assert secret.encode() not in path.read_bytes(), path.name
