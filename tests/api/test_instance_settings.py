"""The instance's settings over the API: admins read and change them and prune now; bad input names the field
and changes nothing; nobody else may even read them (they show the database URL and the data directory)."""

from __future__ import annotations

import httpx

from app import __version__
from app.models.people import Role, TokenCreate, scopes_for
from app.root import Flowyard
from app.services.people import principal_of
from tests.api.helpers import V1, workflow_with_steps
from tests.ui.conftest import add_person


async def test_an_admin_reads_the_defaults_and_the_facts(api: httpx.AsyncClient) -> None:
    answer = await api.get(f"{V1}/settings")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["retention"] == {"completedDays": None, "failedDays": None, "cancelledDays": None}
    assert (body["defaultTimeZone"], body["defaultTheme"], body["lastPrune"]) == ("UTC", "light", None)
    assert body["about"]["version"] == __version__
    assert body["about"]["databaseKind"] == "sqlite"
    assert body["about"]["dataDir"]


async def test_an_admin_changes_the_settings_and_what_is_left_out_stays(api: httpx.AsyncClient) -> None:
    first = await api.patch(
        f"{V1}/settings", json={"retention": {"completedDays": 30, "failedDays": 90}, "defaultTheme": "system"}
    )
    assert first.status_code == 200, first.text

    second = await api.patch(f"{V1}/settings", json={"defaultTimeZone": "Europe/Berlin"})

    body = second.json()
    assert body["retention"] == {"completedDays": 30, "failedDays": 90, "cancelledDays": None}
    assert (body["defaultTimeZone"], body["defaultTheme"]) == ("Europe/Berlin", "system")
    assert body["updatedBy"] == "admin token"
    assert (await api.get(f"{V1}/settings")).json()["defaultTimeZone"] == "Europe/Berlin"


async def test_bad_input_names_the_field_and_changes_nothing(api: httpx.AsyncClient) -> None:
    await api.patch(f"{V1}/settings", json={"retention": {"completedDays": 30}})

    for body, field in (
        ({"defaultTimeZone": "Mars/Olympus", "defaultTheme": "dark"}, "defaultTimeZone"),
        ({"retention": {"completedDays": 0}, "defaultTheme": "dark"}, "retention.completedDays"),
        ({"retention": {"failedDays": 2.5}}, "retention.failedDays"),
        ({"defaultTheme": "blue"}, "defaultTheme"),
        ({"retention": {"runningDays": 3}}, "retention.runningDays"),
    ):
        answer = await api.patch(f"{V1}/settings", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in [e["field"] for e in answer.json()["errors"]], answer.text

    after = (await api.get(f"{V1}/settings")).json()
    assert after["retention"]["completedDays"] == 30
    assert (after["defaultTimeZone"], after["defaultTheme"]) == ("UTC", "light")


async def test_prune_now_answers_how_many_went(api: httpx.AsyncClient) -> None:
    await api.patch(f"{V1}/settings", json={"retention": {"completedDays": 1}})

    answer = await api.post(f"{V1}/settings/prune")

    assert answer.status_code == 200, answer.text
    assert answer.json() | {"at": None} == {
        "runs": 0, "nodeRuns": 0, "approvals": 0, "callbackDeliveries": 0, "at": None
    }  # fmt: skip
    assert (await api.get(f"{V1}/settings")).json()["lastPrune"]["runs"] == 0


async def test_only_admins_read_or_change_the_instance_settings(
    anonymous: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    editor = principal_of(await add_person(flowyard_of, "ed@example.com", Role.EDITOR))
    every_scope = TokenCreate(name="t", scopes=scopes_for(editor.permissions))
    token = (await flowyard_of.tokens.create(editor, every_scope)).token
    headers = {"Authorization": f"Bearer {token}"}

    for method, path, body in (
        ("GET", "/settings", None),
        ("PATCH", "/settings", {"defaultTheme": "dark"}),
        ("POST", "/settings/prune", None),
    ):
        answer = await anonymous.request(method, f"{V1}{path}", json=body, headers=headers)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "admin" in answer.json()["detail"]
    assert (await flowyard_of.instance.get()).default_theme == "light"


async def test_an_empty_retention_keeps_every_run_forever_again(api: httpx.AsyncClient) -> None:
    await api.patch(f"{V1}/settings", json={"retention": {"completedDays": 30, "failedDays": 90}})

    answer = await api.patch(f"{V1}/settings", json={"retention": {}})

    assert answer.json()["retention"] == {"completedDays": None, "failedDays": None, "cancelledDays": None}


async def test_a_new_schedule_naming_no_time_zone_takes_the_instances(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    await api.patch(f"{V1}/settings", json={"defaultTimeZone": "Europe/Berlin"})

    unnamed = await api.post(f"{V1}/workflows/{workflow_id}/schedules", json={"cron": "0 8 * * *"})
    named = await api.post(f"{V1}/workflows/{workflow_id}/schedules", json={"cron": "0 8 * * *", "timezone": "UTC"})

    assert unnamed.status_code == 201, unnamed.text
    assert (unnamed.json()["timezone"], named.json()["timezone"]) == ("Europe/Berlin", "UTC")
