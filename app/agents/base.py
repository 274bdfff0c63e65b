"""What every agent kind is: a pydantic model whose fields are its config, with an ``async run``.

A kind declares its input schema (JSON Schema; the entry node's is the workflow's) and, when it
chooses between outcomes, the names of its output handles. ``run`` gets an `AgentContext` and
returns the node's output, or an `AgentResult` when it needs to say more (which handles fire, a
proposal to approve, token usage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict

from app.engine.mapping import render_value

__all__ = ["AgentContext", "AgentKind", "AgentResult", "Group"]


class Group:
    """Palette groups, in the user's words."""

    AI = "AI"
    INTEGRATIONS = "Integrations"
    LOGIC = "Logic"
    HUMAN = "Human"
    UTILITIES = "Utilities"


@dataclass
class AgentResult:
    """A node's outcome beyond its output value."""

    output: Any
    handles: list[str] | None = None
    """Outcome handles that fire; None means every plain edge fires."""
    wait_for_approval: bool = False
    """When true the node waits for a human, with `output` as the proposal."""
    usage: dict[str, Any] | None = None


@dataclass
class AgentContext:
    """Everything one execution of a node may use. Built by the executor (or a preview)."""

    run_id: str
    node_key: str
    action: str
    input: Any
    mapping_context: dict[str, Any]
    http: httpx.AsyncClient
    attempt: int = 1
    session_id: str | None = None
    workflow_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and recoveries of this node in this run: side effects pass it on."""
        return f"{self.run_id}:{self.node_key}"

    def render(self, value: Any) -> Any:
        """Render templates in `value` over this node's context (with ``input`` as mapped)."""
        return render_value(value, self.mapping_context, node=self.node_key)


class AgentKind(BaseModel):
    """Base of every kind. Subclasses add config fields and implement `run`."""

    model_config = ConfigDict(extra="forbid")

    kind: ClassVar[str]
    title: ClassVar[str]
    group: ClassVar[str] = Group.UTILITIES
    description: ClassVar[str] = ""
    icon: ClassVar[str] = "extension"
    input_schema: ClassVar[dict[str, Any]] = {}
    """JSON Schema of the node's input; empty means any JSON value."""
    pauses: ClassVar[bool] = False
    """True when the kind always waits for a human (the approval kind)."""

    def outcome_handles(self) -> list[str] | None:
        """Named output handles, for kinds that choose an outcome; None for a single output."""
        return None

    async def run(self, ctx: AgentContext) -> Any:
        raise NotImplementedError
