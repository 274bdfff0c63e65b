"""Approvals: the inbox of steps waiting for a person, one approval with its context, and deciding it.

A decision goes through the executor's own decide path, the one the ordered-steps API's resume and
reject take, so the run carries on (or fails) the same way whoever decides.
"""

from __future__ import annotations

from typing import Any

from app.engine.exceptions import Conflict, InvalidInput, NotFound
from app.engine.executor import Executor
from app.engine.model import Approval, ApprovalStatus, WorkflowDefinition
from app.engine.plan import effective_config
from app.engine.store import RunStore
from app.models.approvals import ApprovalContext, ApprovalPage, Decision
from app.models.people import Principal
from app.services.approvers import ApproverRules
from app.services.audit import AuditService
from app.services.json_diff import JsonChange, json_changes, text_diff
from storage import history
from storage.db import Database

__all__ = ["ApprovalService"]

TITLE_CACHE_SIZE = 1024


class ApprovalService:
    def __init__(
        self, db: Database, store: RunStore, executor: Executor, approvers: ApproverRules, audit: AuditService
    ) -> None:
        self._db = db
        self._audit = audit
        self._store = store
        self._executor = executor
        self._approvers = approvers
        self._titles: dict[tuple[str, int], dict[str, str]] = {}  # step names of frozen versions, for the inbox

    async def pending(self, *, after: str | None = None, size: int = 50) -> ApprovalPage:
        """Approvals waiting for a person across all workflows, newest first; `after` is the last page's
        `next_cursor`."""
        if len(self._titles) > TITLE_CACHE_SIZE:
            self._titles.clear()
        return await self._db.read(lambda c: history.pending_approvals(c, after=after, size=size, titles=self._titles))

    async def context(self, approval_id: str) -> ApprovalContext:
        """One approval with the run's input, the outputs of the steps it depends on, and its decision."""
        record = await self._db.read(lambda c: history.find_approval(c, approval_id))
        if record is None:
            raise NotFound("approval", approval_id)
        definition = await self._store.get_definition(record.workflow_id, record.workflow_version)
        nodes = await self._store.get_node_runs(record.run_id)
        spec = None
        ancestors: set[str] = set()
        if definition is not None:
            spec = next((n for n in definition.nodes if n.key == record.node_key), None)
            ancestors = _ancestors(definition, record.node_key)
        instructions = ""
        if spec is not None:
            agents = await self._store.get_agents([spec.agent_id])
            saved = agents.get(spec.agent_id)
            config = effective_config(spec, saved) if saved is not None else spec.config
            instructions = str(config.get("instructions") or "")
        return ApprovalContext(
            id=record.id,
            status=record.status,
            run_id=record.run_id,
            run_status=record.run_status,
            workflow_id=record.workflow_id,
            workflow_name=record.workflow_name,
            workflow_version=record.workflow_version,
            node_key=record.node_key,
            node_title=(spec.name if spec is not None else "") or record.node_key,
            instructions=instructions,
            proposal=record.proposal,
            output=record.output,
            run_input=record.run_input,
            upstream={n.node_key: n.output for n in nodes if n.node_key in ancestors and n.status.value == "COMPLETED"},
            waiting_since=record.created_at,
            deadline_at=record.deadline_at,
            on_deadline=record.on_deadline,
            decided_by=record.decided_by,
            decided_at=record.decided_at,
            reason=record.reason,
            details=record.details,
        )

    async def decide(
        self,
        approval_id: str,
        decision: Decision,
        *,
        by: Principal,
        output: Any = None,
        reason: str | None = None,
    ) -> Approval:
        """Decide one approval as `by` and carry its run on, through the executor's own decide path.

        "approve" takes the proposal as it stands (`output` must be None), "approve_edited" takes `output`
        instead, "reject" fails the step with `reason`. Who, when, the reason and the approved output are
        kept on the approval. Raises NotFound for an unknown id, Forbidden when `by` may not decide this
        workflow's steps, Conflict when it was decided already (or its run is busy this instant, carrying on
        from another decision: try again), InvalidInput for a bad one.
        """
        if decision not in ("approve", "approve_edited", "reject"):
            raise InvalidInput("decision", "one of approve, approve_edited, reject")
        if decision == "approve" and output is not None:
            raise InvalidInput("output", "approve takes the proposal as it is; use approve_edited to change it")
        if decision == "approve_edited" and output is None:
            raise InvalidInput("output", "approve_edited needs the edited output")
        if reason is not None and len(reason) > 5000:
            raise InvalidInput("reason", "at most 5000 characters")
        record = await self._db.read(lambda c: history.find_approval(c, approval_id))
        if record is None:
            raise NotFound("approval", approval_id)
        await self._approvers.check(by, record.run_id)
        if record.status != ApprovalStatus.PENDING:
            who = f" by {record.decided_by}" if record.decided_by else ""
            raise Conflict(f"approval '{approval_id}' is {record.status.lower()} already{who}")
        approved = decision != "reject"
        decided = await self._executor.decide(
            record.run_id,
            record.node_key,
            approved=approved,
            output=(record.proposal if decision == "approve" else output) if approved else None,
            decided_by=by.label,
            reason=reason,
        )
        await self._recorded(by, decision, decided)
        return decided

    async def resume(
        self, run_id: str, *, by: Principal, output: Any, node_key: str | None = None, decided_by: str | None = None
    ) -> Approval:
        """The ordered-steps API's resume: approve the paused step of a run with `output` as its output.

        `decided_by` (a caller's own name for who decided) is kept only for the bootstrap admin token, which
        is nobody in particular; a person's token or login is recorded as that person.
        """
        await self._approvers.check(by, run_id)
        who = _who(by, decided_by)
        decided = await self._executor.decide(run_id, node_key, approved=True, output=output, decided_by=who)
        await self._recorded(by, "approve", decided)
        return decided

    async def reject(
        self, run_id: str, *, by: Principal, reason: str, node_key: str | None = None, decided_by: str | None = None
    ) -> Approval:
        """The ordered-steps API's reject: the paused step and its run fail with `reason`."""
        await self._approvers.check(by, run_id)
        who = _who(by, decided_by)
        decided = await self._executor.decide(run_id, node_key, approved=False, reason=reason, decided_by=who)
        await self._recorded(by, "reject", decided)
        return decided

    async def _recorded(self, by: Principal, decision: str, approval: Approval) -> None:
        await self._audit.record(by, f"approval.{decision}", target=approval.run_id, detail=f"step {approval.node_key}")

    @staticmethod
    def changes(proposal: Any, output: Any) -> list[JsonChange]:
        """What an edit changed: each JSON path with its value before and after (see `json_diff`)."""
        return json_changes(proposal, output)

    @staticmethod
    def text_diff(proposal: Any, output: Any) -> str:
        """The same as a unified diff of the pretty-printed JSON ("" when nothing changed)."""
        return text_diff(proposal, output)


def _who(by: Principal, claimed: str | None) -> str:
    if claimed is not None and len(claimed) > 200:
        raise InvalidInput("decided_by", "at most 200 characters")
    return claimed if claimed and by.kind == "admin-token" else by.label


def _ancestors(definition: WorkflowDefinition, key: str) -> set[str]:
    """The keys of every step `key` depends on, directly or through others."""
    sources: dict[str, list[str]] = {}
    for edge in definition.edges:
        sources.setdefault(edge.target, []).append(edge.source)
    found: set[str] = set()
    todo = list(sources.get(key, []))
    while todo:
        node = todo.pop()
        if node not in found:
            found.add(node)
            todo.extend(sources.get(node, []))
    return found
