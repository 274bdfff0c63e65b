"""API authentication: with `FLOWYARD_ADMIN_TOKEN` set, every API call needs it as a bearer token."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status

__all__ = ["require_token"]


async def require_token(request: Request) -> None:
    expected: str | None = request.app.state.settings.admin_token
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
