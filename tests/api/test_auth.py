"""The API wants a bearer token (FLOWYARD_ADMIN_TOKEN, or a personal token); health and docs stay open."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.api.helpers import V1
from tests.databases import fresh_data_dir

TOKEN = "x" * 20


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=fresh_data_dir(tmp_path / "data"), lease_seconds=5, recovery_interval_seconds=0.5, admin_token=TOKEN
    )


async def test_api_call_without_token_is_401(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    response = await api.get(f"{V1}/workflows")

    assert response.status_code == 401
    assert "bearer" in response.json()["detail"].lower()
    assert response.headers["www-authenticate"] == "Bearer"


async def test_api_call_with_wrong_token_is_401(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    response = await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {'y' * 20}"})

    assert response.status_code == 401


async def test_api_call_with_token_in_another_scheme_is_401(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    response = await api.get(f"{V1}/workflows", headers={"Authorization": f"Basic {TOKEN}"})

    assert response.status_code == 401


async def test_api_call_with_token_is_answered(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    response = await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    assert response.json()["content"] == []


async def test_write_without_token_is_401_and_changes_nothing(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    response = await api.post(f"{V1}/workflows", json={"name": "sneaky"})

    assert response.status_code == 401
    listed = await api.get(f"{V1}/workflows", headers={"Authorization": f"Bearer {TOKEN}"})
    assert listed.json()["totalElements"] == 0


async def test_write_with_token_is_accepted(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    response = await api.post(f"{V1}/workflows", json={"name": "ok"}, headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 201


async def test_health_is_open_without_token(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    response = await api.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_api_docs_are_open_without_token(anonymous: httpx.AsyncClient) -> None:
    api = anonymous
    assert (await api.get("/docs")).status_code == 200
    assert (await api.get("/openapi.json")).status_code == 200


def test_admin_token_shorter_than_16_characters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="16 characters"):
        Settings(data_dir=tmp_path / "data", admin_token="short")
