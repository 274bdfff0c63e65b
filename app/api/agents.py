"""Saved agents and their kinds (`/api/v1/agents`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from app.api.deps import AgentsDep
from app.api.openapi import conflict, not_found
from app.api.schemas import PageNumber, PageOut, PageSize, page_out
from app.models.agents import AgentCreate, AgentPublic, AgentUpdate, KindPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["agents"])

AGENT_NOT_FOUND = not_found("agent")


@router.get("/agents", response_model=PageOut[AgentPublic])
async def list_agents(agents: AgentsDep, page: PageNumber = 0, size: PageSize = 20) -> dict[str, Any]:
    """Saved agents (paginated)."""
    return page_out(await agents.list(page=page, size=size))


@router.get("/agents/kinds", response_model=list[KindPublic])
async def list_kinds(agents: AgentsDep) -> list[KindPublic]:
    """Agent kinds, with the JSON Schema of their config and input."""
    return agents.kinds()


@router.post(
    "/agents",
    response_model=AgentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=conflict("An agent with that id exists already."),
)
async def create_agent(body: AgentCreate, agents: AgentsDep) -> AgentPublic:
    """Save a configured agent under a stable id."""
    return await agents.create(
        id=body.id, name=body.name, kind=body.kind, description=body.description, config=body.config
    )


@router.get("/agents/{agent_id}", response_model=AgentPublic, responses=AGENT_NOT_FOUND)
async def get_agent(agent_id: str, agents: AgentsDep) -> AgentPublic:
    return await agents.get(agent_id)


@router.patch("/agents/{agent_id}", response_model=AgentPublic, responses=AGENT_NOT_FOUND)
async def update_agent(agent_id: str, body: AgentUpdate, agents: AgentsDep) -> AgentPublic:
    """Change an agent's name, description or config (validated against its kind)."""
    return await agents.update(agent_id, name=body.name, description=body.description, config=body.config)


@router.delete(
    "/agents/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=AGENT_NOT_FOUND | conflict("A workflow or an active run uses the agent."),
)
async def delete_agent(agent_id: str, agents: AgentsDep) -> Response:
    """Delete a saved agent (refused while a workflow uses it)."""
    await agents.delete(agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
