"""Every API route, as everyone: anonymous, each role's own token, and a token of each scope.

The answer each one gets follows from the route's rule (`app.api.access.RULES`): 401 without a token,
403 when the rule's permission is missing, and anything but 401/403 when it is there (the ids in the paths
name nothing, so an allowed call answers 404 or 422 and changes nothing). A route the application serves
without a rule, and that is not public, fails here.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.api.access import PUBLIC, RULES
from app.models.people import (
    ROLE_PERMISSIONS,
    SCOPE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    Scope,
    TokenCreate,
    scopes_for,
)
from app.root import Flowyard
from app.services.people import principal_of
from tests.conftest import ADMIN_TOKEN
from tests.ui.conftest import add_person

HOOKS = "/api/hooks/"
METHODS = ("get", "post", "put", "patch", "delete")


async def _token(flowyard: Flowyard, owner: Principal, scopes: list[Scope]) -> str:
    created = await flowyard.tokens.create(
        owner, TokenCreate(name="matrix " + ",".join(s.value for s in scopes), scopes=scopes)
    )
    return created.token


async def _callers(flowyard: Flowyard) -> dict[str, tuple[str | None, frozenset[Permission]]]:
    """name → (bearer token or None, the permissions it should have)."""
    callers: dict[str, tuple[str | None, frozenset[Permission]]] = {
        "anonymous": (None, frozenset()),
        "admin token": (ADMIN_TOKEN, frozenset(Permission)),
    }
    for role in Role:
        owner = principal_of(await add_person(flowyard, f"{role.value}@example.com", role))
        usable = scopes_for(owner.permissions)
        callers[f"{role.value}'s token"] = (await _token(flowyard, owner, usable), ROLE_PERMISSIONS[role])
        if role is Role.ADMIN:
            for scope in Scope:
                callers[f"admin's {scope.value} token"] = (
                    await _token(flowyard, owner, [scope]),
                    SCOPE_PERMISSIONS[scope],
                )
        if role is Role.APPROVER:  # a scope beyond the role gives nothing beyond the role
            callers["approver's read+approve token"] = (
                await _token(flowyard, owner, [Scope.READ, Scope.APPROVE]),
                ROLE_PERMISSIONS[role],
            )
    return callers


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "nothing-here", path)


async def test_every_route_answers_each_caller_by_its_rule(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    callers = await _callers(flowyard_of)
    wrong: list[str] = []
    for (method, path), needed in sorted(RULES.items()):
        for name, (token, permissions) in callers.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body: Any = {} if method in ("POST", "PUT", "PATCH") else None
            response = await anonymous.request(method, _concrete(path), headers=headers, json=body)
            if token is None:
                expected = "401"
                ok = response.status_code == 401
            elif needed in permissions:
                expected = "not 401/403"
                ok = response.status_code not in (401, 403) and response.status_code < 500
            else:
                expected = "403"
                ok = response.status_code == 403
            if not ok:
                wrong.append(f"{method} {path} as {name}: {response.status_code}, expected {expected}")
    assert wrong == []


async def test_nothing_the_api_serves_is_without_a_rule(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    served = {(method.upper(), path) for path, item in spec["paths"].items() for method in item if method in METHODS}

    unruled = sorted(
        (method, path)
        for method, path in served
        if (method, path) not in RULES and path not in PUBLIC and not path.startswith(HOOKS)
    )

    assert unruled == []


def test_roles_nest_as_documented() -> None:
    viewer, approver, editor, admin = (
        ROLE_PERMISSIONS[r] for r in (Role.VIEWER, Role.APPROVER, Role.EDITOR, Role.ADMIN)
    )

    assert viewer < editor < admin
    assert approver < editor
    assert Permission.VIEW_WORKFLOWS not in approver  # an approver sees runs and the inbox, not how workflows are built
    assert Permission.APPROVE not in viewer


@pytest.mark.parametrize("path", ["/api/health", "/openapi.json", "/docs"])
async def test_public_paths_answer_anyone(anonymous: httpx.AsyncClient, path: str) -> None:
    assert (await anonymous.get(path)).status_code == 200


async def test_a_revoked_or_expired_token_or_a_deactivated_owner_is_refused(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    row = await add_person(flowyard_of, "eve@example.com", Role.EDITOR)
    owner = principal_of(row)
    revoked = await flowyard_of.tokens.create(owner, TokenCreate(name="revoked", scopes=[Scope.READ]))
    await flowyard_of.tokens.revoke(owner, revoked.id)
    live = await flowyard_of.tokens.create(owner, TokenCreate(name="live", scopes=[Scope.READ]))

    def asking(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert (await anonymous.get("/api/v1/workflows", headers=asking(revoked.token))).status_code == 401
    assert (await anonymous.get("/api/v1/workflows", headers=asking(live.token))).status_code == 200
    assert (await api.patch(f"/api/v1/users/{row.id}", json={"active": False})).status_code == 200
    assert (await anonymous.get("/api/v1/workflows", headers=asking(live.token))).status_code == 401


async def test_a_token_acts_within_its_owners_current_role(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    row = await add_person(flowyard_of, "fay@example.com", Role.EDITOR)
    token = (await flowyard_of.tokens.create(principal_of(row), TokenCreate(name="w", scopes=[Scope.WRITE]))).token
    headers = {"Authorization": f"Bearer {token}"}

    assert (await anonymous.post("/api/v1/workflows", json={"name": "mine"}, headers=headers)).status_code == 201
    await api.patch(f"/api/v1/users/{row.id}", json={"role": "viewer"})
    assert (await anonymous.post("/api/v1/workflows", json={"name": "again"}, headers=headers)).status_code == 403
