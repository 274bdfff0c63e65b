"""People over the API: users, tokens, who decides a workflow's steps, and what the audit log keeps."""

from __future__ import annotations

from typing import Any

import httpx

from app.models.people import Role, Scope, TokenCreate
from app.root import Flowyard
from app.services.people import principal_of
from tests.api.helpers import V1, add_step, finished_run, workflow_with_steps
from tests.ui.conftest import add_person


async def _token(flowyard: Flowyard, email: str, role: Role, *scopes: Scope) -> dict[str, str]:
    owner = principal_of(await add_person(flowyard, email, role))
    created = await flowyard.tokens.create(owner, TokenCreate(name="test", scopes=list(scopes) or [Scope.READ]))
    return {"Authorization": f"Bearer {created.token}"}


async def _paused(api: httpx.AsyncClient, flowyard: Flowyard, headers: dict[str, str] | None = None) -> tuple[str, str]:
    workflow_id = await workflow_with_steps(api, "Draft about {{ input }}", name="Newsletter")
    await add_step(api, workflow_id, "approval", "", key="review")
    started = await api.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "AI"}, headers=headers or {})
    assert started.status_code == 202, started.text
    run = await finished_run(api, flowyard, started.json()["runId"])
    assert run["status"] == "PAUSED"
    return workflow_id, run["id"]


async def test_me_says_who_the_token_is_and_what_it_may_do(anonymous: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    headers = await _token(flowyard_of, "ann@example.com", Role.APPROVER, Scope.APPROVE)

    me = (await anonymous.get(f"{V1}/me", headers=headers)).json()

    assert (me["kind"], me["email"], me["role"]) == ("token", "ann@example.com", "approver")
    assert me["permissions"] == ["approve", "view_runs"]


async def test_a_token_is_shown_once_and_listed_by_its_prefix(
    anonymous: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    headers = await _token(flowyard_of, "eve@example.com", Role.EDITOR, Scope.READ, Scope.RUN)

    created = await anonymous.post(
        f"{V1}/tokens", json={"name": "CI", "scopes": ["run"], "expiresInDays": 30}, headers=headers
    )

    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("fy_") and token.startswith(created.json()["prefix"])
    listed = (await anonymous.get(f"{V1}/tokens", headers=headers)).json()
    assert {t["name"] for t in listed} == {"test", "CI"}
    assert all("token" not in t for t in listed)
    assert token not in str(listed)
    runs_only = {"Authorization": f"Bearer {token}"}
    assert (await anonymous.post(f"{V1}/workflows", json={"name": "x"}, headers=runs_only)).status_code == 403
    wider = await anonymous.post(f"{V1}/tokens", json={"name": "more", "scopes": ["write"]}, headers=headers)
    assert wider.status_code == 422  # a token makes no token that may do more than itself


async def test_a_token_cannot_reach_past_its_owners_role(anonymous: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    headers = await _token(flowyard_of, "vic@example.com", Role.VIEWER, Scope.READ)

    refused = await anonymous.post(f"{V1}/tokens", json={"name": "more", "scopes": ["admin"]}, headers=headers)

    assert refused.status_code == 422
    assert "admin" in refused.json()["detail"]


async def test_admins_add_people_and_the_last_admin_stays(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    body = {"email": "Bo@Example.com", "name": "Bo", "role": "approver", "password": "a good long password"}

    created = await api.post(f"{V1}/users", json=body)

    assert created.status_code == 201, created.text
    assert (created.json()["email"], created.json()["role"]) == ("bo@example.com", "approver")
    assert "password" not in str(created.json()).lower()
    assert (await api.post(f"{V1}/users", json=body)).status_code == 409
    assert (
        await api.post(f"{V1}/users", json={**body, "email": "x@example.com", "password": "short"})
    ).status_code == 422
    admin = await add_person(flowyard_of, "root@example.com", Role.ADMIN)
    demoted = await api.patch(f"{V1}/users/{admin.id}", json={"role": "viewer"})
    assert demoted.status_code == 409
    assert "last active admin" in demoted.json()["detail"]


async def test_only_a_workflows_named_approvers_decide_its_steps(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    ann = await _token(flowyard_of, "ann@example.com", Role.APPROVER, Scope.APPROVE)
    bo = await _token(flowyard_of, "bo@example.com", Role.APPROVER, Scope.APPROVE)
    workflow_id, run_id = await _paused(api, flowyard_of)
    access = await api.put(f"{V1}/workflows/{workflow_id}/access", json={"approvers": ["BO@example.com"]})
    assert access.json() == {"approvers": ["bo@example.com"], "allowSelfApproval": True}

    refused = await anonymous.post(f"{V1}/workflows/runs/{run_id}/resume", json={"output": "ok"}, headers=ann)
    approved = await anonymous.post(f"{V1}/workflows/runs/{run_id}/resume", json={"output": "ok"}, headers=bo)

    assert refused.status_code == 403
    assert "approvers" in refused.json()["detail"]
    assert approved.status_code == 202
    run = await finished_run(api, flowyard_of, run_id)
    assert run["approvals"][0]["decidedBy"] == "bo@example.com"
    entries = (await api.get(f"{V1}/audit", params={"action": "approval"})).json()
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [("bo@example.com", "approval.approve", run_id)]


async def test_an_unknown_approver_is_refused(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id, _ = await _paused(api, flowyard_of)

    refused = await api.put(f"{V1}/workflows/{workflow_id}/access", json={"approvers": ["nobody@example.com"]})

    assert refused.status_code == 422
    assert "nobody@example.com" in refused.json()["detail"]


async def test_whoever_started_a_run_may_not_approve_it_when_the_workflow_says_so(
    api: httpx.AsyncClient, anonymous: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    eve = await _token(flowyard_of, "eve@example.com", Role.EDITOR, Scope.RUN, Scope.APPROVE)
    workflow_id = await workflow_with_steps(api, "Draft", name="Four eyes")
    await add_step(api, workflow_id, "approval", "", key="review")
    await api.put(f"{V1}/workflows/{workflow_id}/access", json={"approvers": [], "allowSelfApproval": False})
    started = await anonymous.post(f"{V1}/workflows/{workflow_id}/run", json={"input": "x"}, headers=eve)
    run = await finished_run(api, flowyard_of, started.json()["runId"])
    assert run["startedBy"] == "eve@example.com"

    refused = await anonymous.post(f"{V1}/workflows/runs/{run['id']}/resume", json={"output": 1}, headers=eve)

    assert refused.status_code == 403
    assert "started" in refused.json()["detail"]
    assert (await api.post(f"{V1}/workflows/runs/{run['id']}/resume", json={"output": 1})).status_code == 202


async def test_the_audit_log_keeps_who_changed_workflows_and_credentials(api: httpx.AsyncClient) -> None:
    workflow = (await api.post(f"{V1}/workflows", json={"name": "Audited"})).json()
    await api.delete(f"{V1}/workflows/{workflow['id']}")
    await api.post(f"{V1}/credentials", json={"name": "crm", "type": "bearer", "values": {"token": "s3cret"}})

    entries: list[dict[str, Any]] = (await api.get(f"{V1}/audit")).json()

    seen = [(e["actor"], e["action"], e["target"]) for e in entries]
    assert seen == [
        ("admin token", "credential.create", "crm"),
        ("admin token", "workflow.delete", workflow["id"]),
        ("admin token", "workflow.create", workflow["id"]),
    ]
    assert "s3cret" not in str(entries)
    only = (await api.get(f"{V1}/audit", params={"action": "workflow"})).json()
    assert [e["action"] for e in only] == ["workflow.delete", "workflow.create"]
