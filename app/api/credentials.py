"""Credentials (`/api/v1/credentials`): named secrets, write-only."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.access import PrincipalDep
from app.api.deps import CredentialsDep
from app.api.openapi import conflict, not_found
from app.models.agents import CredentialCreate, CredentialPublic, CredentialUpdate

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["credentials"])


@router.get("/credentials", response_model=list[CredentialPublic])
async def list_credentials(credentials: CredentialsDep) -> list[CredentialPublic]:
    """Every credential's name, type and timestamps; values are never returned."""
    return await credentials.list()


@router.post(
    "/credentials",
    response_model=CredentialPublic,
    status_code=status.HTTP_201_CREATED,
    responses=conflict("A credential with that name exists already."),
)
async def create_credential(
    body: CredentialCreate, credentials: CredentialsDep, principal: PrincipalDep
) -> CredentialPublic:
    """Store a named secret, encrypted; agents refer to it by name (config `credential`)."""
    return await credentials.create(body.name, body.type, body.values, by=principal)


@router.put("/credentials/{name}", response_model=CredentialPublic, responses=not_found("credential", key="name"))
async def update_credential(
    name: str, body: CredentialUpdate, credentials: CredentialsDep, principal: PrincipalDep
) -> CredentialPublic:
    """Replace a credential's values (write-only: they cannot be read back)."""
    return await credentials.update(name, body.values, by=principal)


@router.delete(
    "/credentials/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=not_found("credential", key="name")
    | conflict("A saved agent or a workflow step uses the credential: point them at another first."),
)
async def delete_credential(name: str, credentials: CredentialsDep, principal: PrincipalDep) -> Response:
    """Delete a credential (refused while a saved agent or a workflow step refers to it)."""
    await credentials.delete(name, by=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
