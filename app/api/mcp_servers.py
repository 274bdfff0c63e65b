"""MCP servers (`/api/v1/mcp-servers`): the servers agent steps call tools on, by command (stdio) or by URL (http).

Environment values and header values are write-only, like credentials: answers name them, never show them.
A stdio server runs a command on Flowyard's host, so creating, changing or deleting one is for admins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from app.api.access import PrincipalDep
from app.api.deps import get_services
from app.api.openapi import Responses, conflict, not_found
from app.api.schemas import ErrorOut
from app.engine.exceptions import AgentError
from app.models.mcp import McpCallIn, McpCallOut, McpServerCreate, McpServerPublic, McpServerUpdate, McpTool
from app.services.mcp import McpService

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["mcp servers"])


def _mcp(request: Request) -> McpService:
    return get_services(request).mcp


McpDep = Annotated[McpService, Depends(_mcp)]

ADMIN_FOR_STDIO: Responses = {
    403: {
        "model": ErrorOut,
        "description": "A stdio server runs a command on this host: only admins add or change one.",
    }
}
UNREACHABLE: Responses = {
    502: {"model": ErrorOut, "description": "The server could not be reached, failed or did not answer in time."}
}


@router.get("/mcp-servers", response_model=list[McpServerPublic])
async def list_mcp_servers(mcp: McpDep) -> list[McpServerPublic]:
    """Every MCP server with the tools it listed when last connected; secrets by name only."""
    return await mcp.list()


@router.post(
    "/mcp-servers",
    response_model=McpServerPublic,
    status_code=status.HTTP_201_CREATED,
    responses=conflict("An MCP server with that name exists already.") | ADMIN_FOR_STDIO,
)
async def create_mcp_server(body: McpServerCreate, mcp: McpDep, principal: PrincipalDep) -> McpServerPublic:
    """Add a server: `stdio` (command, args, env) or `http` (url, credential, headers). Nothing connects yet:
    `GET …/{id}/tools` does."""
    return await mcp.create(body, by=principal)


@router.get("/mcp-servers/{server_id}", response_model=McpServerPublic, responses=not_found("MCP server"))
async def get_mcp_server(server_id: str, mcp: McpDep) -> McpServerPublic:
    """One server, by id or name."""
    return await mcp.get(server_id)


@router.patch(
    "/mcp-servers/{server_id}",
    response_model=McpServerPublic,
    responses=not_found("MCP server") | conflict("Another MCP server has that name.") | ADMIN_FOR_STDIO,
)
async def update_mcp_server(
    server_id: str, body: McpServerUpdate, mcp: McpDep, principal: PrincipalDep
) -> McpServerPublic:
    """Change a server; its open connection closes and the next call connects as it is now."""
    return await mcp.update(server_id, body, by=principal)


@router.delete(
    "/mcp-servers/{server_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=not_found("MCP server") | ADMIN_FOR_STDIO,
)
async def delete_mcp_server(server_id: str, mcp: McpDep, principal: PrincipalDep) -> Response:
    """Delete a server (steps that call it then fail, naming it)."""
    await mcp.delete(server_id, by=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/mcp-servers/{server_id}/tools",
    response_model=list[McpTool],
    responses=not_found("MCP server") | UNREACHABLE,
)
async def list_mcp_server_tools(server_id: str, mcp: McpDep) -> list[McpTool]:
    """Connect to the server and list its tools now (the server keeps the listing for the pages)."""
    await mcp.get(server_id)
    try:
        server = await mcp.refresh_tools(server_id)
    except AgentError as exc:
        raise HTTPException(status_code=status.HTTP_502_BAD_GATEWAY, detail=str(exc)) from None
    return server.tools or []


@router.post("/mcp-servers/{server_id}/tools/{tool}/call", response_model=McpCallOut, responses=not_found("MCP server"))
async def call_mcp_tool(server_id: str, tool: str, body: McpCallIn, mcp: McpDep) -> McpCallOut:
    """Call one tool as a test, with JSON `arguments`: `ok` with its `result`, or not with the `error` it ended
    with (a tool's own failure, an unreachable server, a timeout)."""
    await mcp.get(server_id)
    return await mcp.test_call(server_id, tool, body.arguments, timeout=body.timeout_seconds)
