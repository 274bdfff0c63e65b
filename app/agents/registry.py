"""The agent kinds Flowyard knows. Adding a kind is one module and one line here."""

from __future__ import annotations

from typing import Any

from app.agents.agent import Agent
from app.agents.approval import Approval
from app.agents.base import AgentKind
from app.agents.branch import Branch
from app.agents.delay import Delay
from app.agents.http import Http
from app.agents.llm import Llm
from app.agents.mcp import Mcp
from app.agents.notify import Notify
from app.agents.python import load_plugins
from app.agents.transform import Transform
from app.agents.workflow import SubWorkflow
from app.engine import kinds

__all__ = ["KINDS", "PLUGIN_KINDS", "build", "config_errors", "get_kind"]

KINDS: dict[str, type[AgentKind]] = {
    kind.kind: kind
    for kind in (
        Transform,
        Llm,
        Agent,
        Http,
        Mcp,
        Notify,
        Branch,
        Approval,
        Delay,
        SubWorkflow,
    )
}
PLUGIN_KINDS: dict[str, type[AgentKind]] = load_plugins(KINDS)
"""Kinds that installed packages register (entry-point group `flowyard.agents`); also in KINDS."""
KINDS.update(PLUGIN_KINDS)


def get_kind(name: str) -> type[AgentKind] | None:
    return KINDS.get(name)


def build(kind: str, config: dict[str, Any]) -> AgentKind:
    """An agent of `kind` configured with `config`; raises KeyError or pydantic's ValidationError."""
    return kinds.build(KINDS, kind, config)


def config_errors(kind: str, config: dict[str, Any]) -> list[str]:
    """What is wrong with `config` for `kind`, one line per field; empty when it is valid."""
    return kinds.config_errors(KINDS, kind, config)
