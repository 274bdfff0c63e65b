"""People for tests that call services directly: principals as a login would give them."""

from __future__ import annotations

from app.models.people import ROLE_PERMISSIONS, Principal, Role


def person(email: str, role: Role = Role.ADMIN) -> Principal:
    """A logged-in user with `role` (admin by default), recorded as `email`."""
    return Principal(
        kind="user", permissions=ROLE_PERMISSIONS[role], user_id=f"usr-{email}", email=email, name=email, role=role
    )


ANA = person("ana")
BO = person("bo")
