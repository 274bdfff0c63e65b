"""People over the API: who am I, my tokens, and (for admins) users and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import Field

from app.api.access import PrincipalDep
from app.api.openapi import conflict, not_found
from app.models.base import Public
from app.models.people import AuditEntry, TokenCreate, TokenCreated, TokenPublic, UserCreate, UserPublic, UserUpdate
from app.services.audit import AuditQuery
from app.services.container import Services

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["people"])


def _services(request: Request) -> Services:
    services: Services = request.app.state.flowyard
    return services


ServicesDep = Annotated[Services, Depends(_services)]


class Me(Public):
    kind: str = Field(description="user (a login), token (a personal token) or admin-token.")
    user_id: str | None = None
    email: str | None = None
    name: str | None = None
    role: str | None = None
    permissions: list[str]


@router.get("/me", response_model=Me)
async def me(principal: PrincipalDep) -> Me:
    """Who this request is made as, and what it may do."""
    return Me(
        kind=principal.kind,
        user_id=principal.user_id,
        email=principal.email,
        name=principal.name,
        role=principal.role.value if principal.role else None,
        permissions=sorted(p.value for p in principal.permissions),
    )


@router.get("/tokens", response_model=list[TokenPublic])
async def list_tokens(principal: PrincipalDep, services: ServicesDep) -> list[TokenPublic]:
    """Your personal API tokens (their prefixes, never the tokens)."""
    return await services.tokens.list(principal)


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(body: TokenCreate, principal: PrincipalDep, services: ServicesDep) -> TokenCreated:
    """Make a personal token. The answer holds the token: it is shown this once and stored only as a hash."""
    return await services.tokens.create(principal, body)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=not_found("token of yours"))
async def revoke_token(token_id: str, principal: PrincipalDep, services: ServicesDep) -> None:
    """Revoke one of your tokens (admins: anyone's). It stops working at once."""
    await services.tokens.revoke(principal, token_id)


@router.get("/users", response_model=list[UserPublic])
async def list_users(services: ServicesDep) -> list[UserPublic]:
    return await services.users.list()


@router.post(
    "/users",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=conflict("A user with that email exists already."),
)
async def create_user(body: UserCreate, principal: PrincipalDep, services: ServicesDep) -> UserPublic:
    """Add a person with a role and a first password (they can change it once logged in)."""
    return await services.users.create(body, by=principal)


@router.patch(
    "/users/{user_id}",
    response_model=UserPublic,
    responses=not_found("user") | conflict("That would leave no active admin: make someone else an admin first."),
)
async def update_user(user_id: str, body: UserUpdate, principal: PrincipalDep, services: ServicesDep) -> UserPublic:
    """Change a person's name or role, or deactivate them (their logins and tokens stop working)."""
    return await services.users.update(user_id, body, by=principal)


@router.get("/audit", response_model=list[AuditEntry])
async def audit(
    services: ServicesDep,
    actor: Annotated[str | None, Query(max_length=254)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """The audit log, newest first: filter by actor, action (or its family, e.g. `login`), time; page with
    `beforeId`."""
    query = AuditQuery(actor=actor, action=action, since=since, until=until, before_id=before_id, limit=limit)
    return await services.audit.list(query)
