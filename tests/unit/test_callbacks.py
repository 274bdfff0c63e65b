"""Callbacks: the signature, the backoff, the URL check, the body, and the dispatcher over the in-memory store.

The dispatcher's HTTP goes through an `httpx.MockTransport`, so nothing here touches the network;
the API tests deliver to a real server.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app import keys
from app.engine.callbacks import (
    CallbackDispatcher,
    CallbackPolicy,
    backoff_delay,
    callback_body,
    callback_url_problem,
    sign,
    verify,
)
from app.engine.memory import InMemoryRunStore
from app.engine.model import CallbackState, RunRecord, RunStatus
from app.settings import Settings

SECRET = "s3cret-s3cret-s3cret"
HOOK = "https://receiver.test/hooks/flowyard"
FAST = CallbackPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, timeout=0.5, sweep_interval=0.05)

Handler = Callable[[httpx.Request], httpx.Response]


# --- signing ------------------------------------------------------------------------------------------------------


def test_sign_is_hmac_sha256_hex_over_timestamp_dot_body() -> None:
    # The value a receiver computes with nothing but the standard library (as in the README).
    import hashlib
    import hmac

    body = b'{"workflowRunOId":"wr-1"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()

    assert sign(SECRET, 1700000000, body) == f"sha256={expected}"


def test_verify_accepts_a_fresh_signature() -> None:
    body = b'{"status":"COMPLETED"}'

    assert verify(SECRET, "1700000000", body, sign(SECRET, 1700000000, body), now=1700000010)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        ("another-secret-value", "1700000000", b"{}", 1700000000),
        (SECRET, "1700000001", b"{}", 1700000001),
        (SECRET, "1700000000", b"{ }", 1700000000),
        (SECRET, "1700000000", b"{}", 1700000000 + 301),
        (SECRET, "not-a-number", b"{}", 1700000000),
    ],
    ids=["wrong secret", "other timestamp", "changed body", "too old", "bad timestamp"],
)
def test_verify_refuses_a_signature_that_does_not_match(secret: str, timestamp: str, body: bytes, now: int) -> None:
    signature = sign(SECRET, 1700000000, b"{}")

    assert not verify(secret, timestamp, body, signature, now=now)


# --- backoff ------------------------------------------------------------------------------------------------------


def test_backoff_delay_doubles_from_the_base() -> None:
    assert [backoff_delay(n, base=2, cap=300) for n in range(1, 6)] == [2, 4, 8, 16, 32]


def test_backoff_delay_stops_at_the_cap() -> None:
    assert backoff_delay(20, base=2, cap=300) == 300


# --- the URL and the body ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://example.com/hook", "http://127.0.0.1:8081/cb?x=1", "HTTPS://EXAMPLE.COM"])
def test_callback_url_problem_accepts_http_and_https(url: str) -> None:
    assert callback_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/x", "http"),
        ("example.com/hook", "http"),
        ("https:///path-only", "host"),
        ("https://exa mple.com", "spaces"),
        ("https://example.com:port/", "not a valid URL"),
        ("https://example.com/" + "a" * 2000, "2000"),
    ],
)
def test_callback_url_problem_explains_a_bad_url(url: str, words: str) -> None:
    problem = callback_url_problem(url)

    assert problem is not None and words in problem


def test_callback_body_carries_the_runs_result() -> None:
    finished = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    run = RunRecord("wr-1", "wf-1", 1, RunStatus.FAILED, {"x": 1}, output=None, error="boom", finished_at=finished)

    assert json.loads(callback_body(run)) == {
        "workflowRunOId": "wr-1",
        "workflowOId": "wf-1",
        "status": "FAILED",
        "output": None,
        "error": "boom",
        "finishedAt": "2030-01-02T03:04:05.000Z",
    }


# --- the secret -----------------------------------------------------------------------------------------------------


def test_callback_secret_is_generated_once_into_the_data_dir_for_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    first = keys.callback_secret(settings)
    again = keys.callback_secret(Settings(data_dir=tmp_path / "data"))

    path = tmp_path / "data" / keys.CALLBACK_SECRET_FILE
    assert first == again and len(first) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_callback_secret_setting_wins_over_the_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", callback_secret=SECRET)

    assert keys.callback_secret(settings) == SECRET
    assert not (tmp_path / "data" / keys.CALLBACK_SECRET_FILE).exists()


def test_callback_secret_setting_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError, match="FLOWYARD_CALLBACK_SECRET"):
        Settings(callback_secret="short")


# --- the dispatcher -----------------------------------------------------------------------------------------------


async def ended(store: InMemoryRunStore, run_id: str, *, url: str = HOOK) -> None:
    """A run that just completed, its callback due (as `finish_run` leaves it)."""
    now = datetime.now(UTC)
    run = RunRecord(run_id, "wf-1", 1, RunStatus.QUEUED, {}, callback_url=url, created_at=now)
    await store.create_run(run)
    assert await store.acquire_lease(run_id, "driver", until=now + timedelta(seconds=30), now=now)
    await store.finish_run(run_id, "driver", status=RunStatus.COMPLETED, output={"ok": True}, error=None, now=now)


@pytest.fixture
def store() -> InMemoryRunStore:
    return InMemoryRunStore()


@pytest.fixture
async def dispatch(store: InMemoryRunStore) -> AsyncIterator[Callable[..., CallbackDispatcher]]:
    """dispatch(handler, policy=FAST) starts a dispatcher whose HTTP `handler` answers."""
    started: list[tuple[CallbackDispatcher, httpx.AsyncClient]] = []

    def start(handler: Handler, policy: CallbackPolicy = FAST, owner: str = "me") -> CallbackDispatcher:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        dispatcher = CallbackDispatcher(store, http=http, secret=SECRET, owner=owner, policy=policy)
        started.append((dispatcher, http))
        return dispatcher

    yield start
    for dispatcher, http in started:
        await dispatcher.stop()
        await http.aclose()


def answers(*statuses: int | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering `statuses` in turn (an exception is raised instead), the last one repeating."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = statuses[min(len(seen), len(statuses)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return httpx.Response(reply)

    return handle, seen


async def test_dispatcher_sends_a_due_callback_signed(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    handler, seen = answers(200)
    await ended(store, "wr-1")
    dispatcher = dispatch(handler)

    await dispatcher.start()
    run = await dispatcher.wait("wr-1", timeout=5)

    assert run is not None and run.callback_state is CallbackState.DELIVERED
    request = seen[0]
    timestamp, signature = request.headers["x-flowyard-timestamp"], request.headers["x-flowyard-signature"]
    assert verify(SECRET, timestamp, request.content, signature, now=datetime.now(UTC).timestamp())
    assert request.headers["x-flowyard-attempt"] == "1"
    assert json.loads(request.content)["workflowRunOId"] == "wr-1"


async def test_dispatcher_retries_errors_and_records_every_attempt(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    handler, seen = answers(500, httpx.ConnectError("refused"), 204)
    await ended(store, "wr-1")
    dispatcher = dispatch(handler)

    await dispatcher.start()
    run = await dispatcher.wait("wr-1", timeout=5)

    deliveries = await store.get_callback_deliveries("wr-1")
    assert run is not None and (run.callback_state, run.callback_attempts) == (CallbackState.DELIVERED, 3)
    assert [(d.attempt, d.status_code) for d in deliveries] == [(1, 500), (2, None), (3, 204)]
    assert deliveries[0].error == "answered 500"
    assert deliveries[1].error is not None and "ConnectError" in deliveries[1].error
    assert [r.headers["x-flowyard-attempt"] for r in seen] == ["1", "2", "3"]


async def test_dispatcher_gives_up_after_the_last_attempt(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    handler, seen = answers(503)
    await ended(store, "wr-1")
    dispatcher = dispatch(handler)

    await dispatcher.start()
    run = await dispatcher.wait("wr-1", timeout=5)

    assert run is not None and (run.callback_state, run.callback_attempts) == (CallbackState.FAILED, 3)
    assert len(seen) == 3


async def test_dispatcher_counts_a_redirect_as_a_failed_attempt(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    handler, seen = answers(307)
    await ended(store, "wr-1")
    dispatcher = dispatch(handler, CallbackPolicy(max_attempts=1, timeout=0.5))

    await dispatcher.start()
    run = await dispatcher.wait("wr-1", timeout=5)

    assert run is not None and run.callback_state is CallbackState.FAILED
    assert len(seen) == 1


async def test_dispatcher_gives_a_silent_target_up_after_the_timeout(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    async def never(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    await ended(store, "wr-1")
    dispatcher = dispatch(never, CallbackPolicy(max_attempts=1, timeout=0.1))

    await dispatcher.start()
    run = await dispatcher.wait("wr-1", timeout=5)

    [delivery] = await store.get_callback_deliveries("wr-1")
    assert run is not None and run.callback_state is CallbackState.FAILED
    assert delivery.error == "no answer within 0.1 s"


async def test_two_dispatchers_never_send_the_same_attempt(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    handler, seen = answers(200)
    for number in range(20):
        await ended(store, f"wr-{number}")
    first, second = dispatch(handler, owner="one"), dispatch(handler, owner="two")

    await asyncio.gather(first.start(), second.start())
    for number in range(20):
        await first.wait(f"wr-{number}", timeout=5)

    sent = [json.loads(r.content)["workflowRunOId"] for r in seen]
    assert sorted(sent) == sorted(f"wr-{n}" for n in range(20))


async def test_dispatcher_sends_no_more_at_once_than_its_concurrency(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    in_flight, most = 0, 0

    async def slow(_request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return httpx.Response(200)

    for number in range(8):
        await ended(store, f"wr-{number}")
    dispatcher = dispatch(slow, CallbackPolicy(concurrency=3, timeout=1, sweep_interval=0.05))

    await dispatcher.start()
    for number in range(8):
        await dispatcher.wait(f"wr-{number}", timeout=5)

    assert most == 3


async def test_dispatcher_stopped_mid_attempt_releases_the_claim(
    store: InMemoryRunStore, dispatch: Callable[..., CallbackDispatcher]
) -> None:
    started = asyncio.Event()

    async def hang(_request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(60)
        raise AssertionError("unreachable")

    await ended(store, "wr-1")
    dispatcher = dispatch(hang, CallbackPolicy(timeout=30))
    await dispatcher.start()
    await asyncio.wait_for(started.wait(), 5)

    await dispatcher.stop()

    now = datetime.now(UTC)
    assert [r.id for r in await store.claim_callbacks("other", now=now, until=now, limit=5)] == ["wr-1"]
    assert await store.get_callback_deliveries("wr-1") == []
