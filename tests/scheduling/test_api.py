"""The schedules API, as a client uses it: create, read, change, switch, preview and delete; bad bodies get 4xx."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import ISO_UTC, V1, add_step, assert_refused, create_workflow, workflow_with_steps


async def create(api: httpx.AsyncClient, workflow_id: str, **body: Any) -> dict[str, Any]:
    response = await api.post(f"{V1}/workflows/{workflow_id}/schedules", json=body)
    assert response.status_code == 201, response.text
    schedule: dict[str, Any] = response.json()
    return schedule


async def test_create_a_schedule_and_read_it_back_in_camel_case(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "", name="Morning report")

    created = await create(
        api,
        workflow_id,
        name="Weekdays",
        cron="0 8 * * 1-5",
        timezone="Europe/Berlin",
        input={"topic": "sales"},
        overlapPolicy="queue",
        catchupPolicy="once",
        catchupWindowSeconds=600,
        pauseAfterFailures=3,
    )
    fetched = (await api.get(f"{V1}/schedules/{created['id']}")).json()

    assert fetched == created
    assert {k: created[k] for k in ("workflowName", "description", "overlapPolicy", "pauseAfterFailures")} == {
        "workflowName": "Morning report",
        "description": "At 08:00, Monday through Friday",
        "overlapPolicy": "queue",
        "pauseAfterFailures": 3,
    }
    assert len(created["nextFireTimes"]) == 5 and all(ISO_UTC.match(t) for t in created["nextFireTimes"])
    assert created["lastFires"] == [] and created["enabled"] is True and created["pausedReason"] is None
    listed = (await api.get(f"{V1}/workflows/{workflow_id}/schedules")).json()
    assert [s["id"] for s in listed] == [created["id"]]
    everything = (await api.get(f"{V1}/schedules", params={"workflowId": workflow_id})).json()
    assert [s["id"] for s in everything] == [created["id"]]


async def test_patch_changes_only_the_fields_sent(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "")
    created = await create(api, workflow_id, name="Hourly", cron="0 * * * *", input={"a": 1})

    response = await api.patch(f"{V1}/schedules/{created['id']}", json={"cron": None, "intervalSeconds": 300})

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["name"], changed["cron"], changed["intervalSeconds"], changed["input"]) == (
        "Hourly",
        None,
        300,
        {"a": 1},
    )
    assert changed["description"] == "Every 5 minutes"


async def test_put_replaces_the_schedule(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "")
    created = await create(api, workflow_id, name="Old", cron="0 * * * *", overlapPolicy="allow")

    replaced = (await api.put(f"{V1}/schedules/{created['id']}", json={"intervalSeconds": 60})).json()

    assert (replaced["name"], replaced["cron"], replaced["overlapPolicy"]) == ("", None, "skip")


async def test_disable_and_enable_switch_the_schedule(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "")
    created = await create(api, workflow_id, cron="*/5 * * * *")

    disabled = (await api.post(f"{V1}/schedules/{created['id']}/disable")).json()
    enabled = (await api.post(f"{V1}/schedules/{created['id']}/enable")).json()

    assert (disabled["enabled"], disabled["nextFireTimes"]) == (False, [])
    assert enabled["enabled"] is True and len(enabled["nextFireTimes"]) == 5


async def test_delete_removes_the_schedule(api: httpx.AsyncClient) -> None:
    workflow_id = await workflow_with_steps(api, "")
    created = await create(api, workflow_id, intervalSeconds=60)

    deleted = await api.delete(f"{V1}/schedules/{created['id']}")
    again = await api.get(f"{V1}/schedules/{created['id']}")

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert created["id"] in again.json()["detail"]


async def test_preview_answers_the_description_and_next_times(api: httpx.AsyncClient) -> None:
    response = await api.post(
        f"{V1}/schedules/preview", json={"cron": "30 6 * * *", "timezone": "Asia/Tokyo", "count": 3}
    )

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["description"] == "At 06:30"
    assert len(preview["nextFireTimes"]) == 3
    assert all(t.endswith("T21:30:00.000Z") for t in preview["nextFireTimes"])  # 06:30 in Tokyo


async def test_bad_schedules_are_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    workflow = await create_workflow(api, "Enrich")
    await add_step(api, workflow["id"], "enrich", "")
    url = f"{V1}/workflows/{workflow['id']}/schedules"

    assert_refused(await api.post(url, json={"cron": "0 8 * *", "input": {"email": "a@b.c"}}), "cron")
    assert_refused(await api.post(url, json={"cron": "0 8 * * *", "timezone": "Moon/Base"}), "timezone")
    assert_refused(await api.post(url, json={"intervalSeconds": 0, "input": {"email": "a@b.c"}}), "intervalSeconds")
    assert_refused(await api.post(url, json={"cron": "0 8 * * *", "input": {"company": "Acme"}}), "input.email")
    assert_refused(await api.post(url, json={"cron": "0 8 * * *", "overlapPolicy": "sometimes"}), "overlapPolicy")
    assert_refused(await api.post(url, json={"cron": "0 8 * * *", "colour": "red"}), "colour")
    assert_refused(await api.post(f"{V1}/schedules/preview", json={"cron": "0 99 * * *"}), "cron")
    assert (await api.get(url)).json() == []


async def test_schedules_of_a_missing_workflow_or_schedule_are_404(api: httpx.AsyncClient) -> None:
    missing_workflow = await api.post(f"{V1}/workflows/wf-missing/schedules", json={"cron": "0 8 * * *"})
    missing_schedule = await api.patch(f"{V1}/schedules/sc-missing", json={"name": "x"})

    assert (missing_workflow.status_code, missing_schedule.status_code) == (404, 404)
    assert "wf-missing" in missing_workflow.json()["detail"]
