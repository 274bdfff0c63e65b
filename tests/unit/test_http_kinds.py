"""The http and notify kinds against a real HTTP server on 127.0.0.1: auth, bodies, parsing, statuses, failures."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from app import clock
from app.agents.base import AgentContext, AgentServices, Credential
from app.agents.http import Http
from app.agents.notify import Notify
from app.engine.exceptions import AgentError
from app.engine.executor import Executor
from app.engine.model import NodeSpec, NodeStatus, RunStatus, WorkflowDefinition
from tests.servers import DROP, HANG, LocalServer, Raw
from tests.unit.conftest import Slept, Starter

TOKEN = "tok-5f3a9c-very-secret"


class Vault:
    """A CredentialResolver over a dict, as the application's would answer."""

    def __init__(self, *credentials: Credential) -> None:
        self.credentials = {c.name: c for c in credentials}

    async def get(self, name: str) -> Credential:
        if name not in self.credentials:
            raise AgentError(f"credential '{name}' does not exist: add it under Credentials", retryable=False)
        return self.credentials[name]


VAULT = Vault(
    Credential("api", "bearer", {"token": TOKEN}),
    Credential("key", "api_key", {"token": TOKEN}),
    Credential("login", "basic", {"username": "ada", "password": TOKEN}),
    Credential("custom", "header", {"name": "X-Api-Key", "value": TOKEN}),
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def closed_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def context(http: httpx.AsyncClient, input: Any = None, action: str = "") -> AgentContext:
    return AgentContext(
        run_id="wr-1",
        node_key="call",
        action=action,
        input=input,
        mapping_context={"input": input, "payload": input},
        http=http,
        services=AgentServices(credentials=VAULT),
    )


async def failure(agent: Http | Notify, http: httpx.AsyncClient, input: Any = None, action: str = "") -> AgentError:
    with pytest.raises(AgentError) as caught:
        await agent.run(context(http, input, action))
    return caught.value


# --- auth -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api", "key"])
async def test_token_credential_sends_bearer_authorization(
    server: LocalServer, http: httpx.AsyncClient, name: str
) -> None:
    agent = Http(method="GET", url=server.reply("/me", (200, {"me": "ada"})), credential=name)

    output = await agent.run(context(http))

    assert server.calls_to("/me")[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert output["body"] == {"me": "ada"}


async def test_basic_credential_sends_basic_auth(server: LocalServer, http: httpx.AsyncClient) -> None:
    agent = Http(method="GET", url=server.reply("/me", (200, {})), credential="login")

    await agent.run(context(http))

    expected = base64.b64encode(f"ada:{TOKEN}".encode()).decode()
    assert server.calls_to("/me")[0].headers["authorization"] == f"Basic {expected}"


async def test_header_credential_sends_its_header(server: LocalServer, http: httpx.AsyncClient) -> None:
    agent = Http(method="GET", url=server.reply("/me", (200, {})), credential="custom")

    await agent.run(context(http))

    assert server.calls_to("/me")[0].headers["x-api-key"] == TOKEN


async def test_unknown_credential_fails_naming_it(server: LocalServer, http: httpx.AsyncClient) -> None:
    error = await failure(Http(method="GET", url=server.url + "/me", credential="nope"), http)

    assert error.retryable is False
    assert "credential 'nope' does not exist" in str(error)
    assert not server.requests


async def test_echoed_secret_is_hidden_from_the_output(server: LocalServer, http: httpx.AsyncClient) -> None:
    agent = Http(method="POST", url=server.url + "/echo", credential="api", body={"token": TOKEN})

    output = await agent.run(context(http))

    assert TOKEN not in str(output)
    assert output["body"]["echo"] == {"token": "***"}


# --- bodies and responses -----------------------------------------------------------------------------------------


async def test_json_body_is_sent_as_json(server: LocalServer, http: httpx.AsyncClient) -> None:
    await Http(url=server.url + "/in", body={"n": "{{ input.n }}"}).run(context(http, {"n": 3}))

    [call] = server.calls_to("/in")
    assert call.headers["content-type"] == "application/json"
    assert call.json() == {"n": 3}


async def test_form_body_is_sent_url_encoded(server: LocalServer, http: httpx.AsyncClient) -> None:
    await Http(url=server.url + "/in", body={"q": "a b", "n": 2}, body_type="form").run(context(http))

    [call] = server.calls_to("/in")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.body == b"q=a+b&n=2"


async def test_form_body_needs_an_object(server: LocalServer, http: httpx.AsyncClient) -> None:
    error = await failure(Http(url=server.url + "/in", body_type="form"), http, input=[1, 2])

    assert "needs an object" in str(error)
    assert error.retryable is False


async def test_text_body_is_sent_as_text(server: LocalServer, http: httpx.AsyncClient) -> None:
    await Http(url=server.url + "/in", body="Hello {{ input }}", body_type="text").run(context(http, "Ada"))

    [call] = server.calls_to("/in")
    assert call.headers["content-type"].startswith("text/plain")
    assert call.body == b"Hello Ada"


async def test_text_response_is_returned_as_text(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/page", Raw(200, b"<p>hi</p>", {"Content-Type": "text/html"}))

    output = await Http(method="GET", url=url).run(context(http))

    assert output["body"] == "<p>hi</p>"


async def test_response_text_mode_keeps_json_as_text(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/data", (200, {"a": 1}))

    output = await Http(method="GET", url=url, response="text").run(context(http))

    assert output["body"] == '{"a": 1}'


async def test_response_json_mode_parses_json_without_its_content_type(
    server: LocalServer, http: httpx.AsyncClient
) -> None:
    url = server.reply("/data", Raw(200, b'{"a": 1}', {"Content-Type": "text/plain"}))

    output = await Http(method="GET", url=url, response="json").run(context(http))

    assert output["body"] == {"a": 1}


# --- status handling ---------------------------------------------------------------------------------------------


async def test_listed_status_fails_the_node_and_others_pass(server: LocalServer, http: httpx.AsyncClient) -> None:
    missing = server.reply("/missing", (404, {"error": "no such thing"}))
    busy = server.reply("/busy", (500, {"error": "boom"}))
    agent = Http(method="GET", fail_on_status=["500-599"])

    output = await agent.model_copy(update={"url": missing}).run(context(http))
    error = await failure(agent.model_copy(update={"url": busy}), http)

    assert output["status"] == 404
    assert "answered 500" in str(error)


def test_status_list_that_is_no_status_is_refused() -> None:
    with pytest.raises(ValueError, match="not a status code"):
        Http(fail_on_status=["oops"])


# --- clear failures ---------------------------------------------------------------------------------------------


async def test_refused_connection_says_so(http: httpx.AsyncClient, closed_url: str) -> None:
    error = await failure(Http(method="GET", url=closed_url), http)

    assert str(error) == f"{closed_url} refused the connection: is the server running at that address?"
    assert error.retryable is True


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credential_names_it(server: LocalServer, http: httpx.AsyncClient, status: int) -> None:
    url = server.reply("/me", (status, {"error": "bad token"}))

    error = await failure(Http(method="GET", url=url, credential="api"), http)

    assert str(error).startswith(f"{status} from {url} — check credential 'api'")
    assert error.retryable is False


async def test_401_without_credential_says_one_is_needed(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/me", (401, {}))

    error = await failure(Http(method="GET", url=url), http)

    assert "name one in the agent's 'credential' setting" in str(error)


async def test_429_carries_the_wait_it_asked_for(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/busy", Raw(429, b"{}", {"Content-Type": "application/json", "Retry-After": "7"}))

    error = await failure(Http(method="GET", url=url), http)

    assert error.retryable is True
    assert error.retry_after == 7
    assert "429 Too Many Requests (it asked to wait 7 s)" in str(error)


async def test_503_retry_after_as_http_date(server: LocalServer, http: httpx.AsyncClient) -> None:
    when = format_datetime(clock.now() + timedelta(seconds=30), usegmt=True)
    url = server.reply("/busy", Raw(503, b"", {"Retry-After": when}))

    error = await failure(Http(method="GET", url=url), http)

    assert error.retryable is True
    assert error.retry_after is not None and 25 <= error.retry_after <= 31


async def test_500_is_retryable_and_shows_the_answer(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/x", (500, {"error": "database down"}))

    error = await failure(Http(method="GET", url=url), http)

    assert str(error) == f'GET {url} answered 500: {{"error": "database down"}}'
    assert error.retryable is True


async def test_timeout_says_how_long_it_waited(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/slow", HANG)

    error = await failure(Http(method="GET", url=url, timeout_seconds=0.2), http)

    assert str(error) == f"GET {url} did not answer within 0.2 s"


async def test_malformed_json_says_what_it_got(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/x", Raw(200, b"{not json", {"Content-Type": "application/json"}))

    error = await failure(Http(method="GET", url=url), http)

    assert "not valid JSON" in str(error)
    assert "Set 'response' to 'text'" in str(error)
    assert "Traceback" not in str(error)


async def test_truncated_body_says_it_was_cut_off(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/x", Raw(200, b'{"a": 1', {"Content-Type": "application/json"}, length=100))

    error = await failure(Http(method="GET", url=url), http)

    assert "the response was cut off" in str(error)
    assert error.retryable is True


async def test_dropped_connection_says_no_answer_came(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/x", DROP)

    error = await failure(Http(method="GET", url=url), http)

    assert str(error) == f"GET {url}: the server closed the connection without answering"


# --- retries through the engine --------------------------------------------------------------------------------


async def test_retry_after_is_waited_before_the_next_attempt(
    executor: Executor, server: LocalServer, start: Starter, slept: Slept
) -> None:
    url = server.reply("/busy", Raw(429, b"{}", {"Retry-After": "1"}), (200, {"ok": True}))
    step = NodeSpec(
        key="call", agent_id="http", config={"method": "GET", "url": url}, retries=1, retry_backoff_seconds=0
    )

    run = await executor.wait(await start(WorkflowDefinition(nodes=[step])), timeout=10)

    assert run is not None and run.status is RunStatus.COMPLETED
    assert slept.seconds >= 1.0
    assert server.hits["/busy"] == 2


async def test_node_fails_clearly_once_its_retries_are_spent(
    executor: Executor, server: LocalServer, start: Starter
) -> None:
    url = server.reply("/down", (503, {"error": "maintenance"}))
    step = NodeSpec(
        key="call", agent_id="http", config={"method": "GET", "url": url}, retries=2, retry_backoff_seconds=0.01
    )

    run_id = await start(WorkflowDefinition(nodes=[step]))
    run = await executor.wait(run_id, timeout=10)

    assert run is not None and run.status is RunStatus.FAILED
    [node] = await executor.store.get_node_runs(run_id)
    assert node.status is NodeStatus.FAILED
    assert node.attempt == 3
    assert node.error == f'GET {url} answered 503: {{"error": "maintenance"}}'


# --- notify ---------------------------------------------------------------------------------------------------


async def test_notify_posts_slack_text_from_the_action(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/services/T0/B0/xyz", Raw(200, b"ok", {"Content-Type": "text/plain"}))

    output = await Notify(url=url).run(context(http, {"title": "AI"}, action="New post: {{ input.title }}"))

    [call] = server.calls_to("/services/T0/B0/xyz")
    assert call.json() == {"text": "New post: AI"}
    assert output == {"delivered": True, "status": 200, "response": "ok", "text": "New post: AI"}


async def test_notify_sends_the_input_without_an_action(server: LocalServer, http: httpx.AsyncClient) -> None:
    await Notify(url=server.url + "/hook", format="text").run(context(http, "Deployed"))

    [call] = server.calls_to("/hook")
    assert call.body == b"Deployed"
    assert call.headers["content-type"].startswith("text/plain")


async def test_notify_with_credential_authorizes(server: LocalServer, http: httpx.AsyncClient) -> None:
    await Notify(url=server.url + "/hook", credential="api").run(context(http, action="hi"))

    assert server.calls_to("/hook")[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_notify_failure_hides_the_webhook_path(server: LocalServer, http: httpx.AsyncClient) -> None:
    url = server.reply("/services/T0/B0/secretpath", (404, {"error": "no_service"}))

    error = await failure(Notify(url=url), http, action="hi")

    assert "secretpath" not in str(error)
    assert f"POST {server.url}/… answered 404" in str(error)


async def test_notify_refused_connection_says_so(http: httpx.AsyncClient, closed_url: str) -> None:
    error = await failure(Notify(url=closed_url), http, action="hi")

    assert "refused the connection" in str(error)


async def test_notify_with_nothing_to_say_fails(server: LocalServer, http: httpx.AsyncClient) -> None:
    error = await failure(Notify(url=server.url + "/hook"), http, action="{{ input }}")

    assert "nothing to say" in str(error)
    assert not server.requests
