"""An agent step's journal: the loop entries (model turns, tool calls) it stored, handed back when it runs again.

The executor gives a `StepJournal` to kinds that keep one (`AgentKind.journals`): read from the store when the
attempt starts, written through the store under the run's lease, so a step that runs again (after a crash, a
retry, a decided tool-call approval) goes on from its first unfinished entry and never repeats a finished one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from app.engine.model import AgentStep, Approval
from app.engine.store import RunStore

__all__ = ["StepJournal"]


class StepJournal:
    def __init__(
        self,
        store: RunStore,
        owner: str,
        entries: list[AgentStep],
        approvals: list[Approval],
        *,
        now: Callable[[], datetime],
        on_save: Callable[[list[AgentStep]], None] | None = None,
    ) -> None:
        self.entries = entries
        self.approvals = approvals
        self._store = store
        self._owner = owner
        self._now = now
        self._on_save = on_save

    @classmethod
    async def load(
        cls,
        store: RunStore,
        owner: str,
        run_id: str,
        node_key: str,
        *,
        now: Callable[[], datetime],
        on_save: Callable[[list[AgentStep]], None] | None = None,
    ) -> StepJournal:
        entries = await store.get_agent_steps(run_id, node_key)
        approvals = [a for a in await store.get_approvals(run_id) if a.node_key == node_key and a.extra]
        return cls(store, owner, entries, approvals, now=now, on_save=on_save)

    async def save(self, *entries: AgentStep) -> None:
        await self._store.save_agent_steps(self._owner, entries, now=self._now())
        if self._on_save is not None:
            self._on_save(list(entries))
