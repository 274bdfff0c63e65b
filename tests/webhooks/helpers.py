"""Short ways to set up webhooks through the management API and call them, the way a client would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import V1

__all__ = ["hook_path", "run_count", "webhook"]


async def webhook(api: httpx.AsyncClient, workflow_id: str, **settings: Any) -> dict[str, Any]:
    """Create or change the workflow's webhook; `settings` are body fields under their wire names."""
    response = await api.put(f"{V1}/workflows/{workflow_id}/webhook", json=settings)
    assert response.status_code in (200, 201), response.text
    hook: dict[str, Any] = response.json()
    return hook


def hook_path(hook: dict[str, Any]) -> str:
    """The path part of a webhook's URL (the `api` client has its own base URL)."""
    path: str = hook["path"]
    assert hook["url"].endswith(path)
    return path


async def run_count(api: httpx.AsyncClient, workflow_id: str) -> int:
    response = await api.get(f"{V1}/workflows/{workflow_id}/runs")
    assert response.status_code == 200, response.text
    total: int = response.json()["totalElements"]
    return total
