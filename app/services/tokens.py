"""Personal API tokens: shown once when made, kept as a SHA-256 hash, recognised by their first characters.

A token acts for the user who made it, limited by its scopes: what it may do is what both its scopes and its
owner's current role allow. A revoked or expired token, or one whose owner was deactivated, is refused.
`FLOWYARD_ADMIN_TOKEN`, when set, is a bootstrap token with every permission.
"""

from __future__ import annotations

import builtins
import hmac
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.engine.exceptions import InvalidInput, NotFound
from app.ids import new_id
from app.models.people import (
    SCOPE_PERMISSIONS,
    Permission,
    Principal,
    Scope,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    scopes_for,
)
from app.services.audit import AuditService
from app.services.logins import TOUCH_EVERY, digest
from app.services.people import principal_of
from storage.db import Database
from storage.models import ApiTokenRow, UserRow

__all__ = ["TOKEN_PREFIX", "TokenService"]

TOKEN_PREFIX = "fy_"
SHOWN_CHARACTERS = 10


class TokenService:
    def __init__(
        self, db: Database, audit: AuditService, *, now: Callable[[], datetime], admin_token: str | None
    ) -> None:
        self._db = db
        self._audit = audit
        self._now = now
        self._admin_token = admin_token

    async def create(self, owner: Principal, request: TokenCreate) -> TokenCreated:
        """A new token for `owner`; its scopes cannot reach past what the owner may do."""
        if owner.user_id is None:
            raise InvalidInput("owner", "tokens belong to a person: log in to make one")
        allowed = scopes_for(owner.permissions)
        who = "this token's scopes do" if owner.kind == "token" else "your role does"
        for scope in request.scopes:
            if scope not in allowed:
                usable = ", ".join(s.value for s in allowed) or "none"
                raise InvalidInput("scopes", f"{who} not allow the '{scope.value}' scope (usable: {usable})")
        token = TOKEN_PREFIX + secrets.token_urlsafe(30)
        now = self._now()
        row = ApiTokenRow(
            id=new_id("tok"),
            user_id=owner.user_id,
            name=request.name,
            prefix=token[:SHOWN_CHARACTERS],
            token_hash=digest(token),
            scopes=sorted({scope.value for scope in request.scopes}),
            created_at=now,
            expires_at=now + timedelta(days=request.expires_in_days) if request.expires_in_days else None,
        )

        def create(session: Session) -> ApiTokenRow:
            session.add(row)
            self._audit.add(
                session, owner, "token.create", target=f"{row.prefix}… {row.name}", detail=", ".join(row.scopes)
            )
            return row

        created = await self._db.tx(create)
        return TokenCreated.model_validate({**TokenPublic.model_validate(created).model_dump(), "token": token})

    async def list(self, owner: Principal) -> builtins.list[TokenPublic]:
        """The owner's tokens, newest first (revoked ones too, to see when they went)."""
        rows = await self._db.tx(
            lambda s: s.exec(
                select(ApiTokenRow)
                .where(ApiTokenRow.user_id == owner.user_id)
                .order_by(col(ApiTokenRow.created_at).desc())
            ).all()
        )
        return [TokenPublic.model_validate(row) for row in rows]

    async def revoke(self, owner: Principal, token_id: str) -> TokenPublic:
        """Revoke one of the owner's tokens (an admin may revoke anyone's)."""

        def revoke(session: Session) -> ApiTokenRow:
            row = session.get(ApiTokenRow, token_id)
            if row is None or (row.user_id != owner.user_id and not owner.is_admin):
                raise NotFound("token", token_id)
            if row.revoked_at is None:
                row.revoked_at = self._now()
                session.add(row)
                self._audit.add(session, owner, "token.revoke", target=f"{row.prefix}… {row.name}")
            return row

        return TokenPublic.model_validate(await self._db.tx(revoke))

    async def principal(self, token: str, *, ip: str | None = None) -> Principal | None:
        """Who a bearer token is: the bootstrap admin token, or a user's live token; None for anything else."""
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token.encode()):
            return Principal.admin_token(ip=ip)
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        hashed, now = digest(token), self._now()

        def find(session: Session) -> Principal | None:
            found = session.exec(
                select(ApiTokenRow, UserRow)
                .join(UserRow, col(UserRow.id) == col(ApiTokenRow.user_id))
                .where(ApiTokenRow.token_hash == hashed)
            ).first()
            if found is None:
                return None
            row, user = found
            if row.revoked_at is not None or not user.active or (row.expires_at and now >= row.expires_at):
                return None
            if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
                row.last_used_at = now
                session.add(row)
            owner = principal_of(user, kind="token", ip=ip)
            allowed: frozenset[Permission] = frozenset().union(*(SCOPE_PERMISSIONS[Scope(s)] for s in row.scopes))
            return replace(owner, permissions=owner.permissions & allowed, token_id=row.id)

        return await self._db.tx(find)
