"""llm steps through Flowyard on SQLite: sessions across runs, the sessions API, token usage per run and workflow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.root import Flowyard
from app.settings import Settings
from tests.api.helpers import V1, add_step, create_workflow, finished_run, start_run
from tests.databases import fresh_data_dir
from tests.llm_server import ChatServer, count_tokens


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """As everywhere, with FLOWYARD_SESSION_WINDOW=2: an llm step sees the session's last exchange only."""
    return Settings(
        data_dir=fresh_data_dir(tmp_path / "data"), lease_seconds=5, recovery_interval_seconds=0.5, session_window=2
    )


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


async def _llm_workflow(api: httpx.AsyncClient, chat: ChatServer, **config: object) -> str:
    response = await api.post(
        f"{V1}/agents",
        json={
            "id": "assistant",
            "name": "Assistant",
            "kind": "llm",
            "config": {"base_url": chat.url, "model": "tiny", "stream": True, **config},
        },
    )
    assert response.status_code == 201, response.text
    workflow = await create_workflow(api, "Chat")
    await add_step(api, workflow["id"], "assistant", "Reply to")
    return str(workflow["id"])


async def test_runs_sharing_a_session_continue_the_conversation(
    api: httpx.AsyncClient, flowyard_of: Flowyard, chat: ChatServer
) -> None:
    workflow_id = await _llm_workflow(api, chat)

    first = await start_run(api, workflow_id, "hello", sessionId="support-42")
    await finished_run(api, flowyard_of, first["runId"])
    second = await start_run(api, workflow_id, "and again", sessionId="support-42")
    run = await finished_run(api, flowyard_of, second["runId"])

    assert run["status"] == "COMPLETED", run
    assert chat.requests[1].messages == [
        {"role": "user", "content": "Reply to\n\nhello"},
        {"role": "assistant", "content": "echo: Reply to\n\nhello"},
        {"role": "user", "content": "Reply to\n\nand again"},
    ]


async def test_default_window_comes_from_the_setting(
    api: httpx.AsyncClient, flowyard_of: Flowyard, chat: ChatServer
) -> None:
    workflow_id = await _llm_workflow(api, chat)

    for text in ("one", "two", "three"):
        accepted = await start_run(api, workflow_id, text, sessionId="s-window")
        await finished_run(api, flowyard_of, accepted["runId"])

    assert [m["content"] for m in chat.requests[2].messages] == [
        "Reply to\n\ntwo",
        "echo: Reply to\n\ntwo",
        "Reply to\n\nthree",
    ]


async def test_sessions_are_listed_shown_and_cleared(
    api: httpx.AsyncClient, flowyard_of: Flowyard, chat: ChatServer
) -> None:
    workflow_id = await _llm_workflow(api, chat)
    accepted = await start_run(api, workflow_id, "hello")  # no sessionId: the run gets a new one
    await finished_run(api, flowyard_of, accepted["runId"])
    session_id = accepted["sessionId"]
    assert session_id

    listed = (await api.get(f"{V1}/sessions")).json()
    shown = (await api.get(f"{V1}/sessions/{session_id}")).json()
    cleared = await api.delete(f"{V1}/sessions/{session_id}")
    again = await start_run(api, workflow_id, "fresh", sessionId=session_id)
    await finished_run(api, flowyard_of, again["runId"])

    assert [(s["id"], s["messageCount"]) for s in listed["content"]] == [(session_id, 2)]
    assert listed["nextCursor"] is None
    assert [(m["role"], m["content"]) for m in shown["messages"]] == [
        ("user", "Reply to\n\nhello"),
        ("assistant", "echo: Reply to\n\nhello"),
    ]
    assert shown["messages"][0]["runId"] == accepted["runId"]
    assert cleared.status_code == 204
    assert chat.requests[-1].messages == [{"role": "user", "content": "Reply to\n\nfresh"}]
    assert (await api.delete(f"{V1}/sessions/no-such-session")).status_code == 404


async def test_sessions_page_with_a_cursor(api: httpx.AsyncClient, flowyard_of: Flowyard, chat: ChatServer) -> None:
    workflow_id = await _llm_workflow(api, chat)
    for number in range(3):
        accepted = await start_run(api, workflow_id, "hi", sessionId=f"page-{number}")
        await finished_run(api, flowyard_of, accepted["runId"])

    first = await flowyard_of.sessions.list(size=2)
    rest = await flowyard_of.sessions.list(after=first.next_cursor, size=2)

    assert [s.id for s in first.content] == ["page-2", "page-1"]
    assert [s.id for s in rest.content] == ["page-0"] and rest.next_cursor is None


async def test_token_usage_is_kept_per_node_and_summed_per_run_and_workflow(
    api: httpx.AsyncClient, flowyard_of: Flowyard, chat: ChatServer
) -> None:
    chat.script("three word answer")
    workflow_id = await _llm_workflow(api, chat, history_messages=0)
    await add_step(api, workflow_id, "assistant", "Again")
    runs = []
    for _ in range(2):
        accepted = await start_run(api, workflow_id, "hi")
        runs.append(await finished_run(api, flowyard_of, accepted["runId"]))

    nodes = runs[0]["nodes"]
    expected = [
        count_tokens("Reply to\n\nhi") + 3,
        count_tokens("Again\n\nthree word answer") + 3,
    ]
    assert [n["usage"]["total_tokens"] for n in nodes] == expected
    assert runs[0]["totalTokens"] == sum(expected)
    per_run = await flowyard_of.runs.token_usage(run_id=runs[0]["runId"])
    per_workflow = await flowyard_of.runs.token_usage(workflow_id=workflow_id)
    assert (per_run.completion_tokens, per_run.total_tokens, per_run.estimated) == (6, sum(expected), False)
    assert per_workflow.total_tokens == 2 * sum(expected)
    assert per_workflow.prompt_tokens == 2 * (sum(expected) - 6)
