"""Requests from names the server does not answer to, and pages of other sites, are refused; every answer
carries the security headers."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.api.guard import RequestGuard, hostname

HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


async def test_a_foreign_host_header_is_refused_as_a_dns_rebinding_would_send_it(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/v1/credentials", headers={"Host": "attacker.example"})

    assert response.status_code == 400
    assert "attacker.example" in response.json()["detail"]
    assert "FLOWYARD_ALLOWED_HOSTS" in response.json()["detail"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080"])
async def test_the_bound_host_and_localhost_are_answered(anonymous: httpx.AsyncClient, host: str) -> None:
    assert (await anonymous.get("/api/health", headers={"Host": host})).status_code == 200


async def test_every_answer_carries_the_security_headers(api: httpx.AsyncClient) -> None:
    for path in ("/api/health", "/api/v1/workflows", "/api/v1/nothing", "/docs"):
        headers = (await api.get(path)).headers

        assert headers["x-frame-options"] == "DENY", path
        assert headers["content-security-policy"] == "frame-ancestors 'none'", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path


async def _socket(origin: str) -> list[dict[str, object]]:
    """What a guarded websocket endpoint sends to a browser page at `origin` (raw ASGI, as a server would run it)."""

    async def events(scope: dict[str, object], receive: object, send: object) -> None:
        await receive()  # type: ignore[operator]
        await send({"type": "websocket.accept"})  # type: ignore[operator]
        await send({"type": "websocket.send", "text": "run events"})  # type: ignore[operator]

    sent: list[dict[str, object]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, object]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/_nicegui_ws/socket.io/",
        "headers": [(b"host", b"127.0.0.1:8080"), (b"origin", origin.encode())],
    }
    await RequestGuard(events, hosts=HOSTS)(scope, receive, send)  # type: ignore[arg-type]
    return sent


async def test_a_socket_opened_by_a_page_of_another_site_is_closed_before_any_event() -> None:
    refused = await _socket("https://evil.example")
    accepted = await _socket("http://127.0.0.1:8080")

    assert [m["type"] for m in refused] == ["websocket.close"]
    assert refused[0]["code"] == 1008
    assert {"type": "websocket.send", "text": "run events"} in accepted


async def test_a_login_form_posted_from_another_site_is_refused() -> None:
    async def login(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = RequestGuard(Starlette(routes=[Route("/auth/login", login, methods=["POST"])]), hosts=HOSTS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as client:
        assert (await client.post("/auth/login", headers={"Origin": "https://evil.example"})).status_code == 403
        assert (await client.post("/auth/login", headers={"Origin": "http://127.0.0.1:8080"})).status_code == 200


def test_hostname_strips_ports_and_brackets() -> None:
    assert [hostname(h) for h in ("Example.COM:80", "[::1]:8080", "::1", "localhost")] == [
        "example.com",
        "::1",
        "::1",
        "localhost",
    ]
