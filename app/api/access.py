"""Who may call what: every API route's one permission, and the dependency that checks it on each request.

Every route of a router included with `Depends(authorize)` must have a rule in `RULES` (method, path); the
application refuses to start with a route that has none (`check_rules`), and the authorization matrix test
walks the table. A request's principal comes from `Authorization: Bearer` (a personal token or
`FLOWYARD_ADMIN_TOKEN`), or from the trusted reverse proxy's user header when one is configured. The MCP
endpoint (`/mcp`, an ASGI app beside the routers) resolves the same principal with `current_principal` and
checks its permissions itself (`app.api.mcp_server`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.routing import APIRoute

from app.models.people import Permission, Principal
from app.services.container import Services

__all__ = ["PUBLIC", "RULES", "PrincipalDep", "authorize", "check_rules", "client_ip", "current_principal"]

P = Permission
RULES: dict[tuple[str, str], Permission] = {
    # workflows and their steps
    ("GET", "/api/v1/workflows"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/workflows"): P.EDIT,
    ("GET", "/api/v1/workflows/{workflow_id}"): P.VIEW_WORKFLOWS,
    ("PATCH", "/api/v1/workflows/{workflow_id}"): P.EDIT,
    ("DELETE", "/api/v1/workflows/{workflow_id}"): P.EDIT,
    ("POST", "/api/v1/workflows/{workflow_id}/steps"): P.EDIT,
    ("GET", "/api/v1/workflows/{workflow_id}/steps"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/workflows/{workflow_id}/clone"): P.EDIT,
    ("DELETE", "/api/v1/workflows/{workflow_id}/steps/{step_id}"): P.EDIT,
    ("GET", "/api/v1/workflows/{workflow_id}/access"): P.VIEW_WORKFLOWS,
    ("PUT", "/api/v1/workflows/{workflow_id}/access"): P.EDIT,
    ("GET", "/api/v1/workflows/{workflow_id}/callback-secret"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/workflows/{workflow_id}/callback-secret/rotate"): P.EDIT,
    ("DELETE", "/api/v1/workflows/{workflow_id}/callback-secret"): P.EDIT,
    ("GET", "/api/v1/workflows/{workflow_id}/input"): P.VIEW_WORKFLOWS,
    ("PUT", "/api/v1/workflows/{workflow_id}/samples"): P.EDIT,
    ("GET", "/api/v1/workflows/{workflow_id}/versions/{before}/compare/{after}"): P.VIEW_WORKFLOWS,
    # runs
    ("POST", "/api/v1/workflows/{workflow_id}/run"): P.RUN,
    ("GET", "/api/v1/workflows/{workflow_id}/runs"): P.VIEW_RUNS,
    ("GET", "/api/v1/workflows/runs/{run_id}"): P.VIEW_RUNS,
    ("POST", "/api/v1/workflows/runs/{run_id}/resume"): P.APPROVE,
    ("POST", "/api/v1/workflows/runs/{run_id}/reject"): P.APPROVE,
    ("POST", "/api/v1/workflows/runs/{run_id}/cancel"): P.RUN,
    ("POST", "/api/v1/workflows/runs/{run_id}/rerun"): P.RUN,
    ("POST", "/api/v2/workflows/run"): P.RUN,
    ("GET", "/api/v2/workflows/run/status"): P.VIEW_RUNS,
    ("POST", "/api/v2/agents/{agentId}/run"): P.RUN,
    ("GET", "/api/v2/agents/run/status"): P.VIEW_RUNS,
    # agents
    ("GET", "/api/v1/agents"): P.VIEW_WORKFLOWS,
    ("GET", "/api/v1/agents/kinds"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/agents"): P.EDIT,
    ("GET", "/api/v1/agents/{agent_id}"): P.VIEW_WORKFLOWS,
    ("PATCH", "/api/v1/agents/{agent_id}"): P.EDIT,
    ("DELETE", "/api/v1/agents/{agent_id}"): P.EDIT,
    # credentials: names and types to those who build with them; values only ever written, by admins
    ("GET", "/api/v1/credentials"): P.EDIT,
    ("POST", "/api/v1/credentials"): P.MANAGE,
    ("PUT", "/api/v1/credentials/{name}"): P.MANAGE,
    ("DELETE", "/api/v1/credentials/{name}"): P.MANAGE,
    # MCP servers: stdio ones run a command on this host, so their service also asks MANAGE to add, change or delete
    ("GET", "/api/v1/mcp-servers"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/mcp-servers"): P.EDIT,
    ("GET", "/api/v1/mcp-servers/{server_id}"): P.VIEW_WORKFLOWS,
    ("PATCH", "/api/v1/mcp-servers/{server_id}"): P.EDIT,
    ("DELETE", "/api/v1/mcp-servers/{server_id}"): P.EDIT,
    ("GET", "/api/v1/mcp-servers/{server_id}/tools"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/mcp-servers/{server_id}/tools/{tool}/call"): P.EDIT,
    # llm sessions
    ("GET", "/api/v1/sessions"): P.VIEW_RUNS,
    ("GET", "/api/v1/sessions/{session_id}"): P.VIEW_RUNS,
    ("DELETE", "/api/v1/sessions/{session_id}"): P.EDIT,
    # schedules
    ("GET", "/api/v1/workflows/{workflow_id}/schedules"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/workflows/{workflow_id}/schedules"): P.EDIT,
    ("GET", "/api/v1/schedules"): P.VIEW_WORKFLOWS,
    ("POST", "/api/v1/schedules/preview"): P.VIEW_WORKFLOWS,
    ("GET", "/api/v1/schedules/{schedule_id}"): P.VIEW_WORKFLOWS,
    ("PUT", "/api/v1/schedules/{schedule_id}"): P.EDIT,
    ("PATCH", "/api/v1/schedules/{schedule_id}"): P.EDIT,
    ("DELETE", "/api/v1/schedules/{schedule_id}"): P.EDIT,
    ("POST", "/api/v1/schedules/{schedule_id}/enable"): P.EDIT,
    ("POST", "/api/v1/schedules/{schedule_id}/disable"): P.EDIT,
    # webhooks: the URL holds a secret, so seeing it is for those who may change it
    ("GET", "/api/v1/workflows/{workflow_id}/webhook"): P.EDIT,
    ("PUT", "/api/v1/workflows/{workflow_id}/webhook"): P.EDIT,
    ("POST", "/api/v1/workflows/{workflow_id}/webhook/rotate"): P.EDIT,
    ("DELETE", "/api/v1/workflows/{workflow_id}/webhook"): P.EDIT,
    # batches
    ("POST", "/api/v1/workflows/{workflow_id}/batches"): P.RUN,
    ("POST", "/api/v1/workflows/{workflow_id}/batches/preview"): P.RUN,
    ("GET", "/api/v1/batches"): P.VIEW_RUNS,
    ("GET", "/api/v1/batches/{batch_id}"): P.VIEW_RUNS,
    ("GET", "/api/v1/batches/{batch_id}/rows"): P.VIEW_RUNS,
    ("GET", "/api/v1/batches/{batch_id}/results.csv"): P.VIEW_RUNS,
    ("POST", "/api/v1/batches/{batch_id}/retry"): P.RUN,
    ("POST", "/api/v1/batches/{batch_id}/cancel"): P.RUN,
    # people: yourself, and (admins) everyone
    ("GET", "/api/v1/me"): P.VIEW_RUNS,
    ("GET", "/api/v1/tokens"): P.VIEW_RUNS,
    ("POST", "/api/v1/tokens"): P.VIEW_RUNS,
    ("DELETE", "/api/v1/tokens/{token_id}"): P.VIEW_RUNS,
    ("GET", "/api/v1/users"): P.MANAGE,
    ("POST", "/api/v1/users"): P.MANAGE,
    ("PATCH", "/api/v1/users/{user_id}"): P.MANAGE,
    ("GET", "/api/v1/audit"): P.MANAGE,
    # the instance's settings: retention, defaults, facts (the database URL, the data directory)
    ("GET", "/api/v1/settings"): P.MANAGE,
    ("PATCH", "/api/v1/settings"): P.MANAGE,
    ("POST", "/api/v1/settings/prune"): P.MANAGE,
}
"""(method, path) → the one permission a caller needs. Every authorized route has exactly one."""

PUBLIC: frozenset[str] = frozenset({"/api/health", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
"""Paths anyone may call: the health check and the API's documentation. (Webhook URLs carry their own secret.)"""


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def current_principal(request: Request) -> Principal:
    """Who is calling: 401 when nobody (or an unknown, revoked or expired token) is."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    services: Services = request.app.state.flowyard
    ip = client_ip(request)
    principal: Principal | None = None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        principal = await services.tokens.principal(token.strip(), ip=ip)
    else:
        header = services.settings.trusted_user_header
        email = request.headers.get(header) if header else None
        if email:
            found = await services.users.by_email(email)
            principal = await services.users.principal(found.id, ip=ip) if found else None
    if principal is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing, unknown or expired bearer token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def authorize(request: Request, principal: PrincipalDep) -> None:
    """403 unless the caller may do what this route does (its rule in `RULES`)."""
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    needed = RULES.get((request.method.upper(), path))
    if needed is None:  # (check_rules keeps this from happening: refuse rather than guess)
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="this route has no access rule")
    if not principal.can(needed):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=forbidden_message(principal, needed))


def forbidden_message(principal: Principal, needed: Permission) -> str:
    return principal.refusal(needed)


def check_rules(routers: Iterable[APIRouter]) -> None:
    """Refuse to start with an authorized route that has no rule (or a rule for a route that is gone)."""
    authorized = {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    missing = sorted(authorized - RULES.keys())
    stale = sorted(RULES.keys() - authorized)
    if missing or stale:
        raise RuntimeError(
            f"API access rules out of date: routes without a rule {missing}; rules without a route {stale}"
        )
