"""Sub-workflows: the runner behind the `workflow` kind, and the check that no workflow runs itself.

A `workflow` step starts its child as an ordinary stored run (trigger "workflow") that records the
parent run, the step, and the chain of workflows it is nested in, then waits for it: on the event
bus, and by reading the store now and then, since the bus may drop events for a slow subscriber and
the child may run in another process. The child is found again by its parent run and step, so a
step that runs again (after a crash, on a retry, in a re-run of a failed run) waits on the child it
started instead of starting another; a child that failed or was cancelled is re-run from where it
stopped, keeping its completed nodes.

When the parent run is cancelled, its waiting children are cancelled too. A step that times out
leaves its child running: a re-run of the step picks up the child's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from app.agents.workflow import SubWorkflow
from app.engine.exceptions import AgentError, Conflict, InvalidInput, NotFound, Problem, WorkflowInvalid
from app.engine.model import RunRecord, RunStatus, Trigger, WorkflowDefinition
from app.engine.plan import effective_config
from app.engine.store import AgentRecord
from storage import repositories as repo

if TYPE_CHECKING:
    from app.services import Flowyard

__all__ = ["MAX_DEPTH", "SubWorkflows", "reference_problems"]

log = logging.getLogger("flowyard.subworkflows")

MAX_DEPTH = 10
"""How deeply runs may nest: a chain of distinct workflows longer than this is refused all the same."""
_ENDED = frozenset(s.value for s in RunStatus if s.is_terminal)


class SubWorkflows:
    """Runs workflows as steps of other workflows: the `WorkflowRunner` Flowyard lends its agents."""

    def __init__(self, flowyard: Flowyard, *, poll_seconds: float = 2.0) -> None:
        self._flowyard = flowyard
        self._poll = poll_seconds

    async def run(
        self, workflow_id: str, input: Any, *, parent_run_id: str, node_key: str, chain: tuple[str, ...]
    ) -> Any:
        chain = tuple(w for w in chain if w)
        if workflow_id in chain:
            path = " → ".join((*chain[chain.index(workflow_id) :], workflow_id))
            raise AgentError(
                f"workflow '{workflow_id}' is already running further up ({path}); a workflow cannot run itself",
                retryable=False,
            )
        if len(chain) >= MAX_DEPTH:
            raise AgentError(f"workflows nest at most {MAX_DEPTH} deep: {' → '.join(chain)}", retryable=False)
        store = self._flowyard.store
        # A trial (the editor's Try, the Agents page's Test) has no stored run: its child is a run of its own.
        parent = await store.get_run(parent_run_id)
        child = await self._child_of(parent, node_key, workflow_id)
        if child is None:
            child = await self._start(workflow_id, input, parent, node_key, chain)
        elif child.status in (RunStatus.FAILED, RunStatus.CANCELLED):
            log.info("run %s step %s: re-running its sub-workflow run %s", parent_run_id, node_key, child.id)
            with contextlib.suppress(Conflict):  # someone re-ran it a moment ago: wait on that
                await self._flowyard.rerun_failed(child.id)
        try:
            ended = await self._wait(child.id)
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel_with(parent_run_id, child.id))
            raise
        if ended.status is RunStatus.COMPLETED:
            return ended.output
        what = "was cancelled" if ended.status is RunStatus.CANCELLED else f"failed: {ended.error or 'no reason given'}"
        raise AgentError(f"sub-workflow run {child.id} (workflow '{workflow_id}') {what}")

    async def _child_of(self, parent: RunRecord | None, node_key: str, workflow_id: str) -> RunRecord | None:
        if parent is None:
            return None

        def find() -> str | None:
            with Session(self._flowyard.db.engine) as session:
                row = repo.find_child_run(session, parent_run_id=parent.id, parent_node_key=node_key)
                return row.id if row is not None and row.workflow_id == workflow_id else None

        child_id = await self._flowyard.db.run(find)
        return await self._flowyard.store.get_run(child_id) if child_id else None

    async def _start(
        self, workflow_id: str, input: Any, parent: RunRecord | None, node_key: str, chain: tuple[str, ...]
    ) -> RunRecord:
        try:
            return await self._flowyard.start_run(
                workflow_id,
                input=input,
                session_id=parent.session_id if parent is not None else None,
                trigger=Trigger.WORKFLOW,
                parent_run_id=parent.id if parent is not None else None,
                parent_node_key=node_key if parent is not None else None,
                chain=chain,
            )
        except NotFound:
            raise AgentError(f"workflow '{workflow_id}' does not exist", retryable=False) from None
        except WorkflowInvalid as exc:
            problems = "; ".join(p.message for p in exc.problems[:5])
            raise AgentError(f"workflow '{workflow_id}' cannot run: {problems}", retryable=False) from None
        except InvalidInput as exc:
            raise AgentError(f"workflow '{workflow_id}' refused the input: {exc}", retryable=False) from None

    async def _wait(self, run_id: str) -> RunRecord:
        """The run once it has ended; woken by its end event, or by a look at the store every few seconds."""
        ended = asyncio.Event()
        async with self._flowyard.bus.subscribe(maxsize=64) as events:

            async def watch() -> None:
                async for event in events:
                    if event.run_id == run_id and event.node_key is None and event.status in _ENDED:
                        ended.set()

            watcher = asyncio.create_task(watch(), name=f"await run {run_id}")
            try:
                while True:
                    ended.clear()
                    run = await self._flowyard.store.get_run(run_id)
                    if run is None:
                        raise AgentError(f"sub-workflow run {run_id} was deleted", retryable=False)
                    if run.status.is_terminal:
                        return run
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ended.wait(), self._poll)
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)

    async def _cancel_with(self, parent_run_id: str, child_id: str) -> None:
        """Cancel the child when its parent run is being cancelled (not when this process stops)."""
        try:
            parent = await self._flowyard.store.get_run(parent_run_id)
            if parent is not None and (parent.cancel_requested or parent.status is RunStatus.CANCELLED):
                with contextlib.suppress(Conflict, NotFound):
                    await self._flowyard.cancel(child_id)
        except Exception:
            log.exception("could not cancel sub-workflow run %s with its parent %s", child_id, parent_run_id)


# --- the static check ---------------------------------------------------------------------------------------------


def _targets(definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]) -> list[tuple[str, str]]:
    """(node key, workflow id) of every `workflow` step in `definition`."""
    found: list[tuple[str, str]] = []
    for node in definition.nodes:
        agent = agents.get(node.agent_id)
        if agent is not None and agent.kind == SubWorkflow.kind:
            target = effective_config(node, agent).get("workflow_id")
            if isinstance(target, str) and target:
                found.append((node.key, target))
    return found


def reference_problems(
    session: Session, workflow_id: str, definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]
) -> list[Problem]:
    """Problems of the `workflow` steps of `definition` (the definition of `workflow_id`, saved or not):
    a workflow that does not exist, and recursion — a workflow that runs itself, directly or through others,
    or runs one that does. The other workflows are read as they are saved now."""
    steps = _targets(definition, agents)
    if not steps:
        return []
    calls: dict[str, list[str] | None] = {workflow_id: [target for _, target in steps]}
    names: dict[str, str] = {}

    def called_by(current: str) -> list[str] | None:
        """The workflows `current` runs; None when it does not exist."""
        if current not in calls:
            row = repo.get_workflow(session, workflow_id=current)
            if row is None:
                calls[current] = None
            else:
                names[current] = row.name
                saved = repo.get_definition(session, workflow_id=current)
                used = {
                    a.id: AgentRecord(a.id, a.kind, a.name, a.config)
                    for a in repo.get_agents(session, agent_ids={n.agent_id for n in saved.nodes})
                }
                calls[current] = [target for _, target in _targets(saved, used)]
        return calls[current]

    problems: list[Problem] = []
    for key, target in steps:
        if target == workflow_id:
            problems.append(Problem(f"node '{key}' runs this workflow itself; a workflow cannot run itself", node=key))
            continue
        if called_by(target) is None:
            problems.append(
                Problem(f"node '{key}' runs workflow '{target}', which does not exist", node=key, field="config")
            )
            continue
        cycle = _cycle_from(target, workflow_id, called_by)
        if cycle is not None:
            label = f"'{names.get(target, target)}' ({target})"
            path = " → ".join(cycle)
            how = "runs this workflow again" if cycle[-1] == workflow_id else "runs itself"
            problems.append(
                Problem(
                    f"node '{key}' runs workflow {label}, which {how}: {path}; a workflow cannot run itself", node=key
                )
            )
    return problems


def _cycle_from(start: str, root: str, called_by: Any) -> list[str] | None:
    """A path from `start` back to `root`, else one into a cycle among the workflows `start` reaches, else None."""
    path: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()
    found: list[str] | None = None

    def visit(current: str) -> list[str] | None:
        nonlocal found
        path.append(current)
        on_path.add(current)
        for nxt in called_by(current) or []:
            if nxt == root:
                return [root, *path, root]
            if nxt in on_path and found is None:
                found = [*path, nxt]
            elif nxt not in done and nxt not in on_path:
                back = visit(nxt)
                if back is not None:
                    return back
        path.pop()
        on_path.discard(current)
        done.add(current)
        return None

    return visit(start) or found
