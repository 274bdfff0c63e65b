"""Where a workflow may send requests: the outbound destination policy and credentials across redirects, end to end.

The servers are real, on 127.0.0.1 (and 127.0.0.2). By default here no private network is allowed, so they stand
for the operator's own machine and network; a test that needs 127.0.0.1 reachable names it (`settings` parameter).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.engine.model import CallbackState
from app.root import Flowyard
from app.settings import Settings
from tests.api.helpers import V1, add_step, create_workflow, run_to_end, workflow_with_steps
from tests.api.v2_helpers import fast_callback_settings, run_v2, status_of
from tests.servers import LocalServer, Raw

OFF = "outbound calls to private networks are off; allow them with FLOWYARD_ALLOW_PRIVATE_NETWORKS"
SECRET = "sk-live-Zq81xW-outbound-7c0ffee"
ONLY_127_0_0_1 = pytest.mark.parametrize("settings", ["127.0.0.1/32"], indirect=True)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Fast callbacks; outbound calls may reach the networks a test names as its `settings` parameter, else none."""
    allowed: str = getattr(request, "param", "")
    return fast_callback_settings(tmp_path).model_copy(update={"allow_private_networks": allowed})


@pytest.fixture
def other() -> Iterator[LocalServer]:
    """A second server on 127.0.0.1: another port, so another origin."""
    with LocalServer() as server:
        yield server


async def http_step_run(
    api: httpx.AsyncClient, flowyard: Flowyard, config: dict[str, Any], **step: Any
) -> dict[str, Any]:
    workflow = await create_workflow(api, "Call out")
    await add_step(api, workflow["id"], "http", "", config={"method": "GET", **config}, **step)
    return await run_to_end(api, flowyard, workflow["id"])


# --- refused destinations -------------------------------------------------------------------------------------


async def test_http_step_to_loopback_fails_naming_the_rule_and_sends_nothing(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    run = await http_step_run(api, flowyard_of, {"url": web.url + "/admin"}, retries=3, retryBackoffSeconds=0)

    assert run["status"] == "FAILED"
    step = run["nodes"][0]
    assert step["error"] == f"refused to connect to 127.0.0.1 (loopback): {OFF}"
    assert step["attempt"] == 1  # a refusal is not worth a retry
    assert web.requests == []


async def test_http_step_to_a_name_is_judged_by_the_address_it_resolves_to(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    port = web.url.rsplit(":", 1)[1]

    run = await http_step_run(api, flowyard_of, {"url": f"http://localhost:{port}/admin"})

    assert run["status"] == "FAILED"
    assert run["nodes"][0]["error"].startswith("refused to connect to localhost (")
    assert f"loopback): {OFF}" in run["nodes"][0]["error"]
    assert web.requests == []


@ONLY_127_0_0_1
async def test_redirect_from_an_allowed_server_to_a_refused_address_fails_the_step(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    with LocalServer(host="127.0.0.2") as inside:
        start = web.reply("/start", Raw(302, headers={"Location": inside.url + "/admin"}))

        run = await http_step_run(api, flowyard_of, {"url": start})

        assert run["status"] == "FAILED"
        assert run["nodes"][0]["error"] == (
            "refused to connect to 127.0.0.2 (loopback): 127.0.0.2 is not in FLOWYARD_ALLOW_PRIVATE_NETWORKS "
            "(127.0.0.1/32)"
        )
        assert web.hits["/start"] == 1
        assert inside.requests == []


async def test_callback_to_a_refused_address_records_the_refusal_and_gives_up(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer
) -> None:
    workflow_id = await workflow_with_steps(api, "Hello")

    run_id = await run_v2(api, workflow_id, web.url + "/hook")
    run = await flowyard_of.callbacks.wait(run_id, timeout=10)

    assert run is not None and run.callback_state is CallbackState.FAILED
    callback = (await status_of(api, run_id))["callback"]
    assert [(d["attempt"], d["statusCode"], d["error"]) for d in callback["deliveries"]] == [
        (1, None, f"refused to connect to 127.0.0.1 (loopback): {OFF}")
    ]
    assert web.requests == []


# --- credentials across redirects --------------------------------------------------------------------------------


CREDENTIALS = {
    "header": ({"name": "X-API-Key", "value": SECRET}, "x-api-key", SECRET),
    "bearer": ({"token": SECRET}, "authorization", f"Bearer {SECRET}"),
    "basic": (
        {"username": "ada", "password": SECRET},
        "authorization",
        "Basic " + base64.b64encode(f"ada:{SECRET}".encode()).decode(),
    ),
}


async def credential_step_run(
    api: httpx.AsyncClient, flowyard: Flowyard, kind: str, url: str
) -> tuple[dict[str, Any], str, str]:
    """Run a workflow whose http step calls `url` with a credential of type `kind`; the header it travels in."""
    values, header, sent = CREDENTIALS[kind]
    response = await api.post(f"{V1}/credentials", json={"name": "crm", "type": kind, "values": values})
    assert response.status_code == 201, response.text
    run = await http_step_run(api, flowyard, {"url": url, "credential": "crm"})
    return run, header, sent


@ONLY_127_0_0_1
@pytest.mark.parametrize("kind", ["header", "bearer", "basic"])
async def test_credential_is_not_sent_across_a_redirect_to_another_origin(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer, other: LocalServer, kind: str
) -> None:
    landing = other.reply("/landing", (200, {"ok": True}))
    start = web.reply("/start", Raw(307, headers={"Location": landing}))

    run, header, sent = await credential_step_run(api, flowyard_of, kind, start)

    assert run["status"] == "COMPLETED", run
    assert web.calls_to("/start")[0].headers[header] == sent
    assert header not in other.calls_to("/landing")[0].headers
    assert SECRET not in str(other.calls_to("/landing")[0].headers)


@ONLY_127_0_0_1
@pytest.mark.parametrize("kind", ["header", "bearer", "basic"])
async def test_credential_is_kept_on_a_redirect_within_its_origin(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer, kind: str
) -> None:
    landing = web.reply("/landing", (200, {"ok": True}))
    start = web.reply("/start", Raw(307, headers={"Location": landing}))

    run, header, sent = await credential_step_run(api, flowyard_of, kind, start)

    assert run["status"] == "COMPLETED", run
    assert web.calls_to("/landing")[0].headers[header] == sent


@ONLY_127_0_0_1
async def test_credential_stays_dropped_when_a_redirect_leads_back_to_its_origin(
    api: httpx.AsyncClient, flowyard_of: Flowyard, web: LocalServer, other: LocalServer
) -> None:
    back = web.reply("/back", (200, {"ok": True}))
    away = other.reply("/away", Raw(307, headers={"Location": back}))
    start = web.reply("/start", Raw(307, headers={"Location": away}))

    run, header, _ = await credential_step_run(api, flowyard_of, "header", start)

    assert run["status"] == "COMPLETED", run
    assert header not in other.calls_to("/away")[0].headers
    assert header not in web.calls_to("/back")[0].headers
