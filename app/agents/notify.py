"""notify: post a message to a chat incoming webhook (Slack-compatible) or any URL.

The step's action is the message, a template over the node's context; without one the node's input
is sent. Failures read like the http kind's (`app.agents.http.send`), except that messages show the
webhook's address without its path: an incoming webhook's path is a secret of its own.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field

from app.agents.base import AgentContext, AgentKind, Group
from app.agents.http import Request, resolve_credential, send
from app.engine.exceptions import AgentError

__all__ = ["Notify"]


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}"


class Notify(AgentKind):
    kind: ClassVar[str] = "notify"
    title: ClassVar[str] = "Notify"
    group: ClassVar[str] = Group.INTEGRATIONS
    icon: ClassVar[str] = "notifications"
    description: ClassVar[str] = (
        "Posts a message to a chat incoming webhook (Slack, Mattermost, Rocket.Chat, Discord's /slack URL…) or "
        "any URL. The action is the message (a template); without one the input is sent. "
        "Output: delivered, status and the receiver's answer."
    )

    url: str = Field("", description="Webhook URL (a template).")
    format: Literal["slack", "text"] = Field(
        "slack", description='slack: a JSON body {"text": message}; text: the message as plain text.'
    )
    credential: str | None = Field(
        None,
        description="Name of a credential, for receivers that want auth.",
        json_schema_extra={"format": "credential"},
    )
    timeout_seconds: float = Field(15.0, gt=0, le=600)

    def _url(self, ctx: AgentContext) -> str:
        if not self.url:
            raise AgentError("notify needs a webhook URL: set config.url", retryable=False)
        url = ctx.render(self.url)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
            raise AgentError("notify URL must be an http:// or https:// address", retryable=False)
        return url

    def _message(self, ctx: AgentContext) -> str:
        message: Any = ctx.render(ctx.action) if ctx.action.strip() else ctx.input
        if message is None:
            message = ""
        text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        if not text.strip():
            raise AgentError("notify has nothing to say: write the message in the step's action", retryable=False)
        return text

    async def run(self, ctx: AgentContext) -> Any:
        url = self._url(ctx)
        text = self._message(ctx)
        headers = {"Idempotency-Key": ctx.idempotency_key}
        if self.format == "slack":
            headers["Content-Type"] = "application/json"
            content = json.dumps({"text": text}).encode()
        else:
            headers["Content-Type"] = "text/plain; charset=utf-8"
            content = text.encode()
        credential = await resolve_credential(ctx, self.credential)
        request = Request("POST", url, shown_url=_shown(url), credential=credential)
        response = await send(ctx, request, headers=headers, content=content, timeout=self.timeout_seconds)
        return request.redact(
            {"delivered": True, "status": response.status_code, "response": response.text[:1000], "text": text}
        )
