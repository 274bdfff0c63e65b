"""Runs: start one, follow it, cancel it, re-run it; the run history across workflows; token usage; pruning.

Starting a run validates the workflow and its input, freezes the version it runs, stores it QUEUED and
hands it to the executor; everything after that is the executor's (`app.engine.executor`).
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from app import ids
from app.engine.callbacks import callback_url_problem
from app.engine.exceptions import InputInvalid, InvalidInput, NotFound, WorkflowInvalid
from app.engine.executor import Executor
from app.engine.inputs import input_problems, workflow_input_schemas
from app.engine.kinds import Kinds
from app.engine.model import AgentStep, Approval, CallbackDelivery, RunRecord, RunStatus, Trigger, WorkflowDefinition
from app.engine.plan import Plan, agents_fingerprint, validate
from app.engine.store import AgentRecord, RunStore
from app.models.base import Page
from app.models.people import Principal
from app.models.runs import (
    ActiveCounts,
    Activity,
    AgentStepPublic,
    ApprovalPublic,
    NodeRunPublic,
    PruneResult,
    RunDetail,
    RunPage,
    RunPublic,
    RunQuery,
    TokenUsage,
    duration_ms,
)
from app.services.audit import AuditService
from app.services.references import reference_problems
from app.services.workflows import find_workflow
from storage import history
from storage import repositories as repo
from storage.db import Database
from storage.models import NodeRunRow, RunRow

__all__ = ["RunService", "up_to"]

VERSION_CACHE_SIZE = 256


class RunService:
    """Runs on the database, driven by the executor."""

    def __init__(
        self,
        db: Database,
        store: RunStore,
        executor: Executor,
        audit: AuditService,
        *,
        kinds: Kinds,
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._audit = audit
        self._store = store
        self._executor = executor
        self._kinds = kinds
        self._now = now
        self._definitions: dict[tuple[str, int], WorkflowDefinition] = {}
        self._validated: dict[tuple[str, int], str] = {}

    # --- starting a run -------------------------------------------------------------------------------

    async def start(
        self,
        workflow_id: str,
        *,
        input: Any,
        session_id: str | None = None,
        trigger: Trigger = Trigger.API,
        callback_url: str | None = None,
        input_field: str = "input",
        parent_run_id: str | None = None,
        parent_node_key: str | None = None,
        chain: tuple[str, ...] = (),
        started_by: str | None = None,
        until: str | None = None,
    ) -> RunRecord:
        """Validate the workflow and the input, freeze the version, store a QUEUED run and start executing it.

        `started_by` names who started it (a principal's label), for the record and the self-approval rule.

        The input must fit the workflow's input schema (its entry steps'); `input_field` is where the caller
        sent it, to name bad fields the caller's way ("" when the input's fields are the body's own).
        When the run ends, its result is POSTed to `callback_url`. A sub-workflow's run names the run and
        step that start it and the workflows it is nested in (`app.services.subworkflows`). With `until` (a
        step's key) only that step and the steps it depends on run, and the input needs only what they need.
        """
        if callback_url is not None and (problem := callback_url_problem(callback_url)):
            raise InvalidInput("callbackUrl", problem)
        now = self._now()
        version = await self._db.tx(lambda s: self._prepare(s, workflow_id, input, input_field, now, until))
        run = RunRecord(
            id=ids.new_run_id(),
            workflow_id=workflow_id,
            workflow_version=version,
            status=RunStatus.QUEUED,
            input=input,
            session_id=session_id or ids.new_session_id(),
            trigger=trigger,
            started_by=started_by,
            callback_url=callback_url,
            created_at=now,
            updated_at=now,
            parent_run_id=parent_run_id,
            parent_node_key=parent_node_key,
            chain=chain,
            until=until,
        )
        await self._store.create_run(run)
        self._executor.submit(run.id)
        return run

    def _prepare(
        self, session: Session, workflow_id: str, input: Any, input_field: str, now: datetime, until: str | None = None
    ) -> int:
        """Check that the workflow can run with `input` (up to `until`) and freeze its current version; return
        the version."""
        workflow = find_workflow(session, workflow_id)
        version = (workflow_id, workflow.version)
        definition = self._definitions.get(version)
        if definition is None:
            definition = repo.get_definition(session, workflow_id=workflow_id)
        agents = {
            a.id: AgentRecord(a.id, a.kind, a.name, a.config)
            for a in repo.get_agents(session, agent_ids={n.agent_id for n in definition.nodes})
        }
        fingerprint = agents_fingerprint(agents)
        if self._validated.get(version) != fingerprint:
            problems = validate(definition, agents, self._kinds)
            if problems:
                raise WorkflowInvalid(problems, workflow_id=workflow_id)
        # Not cached: the workflows this one runs may have changed since.
        if problems := reference_problems(session, workflow_id, definition, agents):
            raise WorkflowInvalid(problems, workflow_id=workflow_id)
        needed = definition
        if until is not None:
            if until not in {n.key for n in definition.nodes}:
                raise InvalidInput("until", f"the workflow has no step '{until}'")
            needed = up_to(definition, until)
        schemas = workflow_input_schemas(needed, agents, self._kinds)
        bad_input = input_problems(schemas, input, path=input_field)
        if bad_input:
            raise InputInvalid(bad_input)
        if version not in self._definitions:
            repo.snapshot_version(session, workflow=workflow, definition=definition, now=now)
        self._remember(version, definition, fingerprint)
        return workflow.version

    def _remember(self, version: tuple[str, int], definition: WorkflowDefinition, fingerprint: str) -> None:
        """Cache a frozen, validated version (a version's definition never changes)."""
        self._definitions[version] = definition
        self._validated[version] = fingerprint
        while len(self._definitions) > VERSION_CACHE_SIZE:
            oldest = next(iter(self._definitions))
            del self._definitions[oldest]
            self._validated.pop(oldest, None)

    # --- one run ----------------------------------------------------------------------------------------

    async def list(self, workflow_id: str, *, page: int, size: int) -> Page[RunPublic]:
        """A workflow's runs, newest first."""

        def read(session: Session) -> tuple[builtins.list[RunRow], int]:
            find_workflow(session, workflow_id)
            return repo.list_runs(session, workflow_id=workflow_id, offset=page * size, limit=size)

        rows, total = await self._db.tx(read)
        return Page([RunPublic.of(r) for r in rows], total, page, size)

    async def get(self, run_id: str) -> RunRecord:
        """The run as the engine keeps it (status, input, output, error, trigger, callback…); NotFound."""
        run = await self._store.get_run(run_id)
        if run is None:
            raise NotFound("run", run_id)
        return run

    async def public(self, run_id: str) -> RunPublic:
        """The run as the run history lists it (with its duration so far)."""
        return RunPublic.of(await self._row(run_id))

    async def _row(self, run_id: str) -> RunRow:
        def read(session: Session) -> RunRow:
            run = repo.get_run(session, run_id=run_id)
            if run is None:
                raise NotFound("run", run_id)
            return run

        return await self._db.tx(read)

    async def child_id(self, run_id: str, node_key: str) -> str | None:
        """The id of the run that the `workflow` step `node_key` of run `run_id` started (a sub-workflow)."""
        row = await self._db.tx(lambda s: repo.find_child_run(s, parent_run_id=run_id, parent_node_key=node_key))
        return row.id if row is not None else None

    async def detail(self, run_id: str) -> tuple[RunDetail, WorkflowDefinition | None]:
        """The run with every step's input, output, error and timing, its approvals, and the graph it ran."""
        run = await self._row(run_id)
        nodes = await self._db.tx(lambda s: repo.list_node_runs(s, run_id=run_id))
        approvals = await self._store.get_approvals(run_id)
        loops: dict[str, builtins.list[AgentStepPublic]] = {}
        for step in await self._store.get_agent_steps(run_id):
            loops.setdefault(step.node_key, []).append(_agent_step_public(step))
        definition = await self._store.get_definition(run.workflow_id, run.workflow_version)
        agent_of = {n.key: n.agent_id for n in definition.nodes} if definition else {}
        order = {n.key: i for i, n in enumerate(definition.nodes)} if definition else {}
        ordered = sorted(nodes, key=lambda n: (n.step_order or 0, order.get(n.node_key, 0)))
        detail = RunDetail.of(
            run,
            input=run.input,
            output=run.output,
            error=run.error,
            parent_run_id=run.parent_run_id,
            until=run.until_node,
            callback_url=run.callback_url,
            started_at=run.started_at,
            finished_at=run.finished_at,
            nodes=[_node_public(n, agent_of.get(n.node_key), loops.get(n.node_key)) for n in ordered],
            approvals=[ApprovalPublic.of(a) for a in approvals],
        )
        return detail, definition

    async def approvals(self, run_id: str) -> builtins.list[Approval]:
        return await self._store.get_approvals(run_id)

    async def cancel(self, run_id: str) -> RunRecord:
        return await self._executor.cancel(run_id)

    async def rerun_failed(self, run_id: str) -> RunRecord:
        return await self._executor.rerun_failed(run_id)

    async def delete(self, run_ids: Sequence[str], *, by: Principal) -> PruneResult:
        """Delete the runs of `run_ids` that have ended, with their steps, approvals and callback deliveries.

        Queued, running and paused runs are kept (cancel them first); `PruneResult.runs` says how many went.
        """
        if len(run_ids) > history.MAX_PAGE_SIZE:
            raise InvalidInput("runs", f"delete at most {history.MAX_PAGE_SIZE} runs at once")
        gone = await asyncio.to_thread(history.delete_finished, self._db.engine, run_ids)
        if gone.runs:
            shown = ", ".join(list(run_ids)[:20]) + (" …" if len(run_ids) > 20 else "")
            await self._audit.record(by, "runs.delete", detail=f"{gone.runs} of {len(run_ids)}: {shown}")
        return gone

    async def callback_deliveries(self, run_id: str) -> builtins.list[CallbackDelivery]:
        """Every attempt at the run's callback, oldest first."""
        return await self._store.get_callback_deliveries(run_id)

    async def token_usage(self, *, run_id: str | None = None, workflow_id: str | None = None) -> TokenUsage:
        """Tokens the llm steps used: of one run (summed over its node runs), or of every run of a workflow.

        Give exactly one of the two. `estimated` says (for a run) that some step's server reported no usage,
        so its count is an estimate. Raises NotFound for an unknown run or workflow.
        """
        if (run_id is None) == (workflow_id is None):
            raise InvalidInput("run_id", "give a run id or a workflow id, not both or neither")

        def read(session: Session) -> TokenUsage:
            if run_id is not None:
                if repo.get_run(session, run_id=run_id) is None:
                    raise NotFound("run", run_id)
                return TokenUsage.of([n.usage for n in repo.list_node_runs(session, run_id=run_id)])
            assert workflow_id is not None
            find_workflow(session, workflow_id)
            columns = (RunRow.prompt_tokens, RunRow.completion_tokens, RunRow.total_tokens)
            query = sa.select(*(sa.func.coalesce(sa.func.sum(c), 0) for c in columns)).where(
                col(RunRow.workflow_id) == workflow_id
            )
            prompt, completion, total = session.execute(query).one()
            return TokenUsage(int(prompt), int(completion), int(total))

        return await self._db.tx(read)

    # --- the history across workflows ---------------------------------------------------------------------

    async def list_all(self, query: RunQuery | None = None, *, after: str | None = None, size: int = 50) -> RunPage:
        """Runs of every workflow matching `query`, newest first (by created_at, then id).

        Pass the page's `next_cursor` as `after` for the next one. Raises InvalidInput naming "after" for
        a cursor this method did not give out, or "size" outside 1..500.
        """
        wanted = query or RunQuery()
        return await self._db.read(lambda c: history.list_runs(c, wanted, after=after, size=size))

    async def active_counts(self) -> ActiveCounts:
        """Queued, running and paused runs, and pending approvals: the header badge (indexed counts)."""
        return await self._db.read(history.active_counts)

    async def activity(self) -> Activity:
        """What the shell shows live: runs queued or running, and approvals waiting for a person."""

        def read(session: Session) -> Activity:
            return Activity(
                active_runs=repo.count_runs(session, statuses=(RunStatus.QUEUED, RunStatus.RUNNING)),
                pending_approvals=repo.count_pending_approvals(session),
            )

        return await self._db.tx(read)

    async def prune(
        self,
        *,
        older_than: timedelta | None = None,
        keep_per_workflow: int | None = None,
        workflow_id: str | None = None,
        statuses: Sequence[RunStatus] | None = None,
    ) -> PruneResult:
        """Delete finished runs with their node runs, approvals and callback deliveries, in short batches.

        A run goes when it has ended (with one of `statuses`, when given), was created more than `older_than`
        ago (when given) and is not among the `keep_per_workflow` newest runs of its workflow (when given);
        give at least one of those two. Queued, running and paused runs are never deleted. Runs in a worker
        thread so the event loop stays free.
        """
        if workflow_id is not None:
            await self._db.tx(lambda s: find_workflow(s, workflow_id))
        now = self._now()

        def prune() -> PruneResult:
            total = PruneResult()
            for batch in history.prune_batches(
                self._db.engine,
                now=now,
                older_than=older_than,
                keep_per_workflow=keep_per_workflow,
                workflow_id=workflow_id,
                statuses=statuses or history.FINISHED_STATUSES,
            ):
                total += batch
            return total

        return await asyncio.to_thread(prune)


def up_to(definition: WorkflowDefinition, key: str) -> WorkflowDefinition:
    """The part of `definition` that “run up to `key`” runs: the step and the steps it depends on."""
    wanted = Plan.of(definition).upstream(key)
    return WorkflowDefinition(
        nodes=[n for n in definition.nodes if n.key in wanted],
        edges=[e for e in definition.edges if e.source in wanted and e.target in wanted],
    )


def _agent_step_public(step: AgentStep) -> AgentStepPublic:
    return AgentStepPublic(
        seq=step.seq,
        kind=step.kind,
        status=step.status.value,
        turn=step.turn,
        call_id=step.call_id,
        tool=step.tool,
        arguments=step.arguments,
        result=step.result,
        text=step.text,
        error=step.error,
        usage=step.usage,
        approval_id=step.approval_id,
        started_at=step.started_at,
        finished_at=step.finished_at,
        duration_ms=duration_ms(step.started_at, step.finished_at),
    )


def _node_public(
    row: NodeRunRow, agent_id: str | None, loop: builtins.list[AgentStepPublic] | None = None
) -> NodeRunPublic:
    return NodeRunPublic(
        loop=loop,
        key=row.node_key,
        step_order=row.step_order,
        agent_id=agent_id,
        status=row.status,
        attempt=row.attempt,
        input=row.input,
        output=row.output,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_ms=duration_ms(row.started_at, row.finished_at),
        usage=row.usage,
    )
