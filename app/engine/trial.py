"""Trying one node on its own: the editor's preview and "Try" run a node's real agent with the
input it would get, from the last run's data or a sample, without starting a run or storing anything.

The input rule and the mapping context are the executor's, so what a trial shows is what a run does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from app.engine import mapping
from app.engine.exceptions import MappingError, NodeError
from app.engine.kinds import AgentContext, AgentResult, AgentServices, Kinds, build
from app.engine.model import WorkflowDefinition
from app.engine.plan import effective_config
from app.engine.store import AgentRecord

__all__ = ["Preview", "Trial", "node_input", "preview", "try_node"]

TRIAL_TIMEOUT_SECONDS = 60.0


@dataclass
class Preview:
    """The input a node would receive, rendered through its mapping (or why it cannot be)."""

    input: Any = None
    error: str | None = None


@dataclass
class Trial:
    input: Any = None
    output: Any = None
    error: str | None = None
    duration_ms: float = 0.0
    waits_for_approval: bool = False
    handles: list[str] | None = None
    usage: dict[str, Any] | None = None
    """Token usage, for kinds that report it (llm)."""


def node_input(definition: WorkflowDefinition, key: str, *, payload: Any, outputs: Mapping[str, Any]) -> Any:
    """The node's raw `input`: the payload for an entry node, else its predecessor's output (a dict when several)."""
    predecessors = list(dict.fromkeys(e.source for e in definition.edges if e.target == key))
    if not predecessors:
        return payload
    if len(predecessors) == 1:
        return outputs.get(predecessors[0])
    return {source: outputs[source] for source in predecessors if source in outputs}


def _context(
    definition: WorkflowDefinition, key: str, payload: Any, outputs: Mapping[str, Any], workflow_id: str
) -> dict[str, Any]:
    return mapping.build_context(
        input=node_input(definition, key, payload=payload, outputs=outputs),
        payload=payload,
        outputs=outputs,
        run_id="trial",
        session_id=None,
        workflow_id=workflow_id,
    )


def preview(
    definition: WorkflowDefinition, key: str, *, payload: Any, outputs: Mapping[str, Any], workflow_id: str = ""
) -> Preview:
    """Render the node's input mapping over the given data, as the executor would."""
    node = definition.node(key)
    context = _context(definition, key, payload, outputs, workflow_id)
    if node.input_mapping is None:
        return Preview(input=context["input"])
    try:
        return Preview(input=mapping.render_value(node.input_mapping, context, node=key))
    except MappingError as exc:
        return Preview(error=str(exc))


async def try_node(
    definition: WorkflowDefinition,
    key: str,
    agents: Mapping[str, AgentRecord],
    *,
    kinds: Kinds,
    http: httpx.AsyncClient,
    payload: Any,
    outputs: Mapping[str, Any],
    workflow_id: str = "",
    services: AgentServices | None = None,
) -> Trial:
    """Run one node's agent once with the input it would get. Nothing is stored; errors come back as text."""
    node = definition.node(key)
    saved = agents.get(node.agent_id)
    if saved is None or saved.kind not in kinds:
        return Trial(error=f"step '{key}' uses unknown agent '{node.agent_id}'")
    try:
        agent = build(kinds, saved.kind, effective_config(node, saved))
    except ValidationError as exc:
        return Trial(error=f"config: {exc.errors()[0]['msg']}")
    context = _context(definition, key, payload, outputs, workflow_id)
    started = time.perf_counter()
    try:
        if node.input_mapping is not None:
            context["input"] = mapping.render_value(node.input_mapping, context, node=key)
        ctx = AgentContext(
            run_id="trial",
            node_key=key,
            action=node.action,
            input=context["input"],
            mapping_context=context,
            http=http,
            workflow_id=workflow_id,
            services=services or AgentServices(),
        )
        async with asyncio.timeout(node.timeout_seconds or TRIAL_TIMEOUT_SECONDS):
            value = await agent.run(ctx)
    except TimeoutError:
        seconds = node.timeout_seconds or TRIAL_TIMEOUT_SECONDS
        return Trial(input=context["input"], error=f"timed out after {seconds:g} s", duration_ms=_ms(started))
    except NodeError as exc:
        return Trial(input=context["input"], error=str(exc), duration_ms=_ms(started))
    except Exception as exc:  # an agent may fail in any way; the trial reports it instead of crashing the page
        return Trial(input=context["input"], error=f"{type(exc).__name__}: {exc}", duration_ms=_ms(started))
    result = value if isinstance(value, AgentResult) else AgentResult(output=value)
    return Trial(
        input=context["input"],
        output=result.output,
        duration_ms=_ms(started),
        waits_for_approval=result.wait_for_approval or node.needs_approval,
        handles=result.handles,
        usage=result.usage,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
