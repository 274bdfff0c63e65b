"""`Flowyard.webhooks`, the service the pages call: what it returns and what it refuses."""

from __future__ import annotations

import httpx
import pytest

from app.engine.exceptions import InputInvalid, InvalidInput, NotFound
from app.engine.model import RunStatus
from app.root import Flowyard
from app.services.webhooks import BodyNotJson, BodyTooLarge, NoWebhook, WebhookCall, parse_body
from tests.api.helpers import add_step, create_workflow, workflow_with_steps


async def test_save_then_get_gives_the_same_webhook(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")

    saved = await flowyard_of.webhooks.save(workflow_id, mode="sync", sync_timeout_seconds=5, max_body_bytes=1000)

    assert saved == await flowyard_of.webhooks.get(workflow_id)
    assert (saved.mode, saved.sync_timeout_seconds, saved.max_body_bytes) == ("sync", 5.0, 1000)
    assert saved.secret is not None
    assert saved.path == f"/api/hooks/{saved.secret}"
    assert saved.created_at == saved.updated_at


async def test_saving_again_keeps_the_secret_and_rotating_changes_it(
    api: httpx.AsyncClient, flowyard_of: Flowyard
) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input }}")
    created = await flowyard_of.webhooks.save(workflow_id)

    saved = await flowyard_of.webhooks.save(workflow_id, enabled=False)
    rotated = await flowyard_of.webhooks.rotate(workflow_id)

    assert saved.secret == created.secret
    assert rotated.secret not in (None, created.secret)
    assert rotated.rotated_at is not None
    assert rotated.enabled is False


async def test_call_returns_what_it_started(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow_id = await workflow_with_steps(api, "{{ input.x + 1 }}")
    hook = await flowyard_of.webhooks.save(workflow_id, mode="sync")
    assert hook.secret is not None

    call = await flowyard_of.webhooks.call(hook.secret, b'{"x": 1}', session_id="s-1")

    assert isinstance(call, WebhookCall)
    assert (call.workflow_id, call.session_id, call.mode, call.status, call.output) == (
        workflow_id,
        "s-1",
        "sync",
        RunStatus.COMPLETED,
        2,
    )
    assert call.ended


async def test_call_refusals_raise_and_start_nothing(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = await create_workflow(api, "Enrich")
    await add_step(api, workflow["id"], "enrich", "")
    hook = await flowyard_of.webhooks.save(workflow["id"], max_body_bytes=50)
    assert hook.secret is not None

    with pytest.raises(NoWebhook):
        await flowyard_of.webhooks.call("not-the-secret", b"{}")
    with pytest.raises(BodyTooLarge) as too_large:
        await flowyard_of.webhooks.call(hook.secret, b'{"email": "' + b"a" * 60 + b'"}')
    with pytest.raises(BodyNotJson):
        await flowyard_of.webhooks.call(hook.secret, b"email=a@b.c")
    with pytest.raises(InputInvalid) as invalid:
        await flowyard_of.webhooks.call(hook.secret, b'{"name": "Ada"}')

    assert too_large.value.limit == 50
    assert "email" in [field for field, _ in invalid.value.problems]
    assert (await flowyard_of.runs.list(workflow["id"], page=0, size=10)).total == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mode": "later"}, "mode"),
        ({"sync_timeout_seconds": 0}, "syncTimeoutSeconds"),
        ({"sync_timeout_seconds": float("nan")}, "syncTimeoutSeconds"),
        ({"max_body_bytes": 10**9}, "maxBodyBytes"),
    ],
)
async def test_save_refuses_a_bad_setting_naming_it(
    api: httpx.AsyncClient, flowyard_of: Flowyard, changes: dict[str, object], field: str
) -> None:
    workflow = await create_workflow(api)

    with pytest.raises(InvalidInput) as refused:
        await flowyard_of.webhooks.save(workflow["id"], **changes)  # type: ignore[arg-type]

    assert refused.value.field == field
    assert await flowyard_of.webhooks.get(workflow["id"]) is None


async def test_service_names_a_missing_workflow(flowyard_of: Flowyard) -> None:
    with pytest.raises(NotFound):
        await flowyard_of.webhooks.get("wf-missing")
    with pytest.raises(NotFound):
        await flowyard_of.webhooks.save("wf-missing")


@pytest.mark.parametrize(
    ("body", "value"),
    [(b"", None), (b"  \n", None), (b"42", 42), (b'"hi"', "hi"), (b'\xef\xbb\xbf{"a": [1]}', {"a": [1]})],
)
def test_parse_body_reads_any_json_value(body: bytes, value: object) -> None:
    assert parse_body(body) == value


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"Infinity", b"[" * 100_000])
def test_parse_body_refuses_what_is_not_json(body: bytes) -> None:
    with pytest.raises(BodyNotJson) as refused:
        parse_body(body)
    assert refused.value.field == "body"
