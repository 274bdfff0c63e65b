"""Webhooks: a workflow's secret URL that starts a run with the request's JSON body as its input."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlmodel import AutoString, Field, SQLModel

from app.models.base import Input, Public

__all__ = [
    "HookAccepted",
    "HookError",
    "HookResult",
    "Mode",
    "WebhookBase",
    "WebhookPublic",
    "WebhookUpdate",
]

Mode = Literal["async", "sync"]


class WebhookBase(SQLModel):
    enabled: bool = Field(default=True, description="Whether the URL starts runs.")
    mode: Mode = Field(
        default="async",
        sa_type=AutoString(length=8),
        description="async: answer at once with the run id; sync: wait for the run's output.",
    )
    sync_timeout_seconds: float = Field(default=30.0, description="How long a sync call waits for the run to end.")
    max_body_bytes: int = Field(description="Largest request body.")


class WebhookUpdate(Input):
    """A webhook's settings. On an existing webhook, fields left out keep their values."""

    enabled: bool | None = Field(None, description="Whether the URL starts runs (default true).")
    mode: Mode | None = Field(
        None, description="async: answer at once with the run id (default); sync: wait for the run's output."
    )
    sync_timeout_seconds: float | None = Field(
        None, gt=0, description="How long a sync call waits for the run to end (default 30 s)."
    )
    max_body_bytes: int | None = Field(
        None, ge=1, description="Largest request body (default 256 KiB, at most FLOWYARD_MAX_BODY_BYTES)."
    )


class WebhookPublic(WebhookBase, Public):
    """A workflow's webhook as its owner sees it.

    `secret` (never serialised) and `path` are None only when the stored secret cannot be decrypted (the
    secret key changed): the URL still works for whoever has it, and rotating gives the owner a new one.
    """

    workflow_id: str
    url: str | None = Field(None, description="POST JSON here to start a run; null if the secret key changed (rotate).")
    path: str | None
    """`/api/hooks/<secret>`: prefix it with the server's base URL for `url`."""
    secret: str | None = Field(default=None, exclude=True)
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None
    last_called_at: datetime | None
    """When the webhook last started a run."""


class HookAccepted(Public):
    run_id: str
    session_id: str | None
    status: str
    status_url: str = Field(description="GET it (no token needed) to follow the run.")


class HookResult(Public):
    run_id: str
    session_id: str | None
    status: str
    output: Any = None
    error: str | None = None


class HookError(Public):
    detail: str
    errors: list[dict[str, str]] | None = None
