"""Setting up a workflow's webhook through `/api/v1/workflows/{id}/webhook`: create, change, rotate, delete."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.main import create_api
from app.settings import Settings
from tests.api.helpers import ISO_UTC, V1, assert_refused, create_workflow, workflow_with_steps
from tests.conftest import ADMIN_TOKEN, AUTH
from tests.databases import fresh_data_dir
from tests.webhooks.helpers import hook_path, webhook


async def test_workflow_without_a_webhook_answers_404(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.get(f"{V1}/workflows/{workflow['id']}/webhook")

    assert response.status_code == 404
    assert response.json()["detail"] == f"no webhook for workflow with id '{workflow['id']}'"


async def test_put_creates_a_webhook_with_a_secret_url_and_defaults(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.put(f"{V1}/workflows/{workflow['id']}/webhook", json={})

    assert response.status_code == 201, response.text
    hook = response.json()
    assert hook["url"].startswith("http://localhost/api/hooks/")
    assert len(hook["url"].rsplit("/", 1)[1]) >= 43  # 32 random bytes
    assert hook["path"] == hook["url"].removeprefix("http://localhost")
    expected = {"workflowId": workflow["id"], "enabled": True, "mode": "async", "syncTimeoutSeconds": 30.0}
    assert expected.items() <= hook.items()
    assert hook["maxBodyBytes"] == 256 * 1024
    assert ISO_UTC.match(hook["createdAt"])
    assert (hook["rotatedAt"], hook["lastCalledAt"]) == (None, None)
    assert (await api.get(f"{V1}/workflows/{workflow['id']}/webhook")).json() == hook


async def test_put_on_an_existing_webhook_changes_only_the_fields_sent(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)
    created = await webhook(api, workflow["id"], mode="sync", syncTimeoutSeconds=12)

    response = await api.put(f"{V1}/workflows/{workflow['id']}/webhook", json={"enabled": False})

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["enabled"], changed["mode"], changed["syncTimeoutSeconds"]) == (False, "sync", 12.0)
    assert changed["url"] == created["url"]


async def test_rotate_gives_a_new_url_and_records_when(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)
    created = await webhook(api, workflow["id"])

    response = await api.post(f"{V1}/workflows/{workflow['id']}/webhook/rotate")

    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["url"] != created["url"]
    assert ISO_UTC.match(rotated["rotatedAt"])
    assert (await api.get(f"{V1}/workflows/{workflow['id']}/webhook")).json()["url"] == rotated["url"]


async def test_delete_removes_the_webhook_and_its_url(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    hook = await webhook(api, workflow_id)

    response = await api.delete(f"{V1}/workflows/{workflow_id}/webhook")

    assert response.status_code == 204
    assert (await api.get(f"{V1}/workflows/{workflow_id}/webhook")).status_code == 404
    assert (await api.post(hook_path(hook), json=1)).status_code == 404
    assert (await api.delete(f"{V1}/workflows/{workflow_id}/webhook")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "later"}, "mode"),
        ({"syncTimeoutSeconds": 0}, "syncTimeoutSeconds"),
        ({"syncTimeoutSeconds": 301}, "syncTimeoutSeconds"),
        ({"maxBodyBytes": 0}, "maxBodyBytes"),
        ({"maxBodyBytes": 2_000_000}, "maxBodyBytes"),
        ({"enabled": "maybe"}, "enabled"),
        ({"secret": "mine"}, "secret"),
    ],
)
async def test_put_with_a_bad_setting_is_refused_naming_it_and_creates_nothing(
    api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    workflow = await create_workflow(api)

    response = await api.put(f"{V1}/workflows/{workflow['id']}/webhook", json=body)

    assert_refused(response, field)
    assert (await api.get(f"{V1}/workflows/{workflow['id']}/webhook")).status_code == 404


async def test_bad_setting_leaves_an_existing_webhook_as_it_was(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)
    hook = await webhook(api, workflow["id"], mode="sync")

    response = await api.put(f"{V1}/workflows/{workflow['id']}/webhook", json={"enabled": False, "maxBodyBytes": 0})

    assert_refused(response, "maxBodyBytes")
    assert (await api.get(f"{V1}/workflows/{workflow['id']}/webhook")).json() == hook


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/webhook"), ("PUT", "/webhook"), ("POST", "/webhook/rotate"), ("DELETE", "/webhook")],
)
async def test_webhook_of_an_unknown_workflow_is_404(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, f"{V1}/workflows/wf-missing{path}", json={} if method == "PUT" else None)

    assert response.status_code == 404
    assert "wf-missing" in response.json()["detail"]


async def test_rotating_a_workflow_without_a_webhook_is_404(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.post(f"{V1}/workflows/{workflow['id']}/webhook/rotate")

    assert response.status_code == 404
    assert "no webhook" in response.json()["detail"]


async def test_default_body_limit_is_never_above_the_servers(tmp_path: Path) -> None:
    app = create_api(
        Settings(data_dir=fresh_data_dir(tmp_path / "data"), max_body_bytes=100_000, admin_token=ADMIN_TOKEN)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=AUTH) as api:
            workflow = await create_workflow(api)

            hook = await webhook(api, workflow["id"])

    assert hook["maxBodyBytes"] == 100_000


async def test_management_needs_the_token_but_the_webhook_url_does_not(tmp_path: Path) -> None:
    token = "a-long-enough-admin-token"
    app = create_api(Settings(data_dir=fresh_data_dir(tmp_path / "data"), admin_token=token))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=AUTH) as anonymous:
            admin = {"authorization": f"Bearer {token}"}
            workflow = (await anonymous.post(f"{V1}/workflows", json={"name": "Hook"}, headers=admin)).json()
            await anonymous.post(f"{V1}/workflows/{workflow['id']}/steps", json={"agentId": "transform", "action": "x"},
                                 headers=admin)  # fmt: skip

            refused = await anonymous.put(f"{V1}/workflows/{workflow['id']}/webhook", json={})
            hook = (await anonymous.put(f"{V1}/workflows/{workflow['id']}/webhook", json={}, headers=admin)).json()
            called = await anonymous.post(hook["path"], json={"a": 1})

    assert refused.status_code == 401
    assert called.status_code == 202, called.text


async def test_put_without_a_body_creates_a_webhook_with_the_defaults(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api)

    response = await api.put(f"{V1}/workflows/{workflow['id']}/webhook")

    assert response.status_code == 201, response.text
    assert (response.json()["mode"], response.json()["enabled"]) == ("async", True)
