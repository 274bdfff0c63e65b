"""delay: waits, then passes its input through."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Literal

from pydantic import Field

from app.agents.base import AgentContext, AgentKind, Group
from app.engine.exceptions import AgentError


class Delay(AgentKind):
    kind: ClassVar[str] = "delay"
    title: ClassVar[str] = "Delay"
    output_from: ClassVar[Literal["input", "action", ""]] = "input"
    group: ClassVar[str] = Group.LOGIC
    icon: ClassVar[str] = "hourglass_top"
    description: ClassVar[str] = (
        "Waits a number of seconds (the action may give it as a template), then passes its input on."
    )

    seconds: float = Field(1.0, ge=0, le=7 * 86_400, description="How long to wait.")

    async def run(self, ctx: AgentContext) -> Any:
        seconds: Any = self.seconds
        if ctx.action.strip():
            seconds = ctx.render(ctx.action)
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise AgentError(f"delay needs a number of seconds, got {seconds!r}", retryable=False) from None
        if seconds < 0:
            raise AgentError(f"delay cannot be negative ({seconds:g} s)", retryable=False)
        await asyncio.sleep(seconds)
        return ctx.input
