"""One step of a run: every attempt of its agent, with the step's timeout, retries and backoff.

A mixin of `app.engine.executor.Executor`: the driver stores a step's RUNNING record, runs it here, and
stores the outcome this returns (a completed output, a failure, or a proposal waiting for approval).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError

from app import clock, ids
from app.engine.events import EventBus
from app.engine.exceptions import AgentError, NodeError, NodeTimeout
from app.engine.journal import StepJournal
from app.engine.kinds import AgentContext, AgentKind, AgentResult, AgentServices
from app.engine.model import Approval, NodeRunRecord, NodeStatus, RunRecord
from app.engine.plan import Plan
from app.engine.state import RunState
from app.engine.store import RunStore

__all__ = ["MAX_BACKOFF_SECONDS", "NodeAttempts", "Outcome", "total_tokens"]

MAX_BACKOFF_SECONDS = 300.0


@dataclass
class Outcome:
    record: NodeRunRecord
    approval: Approval | None = None


class NodeAttempts:
    """The executor's part that runs one step (see the module doc)."""

    store: RunStore
    owner: str
    http: httpx.AsyncClient
    services: AgentServices
    bus: EventBus
    _now: Callable[[], datetime]
    _sleep: clock.Sleep
    _slots: asyncio.Semaphore
    _tokens: dict[str, int]

    def _publish(
        self, run: RunRecord, status: str, *, node_key: str | None = None, data: dict[str, Any] | None = None
    ) -> None:
        raise NotImplementedError

    async def _run_node(
        self,
        run: RunRecord,
        plan: Plan,
        state: RunState,
        agent: AgentKind,
        key: str,
        record: NodeRunRecord,
        context: dict[str, Any],
    ) -> Outcome:
        """Every attempt of one node. Its RUNNING record is stored already; the driver stores the outcome."""
        node = plan.nodes[key]
        attempts = node.retries + 1
        for number in range(1, attempts + 1):
            if number > 1:
                record.attempt = state.attempts[key] = state.attempts[key] + 1
                record.status, record.started_at, record.finished_at = NodeStatus.RUNNING, self._now(), None
                await self.store.save_nodes(self.owner, [record], now=record.started_at)
                self._publish(run, record.status.value, node_key=key, data={"attempt": record.attempt})
            try:
                result = await self._attempt(run, node.timeout_seconds, agent, key, node.action, context)
            except NodeError as exc:
                self._count_usage(run.id, record, getattr(exc, "usage", None), total=agent.usage_is_total)
                record.error = str(exc)
                record.finished_at = self._now()
                if not exc.retryable or number == attempts:
                    record.status = NodeStatus.FAILED
                    return Outcome(record)
                delay = min(node.retry_backoff_seconds * 2 ** (number - 1), MAX_BACKOFF_SECONDS)
                if isinstance(exc, AgentError) and exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, MAX_BACKOFF_SECONDS))
                await self._sleep(delay)
                continue
            self._count_usage(run.id, record, result.usage, total=agent.usage_is_total)
            record.output, record.handles = result.output, result.handles
            record.error, record.finished_at = None, self._now()
            if result.wait_for_approval or node.needs_approval:
                record.status = NodeStatus.WAITING_APPROVAL
                own = result.wait_for_approval and result.approval is not None
                wait = result.approval_deadline_seconds if own else node.approval_deadline_seconds
                approval = Approval(
                    id=ids.new_approval_id(),
                    run_id=run.id,
                    node_key=key,
                    proposal=result.output,
                    created_at=record.finished_at,
                    deadline_at=record.finished_at + timedelta(seconds=wait) if wait else None,
                    on_deadline=(result.on_deadline or "wait") if own else node.on_deadline,
                    extra=dict(result.approval or {}) if own else {},
                )
                return Outcome(record, approval)
            record.status = NodeStatus.COMPLETED
            return Outcome(record)
        raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover

    def _count_usage(
        self, run_id: str, record: NodeRunRecord, usage: dict[str, Any] | None, *, total: bool = False
    ) -> None:
        """Add one attempt's token usage to its node run (every attempt's tokens were spent) and the run's tally.

        With `total`, `usage` is the step's whole usage so far (an agent's loop, across resumes): the record
        takes it and the tally adds what is new."""
        if not usage:
            return
        if total:
            spent = total_tokens(usage) - total_tokens(record.usage)
            record.usage = dict(usage)
        else:
            spent = total_tokens(usage)
            record.usage = _merge_usage(record.usage, usage)
        self._tokens[run_id] = self._tokens.get(run_id, 0) + max(spent, 0)

    async def _attempt(
        self, run: RunRecord, timeout: float | None, agent: AgentKind, key: str, action: str, context: dict[str, Any]
    ) -> AgentResult:
        ctx = AgentContext(
            run_id=run.id,
            node_key=key,
            action=action,
            input=context["input"],
            mapping_context=context,
            http=self.http,
            session_id=run.session_id,
            workflow_id=run.workflow_id,
            services=self.services,
            stream=lambda text: self._publish(run, NodeStatus.RUNNING.value, node_key=key, data={"delta": text}),
            run_tokens=self._tokens.get(run.id, 0),
            chain=run.chain,
            sleep=self._sleep,
        )
        if agent.journals:
            ctx.journal = await StepJournal.load(
                self.store,
                self.owner,
                run.id,
                key,
                now=self._now,
                on_save=lambda entries: self._publish(
                    run, NodeStatus.RUNNING.value, node_key=key, data={"loop": [e.seq for e in entries]}
                ),
            )
        async with self._slots if agent.holds_slot else contextlib.nullcontext():
            try:
                async with asyncio.timeout(timeout):
                    value = await agent.run(ctx)
            except TimeoutError:
                raise NodeTimeout(timeout or 0, node=key, run_id=run.id) from None
            except (NodeError, asyncio.CancelledError):
                raise
            except ValidationError as exc:
                raise AgentError(str(exc), retryable=False, node=key, run_id=run.id) from None
            except Exception as exc:
                raise AgentError(f"{type(exc).__name__}: {exc}", node=key, run_id=run.id) from None
        return value if isinstance(value, AgentResult) else AgentResult(output=value)


def total_tokens(usage: dict[str, Any] | None) -> int:
    value = (usage or {}).get("total_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _merge_usage(before: dict[str, Any] | None, usage: dict[str, Any]) -> dict[str, Any]:
    """Token counts summed field by field; `estimated` stays true once any part was estimated."""
    merged = dict(before or {})
    for name, value in usage.items():
        if isinstance(value, bool):
            merged[name] = bool(merged.get(name)) or value
        elif isinstance(value, int | float) and isinstance(merged.get(name, 0), int | float):
            merged[name] = merged.get(name, 0) + value
        else:
            merged[name] = value
    return merged
