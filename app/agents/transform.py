"""transform: renders the step's action as a template; the result is the output."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from app.agents.base import AgentContext, AgentKind, Group


class Transform(AgentKind):
    kind: ClassVar[str] = "transform"
    title: ClassVar[str] = "Transform"
    group: ClassVar[str] = Group.UTILITIES
    icon: ClassVar[str] = "auto_fix_high"
    output_from: ClassVar[Literal["input", "action", ""]] = "action"
    description: ClassVar[str] = (
        "Renders the action as a template over the input, payload and upstream outputs. "
        "An empty action passes the input through."
    )

    async def run(self, ctx: AgentContext) -> Any:
        if not ctx.action:
            return ctx.input
        return ctx.render(ctx.action)
