"""A webhook's secret: stored as a hash and encrypted, never in plain text, never logged."""

from __future__ import annotations

import logging

import httpx
import pytest
from cryptography.fernet import Fernet

from app.root import Flowyard
from app.services.credentials import Vault
from app.settings import Settings
from tests.api.helpers import V1, finished_run, workflow_with_steps
from tests.webhooks.helpers import hook_path, webhook


async def test_secret_is_never_logged_nor_stored_in_plain_text(
    api: httpx.AsyncClient, flowyard_of: Flowyard, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    first = await webhook(api, workflow_id, mode="sync")
    rotated = (await api.post(f"{V1}/workflows/{workflow_id}/webhook/rotate")).json()
    secrets = [hook_path(first).rsplit("/", 1)[1], hook_path(rotated).rsplit("/", 1)[1]]

    called = await api.post(hook_path(rotated), json={"q": 1})
    refused = await api.post(hook_path(first), json={"q": 1})
    run = await finished_run(api, flowyard_of, called.json()["runId"])

    assert (called.status_code, refused.status_code) == (200, 404)
    # httpx logs the URLs this test's own client calls: what the server side logged is everything else.
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert "started run" in logs
    for where, text in {"logs": logs, "run": str(run), "answer": called.text}.items():
        for secret in secrets:
            assert secret not in text, where
    await flowyard_of.close()  # every write on disk (the WAL checkpointed into the file)
    files = [p for p in settings.data_dir.iterdir() if p.name.startswith("flowyard.db")]
    assert files
    for path in files:
        for secret in secrets:
            assert secret.encode() not in path.read_bytes(), path.name


async def test_webhook_keeps_working_but_hides_its_url_when_the_secret_key_changed(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)
    # as after a new FLOWYARD_SECRET_KEY: every service that seals secrets has the new key
    flowyard_of.credentials.vault = flowyard_of.webhooks.vault = Vault(Fernet.generate_key().decode())

    shown = (await api.get(f"{V1}/workflows/{workflow_id}/webhook")).json()
    called = await api.post(hook_path(hook), json=1)
    rotated = (await api.post(f"{V1}/workflows/{workflow_id}/webhook/rotate")).json()

    assert (shown["url"], shown["path"]) == (None, None)
    assert called.status_code == 202
    assert rotated["url"] is not None
