"""The llm kind, run by the real executor against a real OpenAI-compatible chat server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app import clock
from app.agents.base import AgentServices, Credential
from app.agents.registry import KINDS
from app.engine.events import Event, InProcessEventBus
from app.engine.exceptions import AgentError
from app.engine.executor import Executor
from app.engine.memory import InMemoryRunStore
from app.engine.model import NodeRunRecord, NodeSpec, RunRecord, RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord
from tests.llm_server import ChatServer, Reply, count_tokens, pieces
from tests.unit.conftest import Slept, chain


class RecordingBus(InProcessEventBus):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)
        super().publish(event)

    def deltas(self, node_key: str) -> list[str]:
        return [e.data["delta"] for e in self.events if e.node_key == node_key and "delta" in e.data]


class Keys:
    """A credential resolver holding API keys in memory (the CredentialResolver protocol)."""

    def __init__(self, **tokens: str) -> None:
        self.tokens = tokens

    async def get(self, name: str) -> Credential:
        if name not in self.tokens:
            raise AgentError(f"no credential named '{name}'", retryable=False)
        return Credential(name, "api_key", {"token": self.tokens[name]})


class Memory:
    """Session memory in a dict (the SessionMemory protocol), with a window of 20."""

    def __init__(self) -> None:
        self.messages: dict[str, list[dict[str, str]]] = {}

    async def history(self, session_id: str, *, limit: int | None = None) -> list[dict[str, str]]:
        kept = self.messages.get(session_id, [])
        count = 20 if limit is None else limit
        return list(kept[-count:]) if count else []

    async def append(self, session_id: str, messages: list[dict[str, str]], *, run_id: str, node_key: str) -> None:
        self.messages.setdefault(session_id, []).extend(messages)


class Runner:
    def __init__(
        self, executor: Executor, store: InMemoryRunStore, bus: RecordingBus, chat: ChatServer, slept: Slept
    ) -> None:
        self.executor, self.store, self.bus, self.chat, self.slept = executor, store, bus, chat, slept
        self.number = 0

    def agent(self, agent_id: str = "model", **config: Any) -> str:
        settings = {"base_url": self.chat.url, "model": "tiny", "retry_backoff_seconds": 0, **config}
        self.store.put_agent(AgentRecord(agent_id, "llm", agent_id, settings))
        return agent_id

    async def run(
        self, definition: WorkflowDefinition, payload: Any = None, *, session_id: str | None = None
    ) -> RunRecord:
        self.number += 1
        workflow_id, run_id = f"wf-llm-{self.number}", f"wr-llm-{self.number}"
        self.store.put_definition(workflow_id, 1, definition)
        record = RunRecord(
            run_id, workflow_id, 1, RunStatus.QUEUED, payload, session_id=session_id, created_at=clock.now()
        )
        await self.store.create_run(record)
        self.executor.submit(run_id)
        run = await self.executor.wait(run_id, timeout=15)
        assert run is not None
        return run

    async def node(self, run_id: str, key: str = "s1") -> NodeRunRecord:
        return next(n for n in await self.store.get_node_runs(run_id) if n.node_key == key)


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture
async def runner(store: InMemoryRunStore, chat: ChatServer, slept: Slept) -> AsyncIterator[Runner]:
    bus = RecordingBus()
    services = AgentServices(credentials=Keys(openai="sk-test-123"), sessions=Memory())
    async with httpx.AsyncClient() as http:
        executor = Executor(
            store,
            kinds=KINDS,
            http=http,
            bus=bus,
            lease_seconds=5,
            recovery_interval=60,
            services=services,
            sleep=slept,
        )
        yield Runner(executor, store, bus, chat, slept)
        await executor.stop()


def ask(agent_id: str, action: str = "Summarise") -> WorkflowDefinition:
    return chain((agent_id, action))


async def test_answer_becomes_the_output_with_the_servers_token_usage(runner: Runner) -> None:
    runner.chat.script("Paris is the capital.")
    agent = runner.agent(stream=False, system_prompt="Be brief.", temperature=0.2, max_tokens=50)

    run = await runner.run(ask(agent, "Answer the question"), "What is the capital of France?")

    assert run.status is RunStatus.COMPLETED
    assert run.output == "Paris is the capital."
    sent = runner.chat.requests[0]
    assert sent.body["model"] == "tiny"
    assert sent.body["temperature"] == 0.2 and sent.body["max_tokens"] == 50
    assert sent.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Answer the question\n\nWhat is the capital of France?"},
    ]
    prompt = count_tokens("Be brief.") + count_tokens("Answer the question\n\nWhat is the capital of France?")
    node = await runner.node(run.id)
    assert node.usage == {"prompt_tokens": prompt, "completion_tokens": 4, "total_tokens": prompt + 4}


async def test_structured_input_is_sent_as_json_after_the_rendered_instruction(runner: Runner) -> None:
    agent = runner.agent(stream=False)

    await runner.run(ask(agent, "Qualify {{ payload.company }}"), {"company": "Acme", "size": 40})

    content = runner.chat.requests[0].messages[-1]["content"]
    assert content.startswith("Qualify Acme\n\n{")
    assert '"size": 40' in content


async def test_credential_is_sent_as_bearer_token(runner: Runner) -> None:
    agent = runner.agent(stream=False, credential="openai")

    await runner.run(ask(agent), "text")

    assert runner.chat.requests[0].headers["authorization"] == "Bearer sk-test-123"


async def test_streamed_answer_reaches_live_pages_in_order_and_is_stored_whole(runner: Runner) -> None:
    text = "One small step for a model, one giant leap for workflows."
    runner.chat.script(text)
    agent = runner.agent(stream=True)

    run = await runner.run(ask(agent), "go")

    assert run.output == text
    assert runner.bus.deltas("s1") == pieces(text)
    sent = runner.chat.requests[0].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    node = await runner.node(run.id)
    assert node.usage is not None
    assert node.usage["completion_tokens"] == count_tokens(text)
    assert "estimated" not in node.usage


async def test_usage_is_estimated_when_the_server_reports_none(runner: Runner) -> None:
    runner.chat.script(Reply(text="a fairly short answer", usage=False))
    agent = runner.agent(stream=True)

    run = await runner.run(ask(agent), "go")

    node = await runner.node(run.id)
    assert node.usage is not None
    assert node.usage["estimated"] is True
    assert node.usage["total_tokens"] == node.usage["prompt_tokens"] + node.usage["completion_tokens"] > 0


SCHEMA = {
    "type": "object",
    "required": ["score", "reason"],
    "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}, "reason": {"type": "string"}},
}


async def test_json_answer_valid_against_the_schema_is_the_parsed_output(runner: Runner) -> None:
    runner.chat.script('```json\n{"score": 8, "reason": "fits", "extra": true}\n```')
    agent = runner.agent(stream=False, json_schema=SCHEMA)

    run = await runner.run(ask(agent, "Score this lead"), "Acme")

    assert run.output == {"score": 8, "reason": "fits", "extra": True}
    assert "JSON Schema" in runner.chat.requests[0].messages[0]["content"]


async def test_invalid_json_answer_is_sent_back_with_the_problem_and_the_fix_is_kept(runner: Runner) -> None:
    runner.chat.script('{"score": 42}', '{"score": 7, "reason": "ok"}')
    agent = runner.agent(stream=True, json_schema=SCHEMA)

    run = await runner.run(ask(agent, "Score this lead"), "Acme")

    assert run.status is RunStatus.COMPLETED
    assert run.output == {"score": 7, "reason": "ok"}
    retry = runner.chat.requests[1].messages
    assert retry[-2] == {"role": "assistant", "content": '{"score": 42}'}
    assert "score: must be at most 10" in retry[-1]["content"]
    assert "reason: is required" in retry[-1]["content"]
    node = await runner.node(run.id)
    first, second = (count_tokens(m["content"]) for m in (retry[-2], {"content": '{"score": 7, "reason": "ok"}'}))
    assert node.usage is not None and node.usage["completion_tokens"] == first + second


async def test_answer_that_stays_invalid_fails_the_node_clearly_and_keeps_the_tokens(runner: Runner) -> None:
    runner.chat.script("I think it is about an 8.")
    agent = runner.agent(stream=False, json_schema=SCHEMA, json_retries=2)

    run = await runner.run(ask(agent), "Acme")

    assert run.status is RunStatus.FAILED
    assert "not JSON valid against the schema after 3 attempt(s)" in (run.error or "")
    assert "not JSON" in (run.error or "")
    assert len(runner.chat.requests) == 3
    node = await runner.node(run.id)
    assert node.usage is not None and node.usage["completion_tokens"] == 3 * count_tokens("I think it is about an 8.")


async def test_session_history_reaches_the_next_run_and_the_window_bounds_it(runner: Runner) -> None:
    agent = runner.agent(stream=False, history_messages=2)

    await runner.run(ask(agent, "first"), "one", session_id="session-a")
    await runner.run(ask(agent, "second"), "two", session_id="session-a")
    await runner.run(ask(agent, "third"), "three", session_id="session-a")
    await runner.run(ask(agent, "alone"), "x", session_id="session-b")

    second, third, other = (r.messages for r in runner.chat.requests[1:])
    assert second == [
        {"role": "user", "content": "first\n\none"},
        {"role": "assistant", "content": "echo: first\n\none"},
        {"role": "user", "content": "second\n\ntwo"},
    ]
    assert [m["content"] for m in third] == ["second\n\ntwo", "echo: second\n\ntwo", "third\n\nthree"]
    assert other == [{"role": "user", "content": "alone\n\nx"}]


async def test_token_budget_stops_the_run_that_exceeds_it(runner: Runner) -> None:
    runner.chat.script("word " * 30)
    agent = runner.agent(stream=False, max_run_tokens=50)

    run = await runner.run(chain((agent, "first"), (agent, "second")), "go")

    assert run.status is RunStatus.FAILED
    first = await runner.node(run.id, "s1")
    assert first.usage is not None
    used = first.usage["total_tokens"]
    assert used < 50
    second = await runner.node(run.id, "s2")
    assert second.usage is not None
    total = used + second.usage["total_tokens"]
    assert f"token budget of 50 exceeded (used {total})" in (run.error or "")


async def test_budget_already_spent_refuses_the_call(runner: Runner) -> None:
    runner.chat.script("word " * 60)
    spender = runner.agent("spender", stream=False)
    capped = runner.agent("capped", stream=False, max_run_tokens=10)

    run = await runner.run(chain((spender, "first"), (capped, "second")), "go")

    assert run.status is RunStatus.FAILED
    assert "token budget of 10 exceeded" in (run.error or "")
    assert len(runner.chat.requests) == 1


# --- failures ----------------------------------------------------------------------------------------------


async def test_unreachable_endpoint_names_the_url(runner: Runner) -> None:
    with ChatServer() as gone:
        url = gone.url
    agent = runner.agent(base_url=url)

    run = await runner.run(ask(agent), "go")

    assert run.status is RunStatus.FAILED
    assert f"model endpoint {url}/chat/completions refused the connection" in (run.error or "")


async def test_401_names_the_credential_to_check(runner: Runner) -> None:
    runner.chat.script(Reply(status=401, error="Incorrect API key provided"))
    agent = runner.agent(credential="openai")

    run = await runner.run(ask(agent), "go")

    assert f"401 from {runner.chat.url}/chat/completions — check credential 'openai'" in (run.error or "")
    assert "Incorrect API key provided" in (run.error or "")
    assert len(runner.chat.requests) == 1


async def test_error_that_echoes_the_key_never_shows_it(runner: Runner) -> None:
    runner.chat.script(Reply(status=401, error="Incorrect API key provided: sk-test-123"))
    agent = runner.agent(credential="openai")

    run = await runner.run(ask(agent), "go")
    node = await runner.node(run.id)

    assert "sk-test-123" not in (run.error or "") and "sk-test-123" not in (node.error or "")
    assert "Incorrect API key provided: ***" in (node.error or "")


async def test_429_is_retried_after_the_servers_retry_after(runner: Runner) -> None:
    runner.chat.script(Reply(status=429, error="slow down", headers={"Retry-After": "1"}), "fine now")
    agent = runner.agent(stream=True)

    run = await runner.run(ask(agent), "go")

    assert run.output == "fine now"
    assert runner.slept.seconds >= 1.0
    assert len(runner.chat.requests) == 2


async def test_429_that_persists_fails_after_the_retries(runner: Runner) -> None:
    runner.chat.script(Reply(status=429, error="quota exceeded", headers={"Retry-After": "0"}))
    agent = runner.agent(retries=2)

    run = await runner.run(ask(agent), "go")

    assert run.status is RunStatus.FAILED
    assert "429 from" in (run.error or "") and "rate limited" in (run.error or "")
    assert "quota exceeded" in (run.error or "")
    assert len(runner.chat.requests) == 3


async def test_500_fails_after_the_retries_with_the_servers_message(runner: Runner) -> None:
    runner.chat.script(Reply(status=500, error="model crashed"))
    agent = runner.agent(retries=1, stream=False)

    run = await runner.run(ask(agent), "go")

    assert "500 from" in (run.error or "") and "model crashed" in (run.error or "")
    assert len(runner.chat.requests) == 2


async def test_hanging_server_times_out_instead_of_hanging_the_run(runner: Runner) -> None:
    runner.chat.script(Reply(hang=True))
    agent = runner.agent(timeout_seconds=0.5)

    run = await runner.run(ask(agent), "go")

    assert run.status is RunStatus.FAILED
    assert "did not answer within 0.5 s" in (run.error or "")


async def test_malformed_body_fails_clearly(runner: Runner) -> None:
    runner.chat.script(Reply(malformed=True))
    agent = runner.agent(stream=False)

    run = await runner.run(ask(agent), "go")

    assert "answered something that is not a chat completion" in (run.error or "")
    assert "Traceback" not in (run.error or "")


async def test_truncated_body_fails_clearly(runner: Runner) -> None:
    runner.chat.script(Reply(text="a complete answer that will be cut", truncated=True))
    agent = runner.agent(stream=False)

    run = await runner.run(ask(agent), "go")

    assert run.status is RunStatus.FAILED
    assert "was cut off mid-way" in (run.error or "")


async def test_stream_cut_mid_way_fails_clearly(runner: Runner) -> None:
    runner.chat.script(Reply(text="this answer stops half way through its words", truncated=True))
    agent = runner.agent(stream=True)

    run = await runner.run(ask(agent), "go")

    assert run.status is RunStatus.FAILED
    assert "was cut off mid-way" in (run.error or "")
    assert runner.bus.deltas("s1")  # what arrived was shown live before the cut


async def test_node_retries_take_a_transient_failure(runner: Runner) -> None:
    runner.chat.script(Reply(text="an answer cut short here", truncated=True), "whole answer")
    agent = runner.agent(stream=True)
    node = NodeSpec(key="s1", agent_id=agent, action="go", step_order=1, retries=1, retry_backoff_seconds=0)

    run = await runner.run(WorkflowDefinition(nodes=[node]), "x")

    assert run.output == "whole answer"
