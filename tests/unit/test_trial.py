"""Trying one node alone shows what a run would do with the same data, and stores nothing."""

from __future__ import annotations

import httpx

from app.agents.registry import KINDS
from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.engine.store import AgentRecord
from app.engine.trial import node_input, preview, try_node

AGENTS = {k: AgentRecord(k, k) for k in ("transform", "approval", "delay")}
DEFINITION = WorkflowDefinition(
    nodes=[
        NodeSpec(key="a", agent_id="transform", action="{{ input }}"),
        NodeSpec(
            key="b",
            agent_id="transform",
            action="{{ input.text | upper }}",
            input_mapping={"text": "{{ nodes.a.output }}"},
        ),
        NodeSpec(key="c", agent_id="approval", action="ok? {{ input }}"),
        NodeSpec(key="slow", agent_id="delay", config={"seconds": 5}, timeout_seconds=0.05),
    ],
    edges=[EdgeSpec(source="a", target="b"), EdgeSpec(source="b", target="c"), EdgeSpec(source="a", target="slow")],
)


def test_node_input_follows_the_run_rule() -> None:
    assert node_input(DEFINITION, "a", payload="p", outputs={}) == "p"
    assert node_input(DEFINITION, "b", payload="p", outputs={"a": "out"}) == "out"


def test_preview_renders_the_mapping_or_names_the_failure() -> None:
    assert preview(DEFINITION, "b", payload=None, outputs={"a": "hi"}).input == {"text": "hi"}
    assert "nodes" in (preview(DEFINITION, "b", payload=None, outputs={}).error or "")


async def test_try_node_runs_the_real_agent_on_last_run_data() -> None:
    async with httpx.AsyncClient() as http:
        trial = await try_node(DEFINITION, "b", AGENTS, kinds=KINDS, http=http, payload=None, outputs={"a": "hi"})

    assert (trial.input, trial.output, trial.error) == ({"text": "hi"}, "HI", None)


async def test_try_approval_node_says_it_would_wait() -> None:
    async with httpx.AsyncClient() as http:
        trial = await try_node(DEFINITION, "c", AGENTS, kinds=KINDS, http=http, payload=None, outputs={"b": "HI"})

    assert trial.waits_for_approval and trial.output == "ok? HI"


async def test_try_node_reports_timeout_as_text() -> None:
    async with httpx.AsyncClient() as http:
        trial = await try_node(DEFINITION, "slow", AGENTS, kinds=KINDS, http=http, payload=None, outputs={"a": 1})

    assert trial.error == "timed out after 0.05 s"
