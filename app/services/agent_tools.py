"""Saved agents and workflows as the tools of an agent step: the `ToolCatalog` Flowyard lends its agents.

A saved agent is offered with its kind's input schema, or — for kinds that take any input (transform, http…)
— the fields its templates read from `input`; calling it runs the agent once, in the step's run, with the
model's arguments as its input and a key of its own (`<run>:<step>.t<seq>`, stable when the call is made
again). A workflow is offered with its entry step's input schema and runs as a sub-workflow of the step.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.engine import mapping
from app.engine.exceptions import AgentError, NotFound
from app.engine.inputs import INFERRED, run_input_schema
from app.engine.kinds import AgentContext, AgentResult, Kinds, build
from app.engine.model import NodeSpec, WorkflowDefinition
from app.engine.store import RunStore
from app.services.inputs import InputService
from app.services.workflows import find_workflow
from storage.db import Database

__all__ = ["AgentTools"]


class AgentTools:
    def __init__(self, db: Database, store: RunStore, inputs: InputService, *, kinds: Kinds) -> None:
        self._db = db
        self._store = store
        self._inputs = inputs
        self._kinds = kinds

    async def describe_agent(self, agent_id: str) -> dict[str, Any]:
        saved = (await self._store.get_agents({agent_id})).get(agent_id)
        if saved is None or saved.kind not in self._kinds:
            raise AgentError(
                f"the agent step's tool '{agent_id}' is not a saved agent (was it deleted?)", retryable=False
            )
        definition = WorkflowDefinition(nodes=[NodeSpec(key="tool", agent_id=agent_id)])
        schema = run_input_schema(definition, {agent_id: saved}, self._kinds) or {}
        kind = self._kinds[saved.kind]
        return {
            "name": saved.name or agent_id,
            "description": saved.description or kind.description,
            "parameters": {k: v for k, v in schema.items() if k != INFERRED},
        }

    async def describe_workflow(self, workflow_id: str) -> dict[str, Any]:
        def read(session: Session) -> tuple[str, str]:
            row = find_workflow(session, workflow_id)
            return row.name, row.description

        try:
            name, description = await self._db.tx(read)
            shown = await self._inputs.input(workflow_id)
        except NotFound:
            raise AgentError(
                f"the agent step's tool workflow '{workflow_id}' does not exist", retryable=False
            ) from None
        return {
            "name": name,
            "description": description or f"Runs the workflow “{name}”.",
            "parameters": shown.input_schema,
        }

    async def run_agent(self, agent_id: str, input: Any, *, ctx: AgentContext, call_key: str) -> Any:
        saved = (await self._store.get_agents({agent_id})).get(agent_id)
        if saved is None or saved.kind not in self._kinds:
            raise AgentError(f"tool '{agent_id}' is not a saved agent (was it deleted?)", retryable=False)
        agent = build(self._kinds, saved.kind, saved.config or {})
        key = f"{ctx.node_key}.{call_key}"
        context = mapping.build_context(
            input=input,
            payload=ctx.mapping_context.get("payload"),
            outputs={k: v.get("output") for k, v in (ctx.mapping_context.get("nodes") or {}).items()},
            run_id=ctx.run_id,
            workflow_id=ctx.workflow_id,
        )
        child = AgentContext(
            run_id=ctx.run_id,
            node_key=key,
            action="",
            input=input,
            mapping_context=context,
            http=ctx.http,
            attempt=ctx.attempt,
            workflow_id=ctx.workflow_id,
            services=ctx.services,
            chain=ctx.chain,
            run_tokens=ctx.run_tokens,
            sleep=ctx.sleep,
        )
        value = await agent.run(child)
        if isinstance(value, AgentResult):
            if value.wait_for_approval:
                raise AgentError(
                    f"saved agent '{saved.name or agent_id}' waits for approval, which a tool cannot: mark the tool "
                    "as needing approval instead",
                    retryable=False,
                )
            return value.output
        return value
