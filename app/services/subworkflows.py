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
from typing import Any, Protocol

from app.engine.events import EventBus
from app.engine.exceptions import AgentError, Conflict, InvalidInput, NotFound, WorkflowInvalid
from app.engine.model import RunRecord, RunStatus, Trigger
from app.engine.store import RunStore

__all__ = ["MAX_DEPTH", "RunControl", "SubWorkflowService"]

log = logging.getLogger("flowyard.subworkflows")

MAX_DEPTH = 10
"""How deeply runs may nest: a chain of distinct workflows longer than this is refused all the same."""
_ENDED = frozenset(s.value for s in RunStatus if s.is_terminal)


class RunControl(Protocol):
    """What sub-workflows need of the runs service (`app.services.runs.RunService`)."""

    async def start(
        self,
        workflow_id: str,
        *,
        input: Any,
        session_id: str | None = None,
        trigger: Trigger = Trigger.API,
        parent_run_id: str | None = None,
        parent_node_key: str | None = None,
        chain: tuple[str, ...] = (),
    ) -> RunRecord: ...

    async def child_id(self, run_id: str, node_key: str) -> str | None: ...

    async def rerun_failed(self, run_id: str) -> RunRecord: ...

    async def cancel(self, run_id: str) -> RunRecord: ...


class SubWorkflowService:
    """Runs workflows as steps of other workflows: the `WorkflowRunner` Flowyard lends its agents."""

    def __init__(self, runs: RunControl, store: RunStore, bus: EventBus, *, poll_seconds: float = 2.0) -> None:
        self._runs = runs
        self._store = store
        self._bus = bus
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
        store = self._store
        # A trial (the editor's Try, the Agents page's Test) has no stored run: its child is a run of its own.
        parent = await store.get_run(parent_run_id)
        child = await self._child_of(parent, node_key, workflow_id)
        if child is None:
            child = await self._start(workflow_id, input, parent, node_key, chain)
        elif child.status in (RunStatus.FAILED, RunStatus.CANCELLED):
            log.info("run %s step %s: re-running its sub-workflow run %s", parent_run_id, node_key, child.id)
            with contextlib.suppress(Conflict):  # someone re-ran it a moment ago: wait on that
                await self._runs.rerun_failed(child.id)
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

        child_id = await self._runs.child_id(parent.id, node_key)
        child = await self._store.get_run(child_id) if child_id else None
        return child if child is not None and child.workflow_id == workflow_id else None

    async def _start(
        self, workflow_id: str, input: Any, parent: RunRecord | None, node_key: str, chain: tuple[str, ...]
    ) -> RunRecord:
        try:
            return await self._runs.start(
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
        async with self._bus.subscribe(maxsize=64) as events:

            async def watch() -> None:
                async for event in events:
                    if event.run_id == run_id and event.node_key is None and event.status in _ENDED:
                        ended.set()

            watcher = asyncio.create_task(watch(), name=f"await run {run_id}")
            try:
                while True:
                    ended.clear()
                    run = await self._store.get_run(run_id)
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
            parent = await self._store.get_run(parent_run_id)
            if parent is not None and (parent.cancel_requested or parent.status is RunStatus.CANCELLED):
                with contextlib.suppress(Conflict, NotFound):
                    await self._runs.cancel(child_id)
        except Exception:
            log.exception("could not cancel sub-workflow run %s with its parent %s", child_id, parent_run_id)
