"""What every request passes before any route: the Host allow-list, the Origin check, the security headers.

- A Host header not in `FLOWYARD_ALLOWED_HOSTS` (default: the bound host and localhost) is refused, so a web
  page that rebinds its own name to 127.0.0.1 cannot drive a Flowyard running on the visitor's machine.
- A websocket (the UI's live connection) or a login form posted from another origin is refused, so a page
  elsewhere cannot borrow a logged-in browser.
- Every answer says: not in frames of other sites, no content sniffing, no referrer to other sites.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SECURITY_HEADERS", "RequestGuard", "hostname"]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)

ORIGIN_CHECKED = ("/_nicegui_ws", "/auth/", "/mcp")
"""Paths whose requests a browser may send on its own: the UI's socket and the login forms; and `/mcp`, which
MCP's Streamable HTTP transport says to guard so (a browser-based MCP client on another site is refused)."""


def hostname(host: str) -> str:
    """'Example.com:8080' → 'example.com'; '[::1]:8080' → '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    """ASGI middleware: refuse unknown hosts and foreign origins; add the security headers to every answer."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str]) -> None:
        self.app = app
        self.any_host = "*" in hosts
        self.hosts = frozenset(hostname(h) for h in hosts if h != "*")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = hostname(headers.get("host", ""))
        if not self.any_host and host not in self.hosts:
            problem = f"this server does not answer to host '{host}' (add it to FLOWYARD_ALLOWED_HOSTS)"
            await _refuse(scope, receive, send, 400, problem)
            return
        origin = headers.get("origin")
        checked = scope["type"] == "websocket" or scope["path"].startswith(ORIGIN_CHECKED)
        if origin and checked and hostname(urlsplit(origin).netloc) != host:
            await _refuse(scope, receive, send, 403, f"requests from origin '{origin}' are not accepted here")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, problem: str) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
        return
    body = json.dumps({"detail": problem}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
