"""Webhook rows: one per workflow at most, found by the SHA-256 of its URL's secret.

The secret itself arrives here already encrypted by the application; this module never sees it in
plain text.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import WebhookRow

__all__ = ["delete_webhook", "find_webhook", "get_webhook", "touch_webhook"]


def get_webhook(session: Session, *, workflow_id: str) -> WebhookRow | None:
    return session.get(WebhookRow, workflow_id)


def find_webhook(session: Session, *, secret_hash: str) -> WebhookRow | None:
    """The webhook whose secret hashes to `secret_hash` (one seek on its unique index), enabled or not."""
    return session.exec(select(WebhookRow).where(col(WebhookRow.secret_hash) == secret_hash)).first()


def touch_webhook(session: Session, *, workflow_id: str, at: datetime) -> None:
    """Record that the webhook started a run at `at` (one UPDATE: concurrent calls do not conflict)."""
    session.execute(sa.update(WebhookRow).where(col(WebhookRow.workflow_id) == workflow_id).values(last_called_at=at))


def delete_webhook(session: Session, *, workflow_id: str) -> bool:
    """Delete the workflow's webhook; False when it had none."""
    result = session.execute(sa.delete(WebhookRow).where(col(WebhookRow.workflow_id) == workflow_id))
    return bool(getattr(result, "rowcount", 0))
