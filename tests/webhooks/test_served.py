"""Webhooks on a real `flowyard serve` (UI mounted, bearer token set), called over the network like a sender would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import flowyard_server, free_port

TOKEN = "webhook-test-admin-token"
ADMIN = {"authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module: starting it (NiceGUI included) takes a few seconds."""
    data_dir: Path = tmp_path_factory.mktemp("served") / "data"
    port = free_port()
    with flowyard_server(data_dir, port, env={"FLOWYARD_ADMIN_TOKEN": TOKEN, "FLOWYARD_MAX_BODY_BYTES": "65536"}):
        yield f"http://127.0.0.1:{port}"


def admin(server: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{server}/api/v1{path}", json=body, headers=ADMIN, timeout=10)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()


def workflow_with_hook(server: str, action: str, **settings: Any) -> dict[str, Any]:
    workflow = admin(server, "POST", "/workflows", {"name": "Served hook"})
    admin(server, "POST", f"/workflows/{workflow['id']}/steps", {"agentId": "transform", "action": action})
    hook: dict[str, Any] = admin(server, "PUT", f"/workflows/{workflow['id']}/webhook", settings)
    return hook


def test_served_sync_webhook_answers_a_caller_without_a_token(server: str) -> None:
    hook = workflow_with_hook(server, "Hi {{ input.name }}", mode="sync")

    response = httpx.post(hook["url"], json={"name": "Ada"}, timeout=10)

    assert hook["url"].startswith(server + "/api/hooks/")
    assert response.status_code == 200, response.text
    assert response.json()["output"] == "Hi Ada"


def test_served_async_webhook_answers_at_once_and_its_status_url_follows_the_run(server: str) -> None:
    hook = workflow_with_hook(server, "{{ input | length }}")

    accepted = httpx.post(hook["url"], json=[1, 2, 3], timeout=10)

    assert accepted.status_code == 202, accepted.text
    status_url = accepted.json()["statusUrl"]
    assert status_url.startswith(hook["url"] + "/runs/")
    for _ in range(100):
        status = httpx.get(status_url, timeout=10).json()
        if status["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert status["output"] == 3


def test_served_webhook_refuses_a_body_over_the_servers_limit_before_reading_it(server: str) -> None:
    hook = workflow_with_hook(server, "{{ input }}")

    response = httpx.post(hook["url"], content=b'"' + b"x" * 70_000 + b'"', timeout=10)

    assert response.status_code == 413
    assert "65536" in response.json()["detail"]
    workflow_id = hook["workflowId"]
    assert admin(server, "GET", f"/workflows/{workflow_id}/runs")["totalElements"] == 0


def test_served_webhook_url_answers_another_method_in_json_not_with_the_ui_page(server: str) -> None:
    hook = workflow_with_hook(server, "{{ input }}")

    response = httpx.put(hook["url"], json=1, timeout=10)
    unknown = httpx.get(f"{server}/api/v1/nothing-here", headers=ADMIN, timeout=10)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert "POST" in response.json()["detail"]
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/json"
