"""Logins: the browser sessions people open with their password, and the throttle on guessing.

A login's cookie holds a random token; the database keeps only its SHA-256. A login ends when it was idle
for `idle` (no request), at its absolute expiry, on logout, or when the user's password changes or the user
is deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.ids import new_id
from app.models.people import Principal
from app.services.audit import AuditService
from app.services.people import UserService, principal_of
from storage.db import Database
from storage.models import LoginRow, UserRow

__all__ = ["LoginService", "LoginThrottle", "digest"]

TOUCH_EVERY = timedelta(seconds=60)
"""A login's last-seen time is written at most this often (not on every request)."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class LoginThrottle:
    """Back-off on failed logins, per email and per address: after `free` failures each next try waits twice as
    long as the one before (1 s, 2 s, 4 s… up to `cap`). A success clears the email's count."""

    free: int = 5
    cap: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, _Failures] = field(default_factory=dict)

    def wait(self, email: str, ip: str | None) -> float:
        """Seconds until this email (from this address) may try again; 0: now."""
        now = self.clock()
        return max((f.locked_until - now for f in self._entries(email, ip)), default=0.0) if self._seen else 0.0

    def failed(self, email: str, ip: str | None) -> None:
        for key in self._keys(email, ip):
            entry = self._seen.setdefault(key, _Failures())
            entry.count += 1
            over = entry.count - self.free
            if over >= 0:
                entry.locked_until = self.clock() + min(self.cap, float(2**over))
        if len(self._seen) > 100_000:  # bounded memory under a spray of addresses
            self._seen.clear()

    def succeeded(self, email: str) -> None:
        self._seen.pop(f"email:{email.strip().lower()}", None)

    def _keys(self, email: str, ip: str | None) -> list[str]:
        keys = [f"email:{email.strip().lower()}"]
        if ip:
            keys.append(f"ip:{ip}")
        return keys

    def _entries(self, email: str, ip: str | None) -> list[_Failures]:
        return [self._seen[key] for key in self._keys(email, ip) if key in self._seen]


class LoginService:
    def __init__(
        self,
        db: Database,
        users: UserService,
        audit: AuditService,
        *,
        now: Callable[[], datetime],
        idle: timedelta,
        lifetime: timedelta,
    ) -> None:
        self._db = db
        self._users = users
        self._audit = audit
        self._now = now
        self.idle = idle
        self.lifetime = lifetime
        self.throttle = LoginThrottle()

    async def log_in(
        self, email: str, password: str, *, ip: str | None = None, user_agent: str | None = None
    ) -> tuple[str, Principal] | str:
        """A new login's cookie token and principal; or, when refused, the message to show."""
        wait = self.throttle.wait(email, ip)
        if wait > 0:
            await self._audit.record(_someone(email, ip), "login.throttled", target=email[:254])
            return f"Too many failed attempts: try again in {max(1, round(wait))} s."
        row = await self._users.authenticate(email, password)
        if row is None:
            self.throttle.failed(email, ip)
            await self._audit.record(_someone(email, ip), "login.failed", target=email[:254])
            return "Wrong email or password."
        self.throttle.succeeded(email)
        return await self.open(row, ip=ip, user_agent=user_agent)

    async def open(
        self, user: UserRow, *, ip: str | None = None, user_agent: str | None = None
    ) -> tuple[str, Principal]:
        """A new login for `user`, who has proved who they are already (a password checked, a set-up just done)."""
        token = secrets.token_urlsafe(32)
        now = self._now()
        login = LoginRow(
            id=new_id("lg"),
            token_hash=digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.lifetime,
            ip=ip[:64] if ip else None,
            user_agent=user_agent[:300] if user_agent else None,
        )
        principal = replace(principal_of(user, ip=ip), extra={"login_id": login.id})

        def start(session: Session) -> None:
            session.add(login)
            session.execute(sa.update(UserRow).where(col(UserRow.id) == user.id).values(last_login_at=now))
            self._audit.add(session, principal, "login", target=user.email)

        await self._db.tx(start)
        return token, principal

    async def principal(self, token: str | None, *, ip: str | None = None) -> Principal | None:
        """Whose login this cookie token is, if it is still open (and the user active)."""
        if not token or len(token) > 200:
            return None
        hashed, now = digest(token), self._now()

        def find(session: Session) -> Principal | None:
            found = session.exec(
                select(LoginRow, UserRow)
                .join(UserRow, col(UserRow.id) == col(LoginRow.user_id))
                .where(LoginRow.token_hash == hashed)
            ).first()
            if found is None:
                return None
            login, user = found
            if login.ended_at is not None or not user.active:
                return None
            if now >= login.expires_at or now - login.last_seen_at >= self.idle:
                login.ended_at = now
                session.add(login)
                return None
            if now - login.last_seen_at >= TOUCH_EVERY:
                login.last_seen_at = now
                session.add(login)
            return replace(principal_of(user, ip=ip), extra={"login_id": login.id})

        return await self._db.tx(find)

    async def log_out(self, token: str | None, *, ip: str | None = None) -> None:
        principal = await self.principal(token, ip=ip)
        if principal is None:
            return
        hashed, now = digest(token or ""), self._now()

        def end(session: Session) -> None:
            login = session.exec(select(LoginRow).where(LoginRow.token_hash == hashed)).first()
            if login is not None:
                login.ended_at = now
                session.add(login)
            self._audit.add(session, principal, "logout", target=principal.email)

        await self._db.tx(end)


def _someone(email: str, ip: str | None) -> Principal:
    """Whoever tried to log in as `email` (not proven to be anyone)."""
    return Principal(kind="anonymous", permissions=frozenset(), ip=ip, email=None, extra={"tried": email})
