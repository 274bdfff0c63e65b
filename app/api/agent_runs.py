"""Saved agents called directly (`/api/v2/agents/…`): the run-with-callback API for a single-step task.

`POST /api/v2/agents/{agentId}/run` takes `callbackUrl` and the agent's input fields side by side in one body,
answers with an `agentRunOId` at once, runs the agent as a one-step run (durable, shown on the runs page,
approved, cancelled and re-run like any run: `app.services.agent_runs`) and POSTs its result, signed, to
`callbackUrl` when it ends, with the same body and signature as a workflow run's callback (its `workflowRunOId`
is the `agentRunOId`). `GET /api/v2/agents/run/status?agentRunOId=…` answers as the workflow runs' status does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.access import PrincipalDep
from app.api.deps import AgentRunsDep, RunsDep
from app.api.openapi import CANNOT_RUN, not_found
from app.api.v2 import WorkflowRunStatus, status_of
from app.models.base import CallbackUrl, Public

__all__ = ["router"]

router = APIRouter(prefix="/api/v2", tags=["v2 runs"])

AgentId = Annotated[str, Path(alias="agentId", min_length=1, max_length=100, description="The saved agent to run.")]


class AgentRunRequest(BaseModel):
    """`callbackUrl`; every other field is the agent's input, as its kind expects it."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"callbackUrl": "https://example.com/hooks/flowyard", "email": "ada@example.com"}]
        },
    )

    callback_url: CallbackUrl = Field(alias="callbackUrl")

    @property
    def input(self) -> dict[str, Any]:
        """The fields beyond `callbackUrl`: the agent's input."""
        return dict(self.model_extra or {})


class AgentRunAccepted(Public):
    agent_run_o_id: str = Field(description="The run's id (its callback's `workflowRunOId`).")
    agent_o_id: str
    workflow_o_id: str = Field(description="The agent's own one-step workflow, which the run belongs to.")
    status: str


class AgentRunStatus(WorkflowRunStatus):
    """A workflow run's status (its one step is `agent`), and which agent it ran."""

    agent_run_o_id: str
    agent_o_id: str


@router.post(
    "/agents/{agentId}/run",
    response_model=AgentRunAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=not_found("agent") | CANNOT_RUN,
)
async def run_agent(
    agent_id: AgentId, body: AgentRunRequest, agent_runs: AgentRunsDep, principal: PrincipalDep
) -> AgentRunAccepted:
    """Run the saved agent `agentId` once with the other fields as its input; its result is POSTed to `callbackUrl`.

    The input is checked against the agent kind's input schema: each bad field is named.
    """
    run = await agent_runs.start(agent_id, input=body.input, callback_url=body.callback_url, started_by=principal.label)
    return AgentRunAccepted(
        agent_run_o_id=run.id, agent_o_id=agent_id, workflow_o_id=run.workflow_id, status=run.status.value
    )


@router.get("/agents/run/status", response_model=AgentRunStatus, responses=not_found("agent run"))
async def agent_run_status(
    runs: RunsDep,
    agent_runs: AgentRunsDep,
    agent_run_o_id: Annotated[str, Query(alias="agentRunOId", min_length=1, max_length=40)],
) -> AgentRunStatus:
    """An agent run's status, its step's status, its output or error, and its callback."""
    agent_id = await agent_runs.agent_of(agent_run_o_id)
    found = await status_of(runs, agent_run_o_id)
    return AgentRunStatus.model_validate(
        {**found.model_dump(), "agent_run_o_id": agent_run_o_id, "agent_o_id": agent_id}
    )
