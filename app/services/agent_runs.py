"""Saved agents called directly (`POST /api/v2/agents/{id}/run`): each call is a one-step run of the agent's workflow.

A run belongs to a workflow, so an agent called this way gets one workflow of its own: a single step that uses
the agent (`AGENT_STEP`), marked with the agent's id (`WorkflowRow.for_agent`), made on the first call and reused
by every later one. Its id follows from the agent's id (`agent_workflow_id`), so two first calls at once make one
workflow: the second one's insert conflicts, and it reads the first one's. The step refers to the agent by id, so
editing the agent's settings or kind changes nothing here; the workflow's name follows the agent's
(`rename_agent_workflow`).

Such a workflow is kept out of every list of workflows and cannot be edited (`WorkflowService`); its runs are
ordinary runs, shown on the runs page under "Agent: <name>", approved in the inbox, cancelled and re-run.
Deleting the agent keeps the workflow's row, versions and runs (the history) and drops its step
(`drop_agent_step`); calling an agent of that id again gives it its step back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session

from app import ids
from app.engine.exceptions import NotFound
from app.engine.model import NodeSpec, RunRecord, Trigger, WorkflowDefinition
from storage import repositories as repo
from storage.db import Database
from storage.models import AgentRow, WorkflowRow

if TYPE_CHECKING:  # (the agents service imports this module for `drop_agent_step`, and needs no run service)
    from app.services.runs import RunService

__all__ = ["AGENT_STEP", "AgentRunService", "agent_workflow_id", "drop_agent_step", "rename_agent_workflow"]

AGENT_STEP = "agent"
"""The key of the one step of an agent's own workflow."""

NAME_PREFIX = "Agent: "
MAX_NAME = 200


def agent_workflow_id(agent_id: str) -> str:
    """The id of the workflow that runs `agent_id` when it is called directly: the same in every process."""
    return "wf-agent-" + hashlib.sha256(agent_id.encode()).hexdigest()[:16]


def _workflow_name(agent: AgentRow) -> str:
    return (NAME_PREFIX + (agent.name or agent.id))[:MAX_NAME]


def _has_its_step(session: Session, workflow_id: str, agent_id: str) -> bool:
    return [(n.key, n.agent_id) for n in repo.node_rows(session, workflow_id=workflow_id)] == [(AGENT_STEP, agent_id)]


def ensure_agent_workflow(session: Session, *, agent_id: str, now: datetime) -> str:
    """The id of the agent's own workflow, made (or given its step back) when needed; NotFound for no such agent.

    Raises sqlalchemy's IntegrityError when another transaction made it meanwhile: run it again then.
    """
    agent = repo.get_agent(session, agent_id=agent_id)
    if agent is None:
        raise NotFound("agent", agent_id)
    workflow_id = agent_workflow_id(agent_id)
    name = _workflow_name(agent)
    workflow = repo.get_workflow(session, workflow_id=workflow_id)
    if workflow is None:
        workflow = WorkflowRow(
            id=workflow_id,
            name=name,
            description=f"Runs the saved agent '{agent_id}' when it is called directly (POST /api/v2/agents/…/run).",
            version=0,
            created_at=now,
            updated_at=now,
            for_agent=agent_id,
        )
        session.add(workflow)
        session.flush()
    elif workflow.name != name:
        workflow.name = name
        session.add(workflow)
    if not _has_its_step(session, workflow_id, agent_id):
        step = NodeSpec(key=AGENT_STEP, agent_id=agent_id, name=agent.name[:MAX_NAME], step_order=1)
        repo.replace_definition(
            session,
            workflow=workflow,
            definition=WorkflowDefinition(nodes=[step]),
            now=now,
            new_node_id=lambda: ids.new_id("st"),
        )
    return workflow_id


def rename_agent_workflow(session: Session, *, agent: AgentRow) -> None:
    """The agent was renamed: so is its own workflow, if it has one (the runs page shows it by that name)."""
    workflow = repo.get_workflow(session, workflow_id=agent_workflow_id(agent.id))
    if workflow is not None and workflow.for_agent == agent.id:
        workflow.name = _workflow_name(agent)
        session.add(workflow)


def drop_agent_step(session: Session, *, agent_id: str, now: datetime) -> None:
    """Before the agent is deleted: its own workflow loses its step, and keeps its versions and runs."""
    workflow = repo.get_workflow(session, workflow_id=agent_workflow_id(agent_id))
    if workflow is not None and workflow.for_agent == agent_id:
        repo.replace_definition(
            session, workflow=workflow, definition=WorkflowDefinition(), now=now, new_node_id=lambda: ids.new_id("st")
        )


class AgentRunService:
    """Runs of saved agents called directly, through the run service (validation, durability, callbacks)."""

    def __init__(self, db: Database, runs: RunService, *, now: Callable[[], datetime]) -> None:
        self._db = db
        self._runs = runs
        self._now = now

    async def workflow_for(self, agent_id: str) -> str:
        """The id of the agent's own workflow, made on the agent's first call; NotFound for an unknown agent."""

        def ensure(session: Session) -> str:
            return ensure_agent_workflow(session, agent_id=agent_id, now=self._now())

        try:
            return await self._db.tx(ensure)
        except sa.exc.IntegrityError:  # another call made it first (and has committed): take that one
            return await self._db.tx(ensure)

    async def start(
        self, agent_id: str, *, input: Any, callback_url: str | None = None, started_by: str | None = None
    ) -> RunRecord:
        """Start a one-step run of the agent with `input` (the body's own fields, checked against the agent kind's
        input schema); its result is POSTed to `callback_url` when it ends."""
        workflow_id = await self.workflow_for(agent_id)
        return await self._runs.start(
            workflow_id,
            input=input,
            trigger=Trigger.API,
            callback_url=callback_url,
            input_field="",
            started_by=started_by,
        )

    async def agent_of(self, run_id: str) -> str:
        """The id of the agent that run `run_id` called directly; NotFound ("agent run") for any other run."""

        def read(session: Session) -> str | None:
            run = repo.get_run(session, run_id=run_id)
            workflow = repo.get_workflow(session, workflow_id=run.workflow_id) if run is not None else None
            return workflow.for_agent if workflow is not None else None

        agent_id = await self._db.tx(read)
        if agent_id is None:
            raise NotFound("agent run", run_id)
        return agent_id
