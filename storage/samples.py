"""A workflow's sample inputs: a JSON list on its row (`WorkflowRow.samples`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from storage.models import WorkflowRow

__all__ = ["get_samples", "set_samples"]


def get_samples(session: Session, *, workflow_id: str) -> list[dict[str, Any]]:
    """The samples as stored (a list of {"name", "input"}); empty when it has none or does not exist."""
    stored = session.execute(sa.select(col(WorkflowRow.samples)).where(col(WorkflowRow.id) == workflow_id)).scalar()
    return list(stored or [])


def set_samples(session: Session, *, workflow_id: str, samples: list[dict[str, Any]]) -> None:
    """Replace the workflow's samples (one UPDATE; the workflow's version is not a matter of its samples)."""
    session.execute(sa.update(WorkflowRow).where(col(WorkflowRow.id) == workflow_id).values(samples=samples or None))
