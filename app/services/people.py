"""People: users with a role and an argon2-hashed password, and the first admin of a new Flowyard.

A new Flowyard has no users. Until its first admin exists, the UI shows a one-time set-up page, open to a
browser on the same machine or to whoever types the set-up code the server printed; `flowyard users create`
does the same from the command line.
"""

from __future__ import annotations

import builtins
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from pwdlib import PasswordHash
from sqlmodel import Session, col, func, select

from app.engine.exceptions import Conflict, InvalidInput, NotFound
from app.ids import new_id
from app.models.people import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROLE_PERMISSIONS,
    Principal,
    Role,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from app.services.audit import AuditService
from storage.db import Database
from storage.models import LoginRow, UserRow

__all__ = ["Passwords", "UserService", "check_password"]

_hasher = PasswordHash.recommended()  # argon2id with the library's current parameters
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))  # verified against when the email is unknown: same cost


class Passwords:
    """argon2id hashing (pwdlib's recommended parameters); an old hash is upgraded when it is next verified."""

    @staticmethod
    def hash(password: str) -> str:
        return _hasher.hash(password)

    @staticmethod
    def verify(password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(whether it matches, a new hash to store when the parameters changed)."""
        if hashed is None:
            _hasher.verify(password, _DUMMY_HASH)
            return False, None
        return _hasher.verify_and_update(password, hashed)


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(field, f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(field, f"at most {MAX_PASSWORD_LENGTH} characters")
    return password


def principal_of(row: UserRow, *, kind: str = "user", ip: str | None = None) -> Principal:
    role = Role(row.role)
    return Principal(
        kind=kind,
        permissions=ROLE_PERMISSIONS[role],
        user_id=row.id,
        email=row.email,
        name=row.name,
        role=role,
        ip=ip,
    )


class UserService:
    """Users as admins manage them, and the passwords people log in with."""

    def __init__(self, db: Database, audit: AuditService, *, now: Callable[[], datetime]) -> None:
        self._db = db
        self._audit = audit
        self._now = now
        self.setup_code = "-".join(secrets.token_hex(3).upper() for _ in range(3))
        """The code that opens the first-admin page from another machine; printed by `flowyard serve`."""

    # --- reading -------------------------------------------------------------------------------------------
    async def count(self) -> int:
        return await self._db.tx(lambda s: s.exec(select(func.count()).select_from(UserRow)).one())

    async def needs_setup(self) -> bool:
        """True while no user exists: the set-up page creates the first admin."""
        return await self.count() == 0

    async def list(self) -> builtins.list[UserPublic]:
        rows = await self._db.tx(lambda s: s.exec(select(UserRow).order_by(col(UserRow.email))).all())
        return [UserPublic.model_validate(row) for row in rows]

    async def get(self, user_id: str) -> UserPublic:
        row = await self._db.tx(lambda s: s.get(UserRow, user_id))
        if row is None:
            raise NotFound("user", user_id)
        return UserPublic.model_validate(row)

    async def principal(self, user_id: str, *, ip: str | None = None) -> Principal | None:
        """The principal of an active user, or None."""
        row = await self._db.tx(lambda s: s.get(UserRow, user_id))
        return principal_of(row, ip=ip) if row is not None and row.active else None

    async def by_email(self, email: str) -> UserPublic | None:
        row = await self._db.tx(lambda s: _by_email(s, email))
        return UserPublic.model_validate(row) if row else None

    # --- changing ------------------------------------------------------------------------------------------
    async def create(self, user: UserCreate, *, by: Principal) -> UserPublic:
        """A new user; Conflict when the email is taken."""
        hashed = Passwords.hash(check_password(user.password))

        def create(session: Session) -> UserRow:
            if _by_email(session, user.email) is not None:
                raise Conflict(f"a user with email '{user.email}' exists already")
            now = self._now()
            row = UserRow(
                id=new_id("usr"),
                email=user.email,
                name=user.name,
                role=user.role.value,
                password_hash=hashed,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            self._audit.add(session, by, "user.create", target=row.email, detail=f"role {row.role}")
            return row

        return UserPublic.model_validate(await self._db.tx(create))

    async def row(self, user_id: str) -> UserRow:
        found = await self._db.tx(lambda s: s.get(UserRow, user_id))
        if found is None:
            raise NotFound("user", user_id)
        return found

    async def create_first_admin(self, user: UserCreate, *, ip: str | None = None) -> UserPublic:
        """The first user, an admin, while there is none; Conflict once anyone exists (set-up is one-time)."""
        hashed = Passwords.hash(check_password(user.password))

        def create(session: Session) -> UserRow:
            if session.exec(select(func.count()).select_from(UserRow)).one():
                raise Conflict("Flowyard is set up already: log in, or ask an admin for an account")
            now = self._now()
            row = UserRow(
                id=new_id("usr"),
                email=user.email,
                name=user.name,
                role=Role.ADMIN.value,
                password_hash=hashed,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            actor = Principal(kind="setup", permissions=frozenset(), ip=ip)
            self._audit.add(session, actor, "user.create", target=row.email, detail="first admin, at set-up")
            return row

        return UserPublic.model_validate(await self._db.tx(create))

    async def update(self, user_id: str, change: UserUpdate, *, by: Principal) -> UserPublic:
        """Change a user's name, role or whether they may log in. The last active admin stays an active admin."""

        def update(session: Session) -> UserRow:
            row = session.get(UserRow, user_id)
            if row is None:
                raise NotFound("user", user_id)
            demoted = (change.role is not None and change.role != Role.ADMIN) or change.active is False
            if row.role == Role.ADMIN and row.active and demoted and _active_admins(session) <= 1:
                raise Conflict("this is the last active admin: make someone else an admin first")
            changes = []
            if change.name is not None and change.name != row.name:
                row.name = change.name
                changes.append("name")
            if change.role is not None and change.role != row.role:
                changes.append(f"role {row.role} → {change.role.value}")
                row.role = change.role.value
            if change.active is not None and change.active != row.active:
                row.active = change.active
                changes.append("activated" if change.active else "deactivated")
            row.updated_at = self._now()
            session.add(row)
            if changes:
                self._audit.add(session, by, "user.update", target=row.email, detail=", ".join(changes))
            if change.role is not None or change.active is False:
                # Open pages keep the role they were opened with: end the person's logins so that they come
                # back (within a minute, when their pages check) with what they may do now.
                session.execute(
                    sa.update(LoginRow)
                    .where(col(LoginRow.user_id) == user_id, col(LoginRow.ended_at).is_(None))
                    .values(ended_at=self._now())
                )
            return row

        return UserPublic.model_validate(await self._db.tx(update))

    async def set_password(self, user_id: str, password: str, *, by: Principal, keep_login: str | None = None) -> None:
        """Set someone's password; their logins end (but `keep_login`, the one that changed it)."""
        hashed = Passwords.hash(check_password(password))

        def change(session: Session) -> None:
            row = session.get(UserRow, user_id)
            if row is None:
                raise NotFound("user", user_id)
            now = self._now()
            row.password_hash, row.updated_at = hashed, now
            session.add(row)
            ended = sa.update(LoginRow).where(col(LoginRow.user_id) == user_id, col(LoginRow.ended_at).is_(None))
            if keep_login:
                ended = ended.where(col(LoginRow.id) != keep_login)
            session.execute(ended.values(ended_at=now))
            self._audit.add(session, by, "user.password", target=row.email)

        await self._db.tx(change)

    async def change_own_password(self, principal: Principal, current: str, new: str) -> None:
        """A person changes their own password, proving the current one."""
        if principal.user_id is None:
            raise InvalidInput("password", "only a person's login has a password")
        check_password(new, field="new_password")
        row = await self._db.tx(lambda s: s.get(UserRow, principal.user_id))
        if row is None:
            raise NotFound("user", principal.user_id)
        ok, _ = await self._db.run(Passwords.verify, current, row.password_hash)
        if not ok:
            raise InvalidInput("current_password", "that is not your current password")
        await self.set_password(row.id, new, by=principal, keep_login=principal.extra.get("login_id"))

    async def authenticate(self, email: str, password: str) -> UserRow | None:
        """The active user with this email and password, or None (the same work either way)."""
        email = email.strip().lower()
        row = await self._db.tx(lambda s: _by_email(s, email))
        ok, rehashed = await self._db.run(Passwords.verify, password, row.password_hash if row else None)
        if row is None or not ok or not row.active:
            return None

        def logged_in(session: Session) -> UserRow:
            fresh = session.get(UserRow, row.id)
            assert fresh is not None
            if rehashed:
                fresh.password_hash = rehashed
            session.add(fresh)
            return fresh

        return await self._db.tx(logged_in)

    def codes_match(self, code: str) -> bool:
        return hmac.compare_digest(code.strip().upper().encode(), self.setup_code.encode())


def _by_email(session: Session, email: str) -> UserRow | None:
    return session.exec(select(UserRow).where(UserRow.email == email.strip().lower())).first()


def _active_admins(session: Session) -> int:
    query = (
        select(func.count()).select_from(UserRow).where(UserRow.role == Role.ADMIN.value, sa.true() == UserRow.active)
    )
    return session.exec(query).one()
