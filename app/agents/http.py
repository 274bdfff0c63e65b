"""http: one HTTP request with templated URL, headers and body, through the shared client."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from app.agents.base import AgentContext, AgentKind, Group
from app.engine.exceptions import AgentError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class Http(AgentKind):
    kind: ClassVar[str] = "http"
    title: ClassVar[str] = "HTTP request"
    group: ClassVar[str] = Group.INTEGRATIONS
    icon: ClassVar[str] = "http"
    description: ClassVar[str] = (
        "Calls a URL. Method, URL, headers and body are templates. The action may be a shorthand "
        "'METHOD URL' when no URL is configured. Output: status, headers and the parsed body."
    )

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "POST"
    url: str = Field("", description="Target URL (a template).")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers (templates).")
    body: Any = Field(None, description="JSON body (templates inside); None sends the node's input.")
    timeout_seconds: float = Field(30.0, gt=0, le=3600)

    def _target(self, ctx: AgentContext) -> tuple[str, str]:
        method: str = self.method
        url = self.url
        if not url and ctx.action.strip():
            parts = ctx.action.strip().split(None, 1)
            if len(parts) == 2 and parts[0].upper() in METHODS:
                method, url = parts[0].upper(), parts[1]
            else:
                url = parts[0]
        if not url:
            raise AgentError("http needs a URL: set config.url or an action like 'POST https://…'", retryable=False)
        rendered = ctx.render(url)
        if not isinstance(rendered, str) or not rendered.startswith(("http://", "https://")):
            raise AgentError(f"http URL must start with http:// or https://, got {rendered!r}", retryable=False)
        return method, rendered

    async def run(self, ctx: AgentContext) -> Any:
        method, url = self._target(ctx)
        headers = {str(k): str(v) for k, v in ctx.render(self.headers).items()}
        headers.setdefault("Idempotency-Key", ctx.idempotency_key)
        body = ctx.render(self.body) if self.body is not None else ctx.input
        content: bytes | None = None
        if method not in ("GET", "HEAD", "DELETE") and body is not None:
            if isinstance(body, str | bytes):
                content = body.encode() if isinstance(body, str) else body
                headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            else:
                content = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
        try:
            response = await ctx.http.request(
                method, url, headers=headers, content=content, timeout=self.timeout_seconds
            )
        except httpx.TimeoutException:
            raise AgentError(f"{method} {url} timed out after {self.timeout_seconds:g} s") from None
        except httpx.ConnectError:
            raise AgentError(f"{method} {url}: the server refused the connection or could not be reached") from None
        except httpx.HTTPError as exc:
            raise AgentError(f"{method} {url} failed: {exc}") from None
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise AgentError(f"{method} {url} answered more than {MAX_RESPONSE_BYTES} bytes", retryable=False)
        parsed = _parse(response)
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            snippet = response.text[:300]
            raise AgentError(f"{method} {url} answered {response.status_code}: {snippet}", retryable=retryable)
        return {"status": response.status_code, "headers": dict(response.headers), "body": parsed}


def _parse(response: httpx.Response) -> Any:
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            return response.text
    return response.text
