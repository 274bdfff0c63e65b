"""workflow: runs another workflow as one step and waits for its result (a sub-workflow)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from app.agents.base import AgentContext, AgentKind, Group
from app.engine.exceptions import AgentError

__all__ = ["WORKFLOW_ID", "SubWorkflow"]

WORKFLOW_ID = r"^wf-[A-Za-z0-9_-]{1,37}$"


class SubWorkflow(AgentKind):
    kind: ClassVar[str] = "workflow"
    title: ClassVar[str] = "Workflow"
    group: ClassVar[str] = Group.LOGIC
    icon: ClassVar[str] = "account_tree"
    description: ClassVar[str] = (
        "Runs another workflow and waits for its result, which becomes this step's output. The other run's input "
        "is this step's input, or the rendered action when there is one. A failed or cancelled run fails the step."
    )
    holds_slot: ClassVar[bool] = False

    workflow_id: str = Field(pattern=WORKFLOW_ID, description="The workflow to run (its id, wf-…).")

    async def run(self, ctx: AgentContext) -> Any:
        runner = ctx.services.workflows
        if runner is None:
            raise AgentError("a workflow step can only run inside Flowyard's executor", retryable=False)
        child_input = ctx.render(ctx.action) if ctx.action.strip() else ctx.input
        return await runner.run(
            self.workflow_id,
            child_input,
            parent_run_id=ctx.run_id,
            node_key=ctx.node_key,
            chain=(*ctx.chain, ctx.workflow_id),
        )
