"""approval: pauses the run until a person approves, edits or rejects a proposal."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from app.agents.base import AgentContext, AgentKind, AgentResult, Group


class Approval(AgentKind):
    kind: ClassVar[str] = "approval"
    title: ClassVar[str] = "Approval"
    group: ClassVar[str] = Group.HUMAN
    icon: ClassVar[str] = "how_to_reg"
    description: ClassVar[str] = (
        "Waits for a human. The proposal is the rendered action, or the input when the action is empty; "
        "the approved (possibly edited) value becomes the output."
    )
    pauses: ClassVar[bool] = True
    output_from: ClassVar[Literal["input", "action", ""]] = "action"

    instructions: str = Field("", description="What the approver should check.")

    async def run(self, ctx: AgentContext) -> AgentResult:
        proposal = ctx.render(ctx.action) if ctx.action.strip() else ctx.input
        return AgentResult(output=proposal, wait_for_approval=True)
