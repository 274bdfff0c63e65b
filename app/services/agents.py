"""Saved agents: the configured workers workflows are built from, and the kinds they are made of."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from sqlmodel import Session

from app import ids
from app.engine.exceptions import Conflict, InvalidInput, NotFound
from app.engine.kinds import AgentKind, AgentServices, Kinds, config_errors
from app.engine.model import NodeSpec, WorkflowDefinition
from app.engine.store import AgentRecord
from app.engine.trial import Trial, try_node
from app.models.agents import AgentPublic, AgentSummary, KindPublic
from app.models.base import Page, check_name
from app.services.agent_runs import drop_agent_step, rename_agent_workflow
from storage import repositories as repo
from storage.db import Database
from storage.models import AgentRow

__all__ = ["DEFAULT_AGENTS", "AgentService"]

DEFAULT_AGENTS = ("transform", "http", "branch", "approval", "delay", "workflow")
"""Saved agents that exist from the first start, each named after its kind (plus one per plugin kind)."""


def _kind_public(kind: type[AgentKind]) -> KindPublic:
    return KindPublic(
        kind=kind.kind,
        title=kind.title,
        group=kind.group,
        description=kind.description,
        icon=kind.icon,
        config_schema=kind.model_json_schema(),
        input_schema=kind.input_schema,
    )


def _find(session: Session, agent_id: str) -> AgentRow:
    agent = repo.get_agent(session, agent_id=agent_id)
    if agent is None:
        raise NotFound("agent", agent_id)
    return agent


class AgentService:
    """Saved agents on the database; `test` runs one once with the process's HTTP client and agent services."""

    def __init__(
        self,
        db: Database,
        *,
        kinds: Kinds,
        http: httpx.AsyncClient,
        agent_services: Callable[[], AgentServices],
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._kinds = kinds
        self._http = http
        self._agent_services = agent_services
        self._now = now

    def seed(self, plugin_kinds: builtins.list[str]) -> None:
        """Save the default agents (and one per plugin kind) that do not exist yet. Runs at start-up."""
        with self._db.transaction() as session:
            now = self._now()
            for kind_name in (*DEFAULT_AGENTS, *plugin_kinds):
                if repo.get_agent(session, agent_id=kind_name) is None:
                    kind = self._kinds[kind_name]
                    session.add(
                        AgentRow(
                            id=kind_name,
                            name=kind.title,
                            kind=kind_name,
                            description=kind.description,
                            config={},
                            created_at=now,
                            updated_at=now,
                        )
                    )

    def kinds(self) -> builtins.list[KindPublic]:
        """Every agent kind, with the JSON Schema of its config and its input."""
        return [_kind_public(k) for k in self._kinds.values()]

    def kind(self, name: str) -> KindPublic | None:
        """One agent kind, or None when no installed kind has that name."""
        found = self._kinds.get(name)
        return _kind_public(found) if found is not None else None

    async def list(self, *, page: int, size: int) -> Page[AgentPublic]:
        rows, total = await self._db.tx(lambda s: repo.list_agents(s, offset=page * size, limit=size))
        return Page([AgentPublic.model_validate(r) for r in rows], total, page, size)

    async def summaries(self) -> builtins.list[AgentSummary]:
        """Every saved agent (by name) with the workflows that use it: the Agents page."""

        def read(session: Session) -> builtins.list[AgentSummary]:
            used = repo.workflows_by_agent(session)
            rows, _ = repo.list_agents(session, offset=0, limit=10_000)
            return [
                AgentSummary.model_validate({**row.model_dump(), "used_by": used.get(row.id, [])})
                for row in sorted(rows, key=lambda r: (r.name or r.id).lower())
            ]

        return await self._db.tx(read)

    async def by_id(self) -> dict[str, AgentRecord]:
        """Every saved agent as the engine reads it, by id."""
        rows, _ = await self._db.tx(lambda s: repo.list_agents(s, offset=0, limit=10_000))
        return {a.id: AgentRecord(a.id, a.kind, a.name, a.config, a.description) for a in rows}

    async def get(self, agent_id: str) -> AgentPublic:
        return AgentPublic.model_validate(await self._db.tx(lambda s: _find(s, agent_id)))

    async def create(
        self, *, id: str | None, name: str, kind: str, description: str = "", config: dict[str, Any] | None = None
    ) -> AgentPublic:
        config = config or {}
        check_name("name", name)
        if kind not in self._kinds:
            raise InvalidInput("kind", f"unknown kind '{kind}'; one of {', '.join(sorted(self._kinds))}")
        errors = config_errors(self._kinds, kind, config)
        if errors:
            raise InvalidInput("config", "; ".join(errors))

        def create(session: Session) -> AgentRow:
            agent_id = id or ids.new_id("ag")
            if repo.get_agent(session, agent_id=agent_id) is not None:
                raise Conflict(f"an agent with id '{agent_id}' exists already")
            now = self._now()
            row = AgentRow(
                id=agent_id,
                name=name,
                kind=kind,
                description=description,
                config=config,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            return row

        return AgentPublic.model_validate(await self._db.tx(create))

    async def update(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> AgentPublic:
        if name is not None:
            check_name("name", name)

        def update(session: Session) -> AgentRow:
            agent = _find(session, agent_id)
            if config is not None:
                errors = config_errors(self._kinds, agent.kind, config)
                if errors:
                    raise InvalidInput("config", "; ".join(errors))
                agent.config = config
            if name is not None:
                agent.name = name
                rename_agent_workflow(session, agent=agent)
            if description is not None:
                agent.description = description
            agent.updated_at = self._now()
            session.add(agent)
            return agent

        return AgentPublic.model_validate(await self._db.tx(update))

    async def delete(self, agent_id: str) -> None:
        def delete(session: Session) -> None:
            agent = _find(session, agent_id)
            users = repo.agents_in_use(session, agent_id=agent_id)
            if users:
                names = ", ".join(f"'{name}' ({wid})" for wid, name in users[:10])
                raise Conflict(f"agent '{agent_id}' is used by workflow(s) {names}; remove those steps first")
            callers = repo.agents_calling(session, agent_id=agent_id)
            if callers:
                names = ", ".join(f"'{name}' ({aid})" for aid, name in callers[:10])
                raise Conflict(f"agent '{agent_id}' is a tool of agent(s) {names}; remove it from their tools first")
            runs = repo.active_runs_using_agent(session, agent_id=agent_id)
            if runs:
                listed = ", ".join(runs)
                raise Conflict(
                    f"agent '{agent_id}' is used by active run(s) {listed}; let them finish or cancel them first"
                )
            drop_agent_step(session, agent_id=agent_id, now=self._now())  # (its runs of direct calls stay)
            session.delete(agent)

        await self._db.tx(delete)

    async def test(self, agent_id: str, *, input: Any, action: str = "") -> Trial:
        """Run a saved agent once on a sample input (the Agents page's Test); nothing is stored."""
        agent = await self.get(agent_id)
        definition = WorkflowDefinition(nodes=[NodeSpec(key="test", agent_id=agent.id, action=action)])
        return await try_node(
            definition,
            "test",
            await self.by_id(),
            kinds=self._kinds,
            http=self._http,
            payload=input,
            outputs={},
            workflow_id="",
            services=self._agent_services(),
        )
