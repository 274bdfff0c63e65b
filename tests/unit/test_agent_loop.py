"""The agent kind's loop, run by the real executor over the in-memory store, against a real OpenAI-compatible
chat server that calls tools and a real HTTP server behind a saved `http` agent (the tool)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app import clock
from app.agents.base import AgentServices
from app.agents.registry import KINDS
from app.engine.executor import Executor
from app.engine.memory import InMemoryRunStore
from app.engine.model import AgentStepStatus, NodeSpec, RunRecord, RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord
from app.services.agent_tools import AgentTools
from tests.llm_server import ChatRequest, ChatServer, Reply, ToolCall
from tests.servers import HANG, LocalServer
from tests.unit.conftest import Slept
from tests.unit.test_llm import Memory, RecordingBus

pytestmark = pytest.mark.usefixtures("server")


class Loop:
    def __init__(self, store: InMemoryRunStore, chat: ChatServer, server: LocalServer, slept: Slept) -> None:
        self.store, self.chat, self.server, self.slept = store, chat, server, slept
        self.bus = RecordingBus()
        self.memory = Memory()
        self.number = 0
        self.executors: list[Executor] = []
        self.http = httpx.AsyncClient()
        store.put_agent(
            AgentRecord("lookup", "http", "Look up company", {"url": f"{server.url}/lookup"}, "Finds a company.")
        )

    def executor(self, owner: str = "one") -> Executor:
        services = AgentServices(sessions=self.memory, tools=AgentTools(None, self.store, None, kinds=KINDS))  # type: ignore[arg-type]
        executor = Executor(
            self.store,
            kinds=KINDS,
            http=self.http,
            bus=self.bus,
            owner=owner,
            lease_seconds=5,
            recovery_interval=60,
            services=services,
            sleep=self.slept,
        )
        self.executors.append(executor)
        return executor

    def agent(self, **config: Any) -> str:
        settings = {
            "base_url": self.chat.url,
            "model": "tiny",
            "retry_backoff_seconds": 0,
            "stream": False,
            "tools": [{"type": "agent", "agent_id": "lookup", "name": "lookup"}],
            **config,
        }
        self.store.put_agent(AgentRecord("researcher", "agent", "Researcher", settings))
        return "researcher"

    async def start(self, payload: Any = "Research acme.io", *, session_id: str | None = None, **config: Any) -> str:
        self.number += 1
        workflow_id, run_id = f"wf-agent-{self.number}", f"wr-agent-{self.number}"
        definition = WorkflowDefinition(nodes=[NodeSpec(key="s1", agent_id=self.agent(**config), action="Research")])
        self.store.put_definition(workflow_id, 1, definition)
        await self.store.create_run(
            RunRecord(run_id, workflow_id, 1, RunStatus.QUEUED, payload, session_id=session_id, created_at=clock.now())
        )
        return run_id

    async def run(self, payload: Any = "Research acme.io", **config: Any) -> RunRecord:
        run_id = await self.start(payload, **config)
        executor = self.executors[0] if self.executors else self.executor()
        executor.submit(run_id)
        run = await executor.wait(run_id, timeout=15)
        assert run is not None
        return run


@pytest.fixture
async def loop(store: InMemoryRunStore, server: LocalServer, slept: Slept) -> AsyncIterator[Loop]:
    with ChatServer() as chat:
        running = Loop(store, chat, server, slept)
        yield running
        for executor in running.executors:
            await executor.stop()
        await running.http.aclose()


def calls(*tool_calls: ToolCall, text: str = "") -> Reply:
    return Reply(text=text, tool_calls=list(tool_calls))


async def test_the_model_calls_tools_reads_their_results_and_answers(loop: Loop) -> None:
    loop.chat.script(
        calls(ToolCall("lookup", {"domain": "acme.io"}, id="c1"), ToolCall("lookup", {"domain": "beta.io"}, id="c2")),
        "Acme and Beta are both real.",
    )

    run = await loop.run()

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == "Acme and Beta are both real."
    assert sorted(r.json()["domain"] for r in loop.server.calls_to("/lookup")) == ["acme.io", "beta.io"]
    first, second = loop.chat.requests
    assert first.tools == ["lookup"]
    assert [m["tool_call_id"] for m in second.tool_results()] == ["c1", "c2"]
    assert json.loads(second.tool_results()[0]["content"])["body"]["echo"] == {"domain": "acme.io"}
    steps = await loop.store.get_agent_steps(run.id, "s1")
    assert [(s.kind, s.status) for s in steps] == [
        ("turn", AgentStepStatus.COMPLETED),
        ("tool", AgentStepStatus.COMPLETED),
        ("tool", AgentStepStatus.COMPLETED),
        ("turn", AgentStepStatus.COMPLETED),
    ]
    node = (await loop.store.get_node_runs(run.id))[0]
    assert node.usage is not None
    assert node.usage["total_tokens"] == sum(s.usage["total_tokens"] for s in steps if s.usage)


async def test_streamed_tool_call_deltas_are_put_together(loop: Loop) -> None:
    loop.chat.script(calls(ToolCall("lookup", {"domain": "a-rather-long-domain-name.example"}, id="c1")), "done")

    run = await loop.run(stream=True)

    assert run.status is RunStatus.COMPLETED, run.error
    assert loop.server.calls_to("/lookup")[0].json() == {"domain": "a-rather-long-domain-name.example"}


async def test_parallel_tool_calls_run_at_the_same_time(loop: Loop) -> None:
    loop.server.reply("/lookup", *[(200, {"ok": True})] * 3)
    loop.chat.script(calls(*[ToolCall("lookup", {"n": n}, id=f"c{n}") for n in range(3)]), "ok")
    started: list[float] = []
    original = loop.server.answer

    def slow(request: Any) -> Any:
        started.append(time.monotonic())
        time.sleep(0.3)
        return original(request)

    loop.server.answer = slow  # type: ignore[method-assign]
    run = await loop.run()

    assert run.status is RunStatus.COMPLETED, run.error
    assert len(started) == 3 and max(started) - min(started) < 0.25


async def test_structured_answer_through_final_answer_is_validated_and_sent_back_once(loop: Loop) -> None:
    schema = {"type": "object", "properties": {"fit": {"type": "boolean"}}, "required": ["fit"]}
    loop.chat.script(
        calls(ToolCall("final_answer", {"fit": "yes"}, id="f1")),
        calls(ToolCall("final_answer", {"fit": True}, id="f2")),
    )

    run = await loop.run(json_schema=schema)

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"fit": True}
    refused = loop.chat.requests[1].tool_results()[0]["content"]
    assert "fit" in refused and "boolean" in refused
    assert "final_answer" in loop.chat.requests[0].tools


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (ToolCall("nope", {}, id="c1"), "there is no tool named 'nope' (the tools are: lookup)"),
        (ToolCall("lookup", "{not json", id="c1"), "the arguments are not JSON"),
    ],
)
async def test_bad_tool_calls_are_answered_with_the_error_and_the_model_goes_on(
    loop: Loop, call: ToolCall, expected: str
) -> None:
    loop.chat.script(calls(call), "sorry")

    run = await loop.run()

    assert run.status is RunStatus.COMPLETED, run.error
    assert expected in loop.chat.requests[1].tool_results()[0]["content"]
    assert not loop.server.calls_to("/lookup")


async def test_a_loop_that_never_answers_fails_at_its_iteration_limit(loop: Loop) -> None:
    loop.chat.script(calls(ToolCall("lookup", {"q": 1}, id="c1")))

    run = await loop.run(max_iterations=3)

    assert run.status is RunStatus.FAILED
    assert "did not answer within 3 iteration(s)" in (run.error or "")
    assert len(loop.chat.requests) == 3


async def test_the_tool_call_limit_stops_the_step(loop: Loop) -> None:
    loop.chat.script(calls(*[ToolCall("lookup", {"n": n}, id=f"c{n}") for n in range(3)]))

    run = await loop.run(max_tool_calls=2)

    assert run.status is RunStatus.FAILED
    assert "limit of 2 tool call(s)" in (run.error or "")
    assert not loop.server.calls_to("/lookup")


async def test_the_token_budget_stops_the_loop_with_a_clear_error(loop: Loop) -> None:
    loop.chat.script(calls(ToolCall("lookup", {"q": 1}, id="c1")))

    run = await loop.run(token_budget=5)

    assert run.status is RunStatus.FAILED
    assert "token budget of 5 is used up" in (run.error or "")
    assert len(loop.chat.requests) == 1


async def test_a_reached_budget_can_wait_for_a_person_to_allow_more(loop: Loop) -> None:
    loop.chat.script(calls(ToolCall("lookup", {"q": 1}, id="c1")), "fine")
    run = await loop.run(token_budget=5, on_budget="ask")
    assert run.status is RunStatus.PAUSED
    (approval,) = await loop.store.get_approvals(run.id)
    assert approval.extra["budget"]["budget"] == 5

    await loop.executors[0].decide(run.id, approved=True, output=approval.proposal, decided_by="ann")
    ended = await loop.executors[0].wait(run.id, timeout=15)

    assert ended is not None and ended.status is RunStatus.COMPLETED, ended and ended.error
    assert ended.output == "fine"


async def test_a_tool_needing_approval_pauses_and_runs_with_the_edited_arguments(loop: Loop) -> None:
    loop.chat.script(calls(ToolCall("lookup", {"domain": "acme.io"}, id="c1")), "Looked it up.")
    tools = [{"type": "agent", "agent_id": "lookup", "name": "lookup", "needs_approval": True}]

    run = await loop.run(tools=tools)

    assert run.status is RunStatus.PAUSED
    assert not loop.server.calls_to("/lookup")
    (approval,) = await loop.store.get_approvals(run.id)
    assert approval.proposal == {"domain": "acme.io"}
    assert approval.extra["tool_call"]["tool"] == "lookup"
    assert approval.extra["tool_call"]["conversation"][-1]["tool_calls"][0]["id"] == "c1"

    await loop.executors[0].decide(run.id, approved=True, output={"domain": "acme.com"}, decided_by="ann")
    ended = await loop.executors[0].wait(run.id, timeout=15)

    assert ended is not None and ended.status is RunStatus.COMPLETED, ended and ended.error
    assert [r.json() for r in loop.server.calls_to("/lookup")] == [{"domain": "acme.com"}]
    assert len(loop.chat.requests) == 2  # the turn before the pause is not asked again
    steps = await loop.store.get_agent_steps(run.id, "s1")
    call = next(s for s in steps if s.kind == "tool")
    assert call.status is AgentStepStatus.COMPLETED and call.approval_id == approval.id
    assert json.loads(call.arguments) == {"domain": "acme.com"}


async def test_a_rejected_tool_call_is_answered_with_the_reason(loop: Loop) -> None:
    loop.chat.script(calls(ToolCall("lookup", {"domain": "acme.io"}, id="c1")), "Understood.")
    tools = [{"type": "agent", "agent_id": "lookup", "name": "lookup", "needs_approval": True}]
    run = await loop.run(tools=tools)
    assert run.status is RunStatus.PAUSED

    await loop.executors[0].decide(run.id, approved=False, reason="not this customer", decided_by="ann")
    ended = await loop.executors[0].wait(run.id, timeout=15)

    assert ended is not None and ended.status is RunStatus.COMPLETED, ended and ended.error
    assert not loop.server.calls_to("/lookup")
    answer = loop.chat.requests[1].tool_results()[0]["content"]
    assert "rejected by ann: not this customer" in answer


async def test_a_run_taken_over_mid_loop_never_repeats_a_finished_tool_call(loop: Loop) -> None:
    """The first process dies while the second tool call is in flight: the next one makes only that call."""
    loop.server.reply("/lookup", (200, {"n": 1}))
    first_call_done = asyncio.Event()

    def respond(request: ChatRequest) -> Reply | str:
        if not request.tool_results():
            return calls(ToolCall("lookup", {"n": 1}, id="c1"))
        if len(request.tool_results()) == 1:
            return calls(ToolCall("lookup", {"n": 2}, id="c2"))
        return "all done"

    loop.chat.respond = respond
    hang = asyncio.Event()
    original = loop.server.answer

    def answer(request: Any) -> Any:
        if request.json() == {"n": 2} and not hang.is_set():
            first_call_done.set()
            hang.set()
            time.sleep(1.5)  # still in flight when its process dies
        return original(request)

    loop.server.answer = answer  # type: ignore[method-assign]
    run_id = await loop.start()
    one = loop.executor("one")
    one.submit(run_id)
    for _ in range(200):
        if first_call_done.is_set():
            break
        await asyncio.sleep(0.02)
    await one.stop()  # the process stops: its lease is released, the in-flight call is marked stopped
    steps = await loop.store.get_agent_steps(run_id, "s1")
    assert [s.status for s in steps if s.kind == "tool"] == [AgentStepStatus.COMPLETED, AgentStepStatus.CANCELLED]

    two = loop.executor("two")
    two.submit(run_id)
    ended = await two.wait(run_id, timeout=15)

    assert ended is not None and ended.status is RunStatus.COMPLETED, ended and ended.error
    assert loop.server.wait_for("/lookup", count=3, timeout=5)  # the abandoned request is kept once it ends
    made = [r.json() for r in loop.server.calls_to("/lookup")]
    assert made.count({"n": 1}) == 1  # finished before the crash: never made again
    assert made.count({"n": 2}) == 2  # in flight at the crash: made again, with the same key
    assert ended.output == "all done"


async def test_memory_keeps_tool_calls_and_results(loop: Loop) -> None:
    loop.chat.script(calls(ToolCall("lookup", {"domain": "acme.io"}, id="c1")), "Acme is real.", "Still real.")
    run_id = await loop.start(session_id="s-1")
    executor = loop.executor()
    executor.submit(run_id)
    await executor.wait(run_id, timeout=15)

    kept = loop.memory.messages["s-1"]
    assert [m["role"] for m in kept] == ["user", "assistant", "tool", "assistant"]
    assert kept[1]["tool_calls"][0]["function"]["name"] == "lookup"

    second = await loop.start("And now?", session_id="s-1")
    executor.submit(second)
    await executor.wait(second, timeout=15)
    sent = loop.chat.requests[-1].messages
    assert any(m.get("role") == "tool" and m["tool_call_id"] == "c1" for m in sent)


async def test_cancel_stops_a_loop_mid_tool_call_within_a_second(loop: Loop) -> None:
    loop.server.reply("/lookup", HANG)
    loop.chat.script(calls(ToolCall("lookup", {"domain": "acme.io"}, id="c1")), "never")
    run_id = await loop.start()
    executor = loop.executor()
    executor.submit(run_id)
    assert await asyncio.to_thread(loop.server.wait_for, "/lookup", timeout=10)

    started = time.monotonic()
    cancelled = await executor.cancel(run_id)

    assert time.monotonic() - started < 1.0
    assert cancelled.status is RunStatus.CANCELLED
    call = next(s for s in await loop.store.get_agent_steps(run_id, "s1") if s.kind == "tool")
    assert call.status is AgentStepStatus.CANCELLED


async def test_arguments_the_schema_refuses_are_sent_back_until_the_model_gives_up(loop: Loop) -> None:
    loop.store.put_agent(
        AgentRecord(
            "strict", "http", "Strict", {"url": f"{loop.server.url}/strict", "body": {"n": "{{ input.n + 1 }}"}}
        )
    )
    loop.chat.script(calls(ToolCall("Strict", {"n": "not a number"}, id="c1")))

    run = await loop.run(tools=[{"type": "agent", "agent_id": "strict"}], max_iterations=2)

    assert run.status is RunStatus.FAILED
    assert "did not answer within 2 iteration(s)" in (run.error or "")
    sent_back = loop.chat.requests[1].tool_results()[0]["content"]
    assert "the arguments do not fit the tool's schema" in sent_back and "n" in sent_back
    assert not loop.server.calls_to("/strict")
