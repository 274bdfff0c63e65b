"""Who may decide a workflow's steps: its named approvers (or, when it names none, whoever may approve), and
whether the person who started a run may approve its own steps.

Every decision path (the inbox, the ordered-steps API's resume and reject) asks `check` first, with the
principal deciding; admins may always decide.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.engine.exceptions import Forbidden, InvalidInput, NotFound
from app.models.people import Permission, Principal
from app.models.workflows import WorkflowAccess
from app.services.audit import AuditService
from storage.db import Database
from storage.models import RunRow, UserRow, WorkflowRow

__all__ = ["ApproverRules"]


class ApproverRules:
    def __init__(self, db: Database, audit: AuditService) -> None:
        self._db = db
        self._audit = audit

    async def get(self, workflow_id: str) -> WorkflowAccess:
        return await self._db.tx(lambda s: _access(s, _workflow(s, workflow_id)))

    async def set(self, workflow_id: str, access: WorkflowAccess, *, by: Principal) -> WorkflowAccess:
        """Name a workflow's approvers (by email) and whether starters may approve their own runs."""

        def change(session: Session) -> WorkflowAccess:
            row = _workflow(session, workflow_id)
            emails = sorted({email.strip().lower() for email in access.approvers})
            users = session.exec(select(UserRow).where(col(UserRow.email).in_(emails))).all() if emails else []
            unknown = sorted(set(emails) - {user.email for user in users})
            if unknown:
                raise InvalidInput("approvers", f"no user with email {', '.join(unknown)}")
            row.approvers = sorted(user.id for user in users) or None
            row.allow_self_approval = access.allow_self_approval
            session.add(row)
            self._audit.add(
                session,
                by,
                "workflow.access",
                target=workflow_id,
                detail=f"approvers: {', '.join(emails) or 'anyone who may approve'}; "
                f"self-approval {'allowed' if access.allow_self_approval else 'forbidden'}",
            )
            return _access(session, row)

        return await self._db.tx(change)

    async def check(self, by: Principal, run_id: str) -> None:
        """Forbidden unless `by` may decide the steps of run `run_id` (NotFound for an unknown run)."""
        problem = await self.problem(by, run_id)
        if problem:
            raise Forbidden(problem)

    async def problem(self, by: Principal, run_id: str) -> str | None:
        """Why `by` may not decide run `run_id`'s steps, or None when they may."""
        if not by.can(Permission.APPROVE):
            return "you may not decide approvals"

        def read(session: Session) -> tuple[RunRow, WorkflowRow] | None:
            run = session.get(RunRow, run_id)
            workflow = session.get(WorkflowRow, run.workflow_id) if run is not None else None
            return (run, workflow) if run is not None and workflow is not None else None

        found = await self._db.tx(read)
        if found is None:
            raise NotFound("run", run_id)
        run, workflow = found
        if by.is_admin:
            return None
        if workflow.approvers and by.user_id not in workflow.approvers:
            return "only this workflow's approvers (and admins) may decide its steps"
        if not workflow.allow_self_approval and run.started_by and run.started_by == by.label:
            return "this workflow does not let whoever started a run approve its steps"
        return None


def _workflow(session: Session, workflow_id: str) -> WorkflowRow:
    row = session.get(WorkflowRow, workflow_id)
    if row is None:
        raise NotFound("workflow", workflow_id)
    return row


def _access(session: Session, row: WorkflowRow) -> WorkflowAccess:
    ids = row.approvers or []
    users = session.exec(select(UserRow).where(col(UserRow.id).in_(ids))).all() if ids else []
    return WorkflowAccess(approvers=sorted(user.email for user in users), allow_self_approval=row.allow_self_approval)
