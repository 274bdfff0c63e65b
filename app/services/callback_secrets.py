"""Callback secrets per workflow: a workflow may sign its runs' callbacks with a secret of its own.

Without one, callbacks are signed with the shared secret (`FLOWYARD_CALLBACK_SECRET`, or the key generated
into the data directory), as before. A workflow's own secret is kept encrypted with the vault, shown to
whoever may see the workflow (the receiver needs it to verify), and rotated or dropped by whoever may edit it.
"""

from __future__ import annotations

import secrets

from sqlmodel import Session

from app.engine.model import RunRecord
from app.models.people import SYSTEM, Principal
from app.models.workflows import CallbackSecret
from app.services.audit import AuditService
from app.services.credentials import Vault
from app.services.workflows import find_workflow
from storage.db import Database
from storage.models import WorkflowRow

__all__ = ["CallbackSecrets"]


class CallbackSecrets:
    def __init__(self, db: Database, vault: Vault, audit: AuditService, *, shared: str) -> None:
        self._db = db
        self._vault = vault
        self._audit = audit
        self._shared = shared

    async def get(self, workflow_id: str) -> CallbackSecret:
        sealed = await self._db.tx(lambda s: find_workflow(s, workflow_id).callback_secret)
        if sealed is None:
            return CallbackSecret(secret=self._shared, shared=True)
        return CallbackSecret(secret=self._open(workflow_id, sealed), shared=False)

    async def rotate(self, workflow_id: str, *, by: Principal = SYSTEM) -> CallbackSecret:
        """Give the workflow a new secret of its own; callbacks sent from now on are signed with it."""
        secret = secrets.token_hex(32)

        def rotate(session: Session) -> None:
            workflow = find_workflow(session, workflow_id)
            workflow.callback_secret = self._vault.seal({"secret": secret})
            session.add(workflow)
            self._audit.add(session, by, "workflow.callback_secret.rotate", target=workflow_id)

        await self._db.tx(rotate)
        return CallbackSecret(secret=secret, shared=False)

    async def use_shared(self, workflow_id: str, *, by: Principal = SYSTEM) -> CallbackSecret:
        """Drop the workflow's own secret: its callbacks are signed with the shared one again."""

        def drop(session: Session) -> None:
            workflow = find_workflow(session, workflow_id)
            workflow.callback_secret = None
            session.add(workflow)
            self._audit.add(session, by, "workflow.callback_secret.shared", target=workflow_id)

        await self._db.tx(drop)
        return CallbackSecret(secret=self._shared, shared=True)

    async def secret_for(self, run: RunRecord) -> str | None:
        """The secret of the run's workflow, or None for the shared one (what the callback dispatcher asks)."""

        def read(session: Session) -> bytes | None:
            row = session.get(WorkflowRow, run.workflow_id)
            return row.callback_secret if row is not None else None

        sealed = await self._db.tx(read)
        return self._open(run.workflow_id, sealed) if sealed is not None else None

    def _open(self, workflow_id: str, sealed: bytes) -> str:
        return self._vault.open(f"callback secret of {workflow_id}", sealed)["secret"]
