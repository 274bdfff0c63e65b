"""People and what they may do: users, their roles, personal API tokens, and the audit log's entries.

A role is a set of permissions; a token's scopes are another set, and what a token may do is what both allow
(so a user moved to a lesser role takes their tokens down with them). Every check in the API and the pages
asks a `Principal` for one permission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from sqlmodel import SQLModel

from app.models.base import Input, Public, name_problem

__all__ = [
    "PERMISSION_ACTIONS",
    "ROLE_PERMISSIONS",
    "SCOPE_KEYS",
    "SCOPE_PERMISSIONS",
    "SYSTEM",
    "AuditEntry",
    "AuditEventBase",
    "Permission",
    "Principal",
    "Role",
    "Scope",
    "TokenBase",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "UserBase",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "roles_with",
    "scopes_for",
]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200


class Permission(StrEnum):
    """One thing a principal may do. Routes and pages each ask for exactly one."""

    VIEW_RUNS = "view_runs"
    """See runs, their steps and the inbox."""
    VIEW_WORKFLOWS = "view_workflows"
    """See workflows, agents, schedules, batches and sessions."""
    APPROVE = "approve"
    """Decide a paused step: approve, edit, reject."""
    RUN = "run"
    """Start, cancel and re-run runs and batches."""
    EDIT = "edit"
    """Create, change and delete workflows, agents, schedules, webhooks and batches."""
    MANAGE = "manage"
    """Users, credentials, the audit log: everything."""


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    APPROVER = "approver"
    VIEWER = "viewer"


class Scope(StrEnum):
    READ = "read"
    RUN = "run"
    WRITE = "write"
    APPROVE = "approve"
    ADMIN = "admin"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.EDITOR: frozenset({P.VIEW_RUNS, P.VIEW_WORKFLOWS, P.APPROVE, P.RUN, P.EDIT}),
    Role.APPROVER: frozenset({P.VIEW_RUNS, P.APPROVE}),
    Role.VIEWER: frozenset({P.VIEW_RUNS, P.VIEW_WORKFLOWS}),
}
"""What each role may do. An approver sees runs and the inbox, and nothing of how workflows are built."""

SCOPE_PERMISSIONS: dict[Scope, frozenset[Permission]] = {
    Scope.READ: frozenset({P.VIEW_RUNS, P.VIEW_WORKFLOWS}),
    Scope.RUN: frozenset({P.RUN, P.VIEW_RUNS, P.VIEW_WORKFLOWS}),  # a run started must be readable back
    Scope.WRITE: frozenset({P.EDIT, P.VIEW_RUNS, P.VIEW_WORKFLOWS}),
    Scope.APPROVE: frozenset({P.APPROVE, P.VIEW_RUNS}),
    Scope.ADMIN: frozenset(Permission),
}
"""What a token's scope lets it do, within its owner's role."""

SCOPE_KEYS: dict[Scope, Permission] = {
    Scope.READ: P.VIEW_RUNS,
    Scope.RUN: P.RUN,
    Scope.WRITE: P.EDIT,
    Scope.APPROVE: P.APPROVE,
    Scope.ADMIN: P.MANAGE,
}
"""The permission a scope is for: a role without it has no use for the scope."""


def scopes_for(permissions: frozenset[Permission]) -> list[Scope]:
    """The scopes a person with `permissions` may put on a token."""
    return [scope for scope in Scope if SCOPE_KEYS[scope] in permissions]


PERMISSION_ACTIONS: dict[Permission, str] = {
    P.VIEW_RUNS: "see runs and the inbox",
    P.VIEW_WORKFLOWS: "see workflows, agents, schedules and batches",
    P.APPROVE: "decide approvals",
    P.RUN: "start, cancel or retry runs and batches",
    P.EDIT: "change workflows, agents, schedules, webhooks and batches",
    P.MANAGE: "manage people, credentials and the audit log",
}
"""What a permission lets a person do, in the words a refusal uses."""


def roles_with(permission: Permission) -> list[Role]:
    """The roles that may do what needs `permission`, most limited first."""
    return [role for role in reversed(Role) if permission in ROLE_PERMISSIONS[role]]


ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.ADMIN: "Everything, including people, credentials and the audit log",
    Role.EDITOR: "Builds and runs workflows, agents, schedules, webhooks and batches; approves",
    Role.APPROVER: "Sees runs and the inbox, and decides approvals",
    Role.VIEWER: "Sees workflows and runs, changes nothing",
}


def _no_control_characters(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value.strip()


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an email address (name@example.com)")
    return value


Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_email)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_control_characters)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]


class UserBase(SQLModel):
    email: str = Field(max_length=254, description="How the person logs in; unique, kept lower-case.")
    name: str = Field(max_length=200, description="How the person is shown.")
    role: str = Field(max_length=16, description="admin, editor, approver or viewer.")
    active: bool = Field(default=True, description="A deactivated user cannot log in; their tokens stop working.")


class UserPublic(UserBase, Public):
    id: str
    created_at: datetime
    last_login_at: datetime | None = None


class UserCreate(Input):
    email: Email
    name: DisplayName
    role: Role = Role.VIEWER
    password: Password


class UserUpdate(Input):
    name: DisplayName | None = None
    role: Role | None = None
    active: bool | None = None


class TokenBase(SQLModel):
    name: str = Field(max_length=100, description="What the token is for, e.g. 'CI pipeline'.")
    prefix: str = Field(max_length=16, description="The token's first characters, to recognise it by.")
    scopes: list[str] = Field(default_factory=list, description="read, run, write, approve, admin.")


class TokenPublic(TokenBase, Public):
    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself: shown once, stored only as a hash.")


class TokenCreate(Input):
    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_no_control_characters)]
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Days until it stops working; none: never.")


class AuditEventBase(SQLModel):
    actor: str = Field(
        default="", max_length=254, description="Who: the user's email, or what acted (a token, the system)."
    )
    actor_id: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=64, description="What, e.g. 'login', 'workflow.save', 'approval.approve'.")
    target: str | None = Field(default=None, max_length=300, description="What it was done to, e.g. a workflow id.")
    detail: str | None = Field(default=None, max_length=2000)
    ip: str | None = Field(default=None, max_length=64, description="From where.")


class AuditEntry(AuditEventBase, Public):
    id: int
    at: datetime


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (from a login or one of their tokens), the bootstrap admin token, or Flowyard itself."""

    kind: str
    """'user' (a login session), 'token' (a personal API token), 'admin-token', 'system'."""
    permissions: frozenset[Permission]
    user_id: str | None = None
    email: str | None = None
    name: str | None = None
    role: Role | None = None
    token_id: str | None = None
    ip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def label(self) -> str:
        """How records name this principal: the user's email, else what it is."""
        if self.email:
            return self.email
        return {"admin-token": "admin token", "system": "system"}.get(self.kind, self.kind)

    @property
    def is_admin(self) -> bool:
        return Permission.MANAGE in self.permissions

    def refusal(self, needed: Permission) -> str:
        """Why this principal may not do what needs `needed`, in words a person reads (no permission names)."""
        action = PERMISSION_ACTIONS[needed]
        roles = " or ".join(role.value for role in roles_with(needed))
        if self.kind == "token":
            return f"this token may not {action}: that needs a scope that allows it, and an owner with the {roles} role"
        role = self.role.value if self.role else self.kind
        return f"your role ({role}) may not {action}: that needs the {roles} role"

    @classmethod
    def system(cls) -> Principal:
        return cls(kind="system", permissions=frozenset(Permission))

    @classmethod
    def admin_token(cls, ip: str | None = None) -> Principal:
        return cls(kind="admin-token", permissions=frozenset(Permission), ip=ip)


SYSTEM = Principal.system()
"""Flowyard itself: what acts when no person does (schedules, recovery, the command line's defaults)."""
