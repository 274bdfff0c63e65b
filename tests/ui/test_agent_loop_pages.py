"""An agent step's loop on the run's page, and its tool calls decided in the inbox, as a person sees them.

The loops are real: a local OpenAI-compatible chat server that calls tools, and a saved `http` agent (the tool
`lookup`) calling a local HTTP server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from nicegui import ElementFilter, ui
from nicegui.testing import User

from app.engine.model import RunRecord, RunStatus
from app.root import Flowyard
from components.graph_editor import GraphEditor
from tests.llm_server import ChatServer, Reply, ToolCall
from tests.people import person
from tests.servers import LocalServer
from tests.ui.helpers import steps


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as local:
        yield local


async def agent_workflow(
    flowyard: Flowyard, chat: ChatServer, server: LocalServer, settings: dict[str, Any] | None = None, **tool: Any
) -> str:
    """A workflow of one agent step "Research" whose model may call `lookup` (an http agent) with a domain."""
    await flowyard.agents.create(
        id="lookup",
        name="Look up company",
        kind="http",
        description="Finds what is known about a company by its domain.",
        config={"url": f"{server.url}/lookup", "body": {"domain": "{{ input.domain }}"}},
    )
    config = {"base_url": chat.url, "model": "tiny", "stream": False, "retry_backoff_seconds": 0, **(settings or {})}
    tools = [{"type": "agent", "agent_id": "lookup", "name": "lookup", **tool}]
    await flowyard.agents.create(id="researcher", name="Researcher", kind="agent", config={**config, "tools": tools})
    workflow = await flowyard.workflows.create(name="Company research", definition=steps("", agent_id="researcher"))
    return workflow.id


async def run(flowyard: Flowyard, workflow_id: str) -> RunRecord:
    started = await flowyard.runs.start(workflow_id, input="Research acme.io")
    ended = await flowyard.executor.wait(started.id, timeout=15)
    assert ended is not None
    return ended


def shown_json(user: User, marker: str) -> str:
    """The text of the values marked `marker`: a line, or a JSON tree (HTML, which `should_see` does not read)."""
    with user:
        shown = [e for view in ElementFilter(marker=marker, local_scope=False) for e in [view, *view.descendants()]]
        return " ".join(str(getattr(e, "text", "")) + str(getattr(e, "content", "")) for e in shown)


def argument_fields(user: User) -> list[ui.input]:
    """The text fields of the form of a tool call's arguments."""
    with user:
        [form] = ElementFilter(marker="arguments", local_scope=False)
        return [e for e in form.descendants() if isinstance(e, ui.input)]


async def until(check: Any, tries: int = 100) -> None:
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


# --- the run's page -------------------------------------------------------------------------------------------


async def test_the_run_page_shows_each_turn_and_tool_call_of_the_loop(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    server.reply("/lookup", (200, {"company": "Acme", "employees": 40}))
    chat.script(
        Reply(text="Let me look that up.", tool_calls=[ToolCall("lookup", {"domain": "acme.io"}, id="c1")]),
        "Acme is a real company of 40 people.",
    )
    ran = await run(flowyard, await agent_workflow(flowyard, chat, server))
    assert ran.status is RunStatus.COMPLETED, ran.error

    await user.open(f"/runs/{ran.id}")

    with user.scope(marker="agent-loop"):
        await user.should_see("Research")
        await user.should_see("2 turns · 1 tool call")
        await user.should_see("Turn 1")
        await user.should_see("Let me look that up.")
        await user.should_see("lookup")
    assert "acme.io" in shown_json(user, "loop-arguments")
    assert "Acme" in shown_json(user, "loop-result")
    with user.scope(marker="agent-loop"):
        await user.should_see("Turn 2")
        await user.should_see("Acme is a real company of 40 people.")


async def test_a_failed_tool_call_shows_its_error_and_the_models_next_move(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    chat.script(
        Reply(tool_calls=[ToolCall("lookup", "{not json", id="c1")]),
        "I could not look it up.",
    )
    ran = await run(flowyard, await agent_workflow(flowyard, chat, server))
    assert ran.status is RunStatus.COMPLETED, ran.error

    await user.open(f"/runs/{ran.id}")

    await user.should_see("the arguments are not JSON")
    with user.scope(marker="loop-call"):
        await user.should_see("Failed")
    await user.should_see("I could not look it up.")


async def test_selecting_an_agent_step_sums_up_its_loop(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    chat.script(Reply(tool_calls=[ToolCall("lookup", {"domain": "acme.io"}, id="c1")]), "Done.")
    ran = await run(flowyard, await agent_workflow(flowyard, chat, server))

    await user.open(f"/runs/{ran.id}")
    user.find(GraphEditor).trigger("select", {"nodes": ["s1"], "edges": []})

    await user.should_see("Show the loop")
    tokens = sum(int((s.usage or {}).get("total_tokens") or 0) for s in await flowyard.store.get_agent_steps(ran.id))
    await user.should_see("2 turns · 1 tool call")
    await user.should_see(f"{tokens:,} tokens")


async def test_the_loop_grows_live_and_a_waiting_call_links_to_the_inbox(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    chat.script(Reply(tool_calls=[ToolCall("lookup", {"domain": "acme.io"}, id="c1")]), "Looked it up.")
    workflow_id = await agent_workflow(flowyard, chat, server, needs_approval=True)
    await user.open("/runs")
    started = await flowyard.runs.start(workflow_id, input="Research acme.io")
    await user.open(f"/runs/{started.id}")

    await user.should_see("waiting for approval", retries=60)
    [approval] = (await flowyard.approvals.pending()).items
    [link] = user.find(marker="loop-inbox-link").elements
    assert link.props["href"] == f"/inbox?approval={approval.id}"

    ada = person("ada@example.com")
    await flowyard.approvals.decide(approval.id, "approve_edited", output={"domain": "acme.com"}, by=ada)

    await user.should_see("approved by ada@example.com (edited)", retries=60)
    await user.should_see("Looked it up.", retries=60)


# --- the inbox ------------------------------------------------------------------------------------------------


async def paused_on_a_tool_call(flowyard: Flowyard, chat: ChatServer, server: LocalServer, reply: str) -> str:
    chat.script(
        Reply(text="I will check the domain.", tool_calls=[ToolCall("lookup", {"domain": "acme.io"}, id="c1")]),
        reply,
    )
    workflow_id = await agent_workflow(flowyard, chat, server, needs_approval=True)
    ran = await run(flowyard, workflow_id)
    assert ran.status is RunStatus.PAUSED, ran.error
    return ran.id


async def test_the_inbox_shows_the_proposed_call_with_the_conversation(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    await paused_on_a_tool_call(flowyard, chat, server, "ok")

    await user.open("/inbox")

    await user.should_see("The agent wants to call a tool")
    with user.scope(marker="tool-call"):
        await user.should_see("lookup")
        await user.should_see("Finds what is known about a company by its domain.")
    with user.scope(marker="conversation"):
        await user.should_see("Research acme.io")
        await user.should_see("I will check the domain.")
        await user.should_see('calls lookup({"domain": "acme.io"})')
    with user.scope(marker="approval-item"):
        await user.should_see("calls lookup")


async def test_approving_a_tool_call_with_edited_arguments_runs_the_tool_with_them(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    run_id = await paused_on_a_tool_call(flowyard, chat, server, "Looked it up.")
    await user.open("/inbox")
    await user.should_see("The agent wants to call a tool")

    [field] = argument_fields(user)
    assert field.props["label"].startswith("Domain") and field.value == "acme.io"
    field.set_value("acme.com")
    await user.should_see("Approve with edits")
    user.find(marker="approve").click()

    await user.should_see("Approved with edits: the agent goes on")
    await until(lambda: _status_is(flowyard, run_id, RunStatus.COMPLETED))
    assert [r.json() for r in server.calls_to("/lookup")] == [{"domain": "acme.com"}]
    [approval] = await flowyard.runs.approvals(run_id)
    assert (approval.status, approval.output, approval.decided_by) == (
        "APPROVED",
        {"domain": "acme.com"},
        "ada@example.com",
    )


async def test_approving_a_tool_call_as_proposed(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    run_id = await paused_on_a_tool_call(flowyard, chat, server, "Looked it up.")
    await user.open("/inbox")
    await user.should_see("The agent wants to call a tool")

    user.find(marker="approve").click()

    await user.should_see("Approved: the agent goes on")
    await until(lambda: _status_is(flowyard, run_id, RunStatus.COMPLETED))
    assert [r.json() for r in server.calls_to("/lookup")] == [{"domain": "acme.io"}]


async def test_rejecting_a_tool_call_needs_a_reason_and_the_model_reads_it(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    run_id = await paused_on_a_tool_call(flowyard, chat, server, "Understood, I will not look it up.")
    await user.open("/inbox")
    await user.should_see("The agent wants to call a tool")

    user.find(marker="reject").click()
    await user.should_see("Give a reason")
    assert (await flowyard.approvals.pending()).items

    user.find(marker="reason").type("not this customer")
    user.find(marker="reject").click()

    await user.should_see("Rejected: the agent reads your reason")
    await until(lambda: _status_is(flowyard, run_id, RunStatus.COMPLETED))
    assert not server.calls_to("/lookup")
    assert "not this customer" in chat.requests[-1].tool_results()[0]["content"]


async def test_a_reached_token_budget_asks_to_allow_more(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    chat.script(Reply(tool_calls=[ToolCall("lookup", {"domain": "acme.io"}, id="c1")]), "fine")
    workflow_id = await agent_workflow(flowyard, chat, server, {"token_budget": 3, "on_budget": "ask"})
    ran = await run(flowyard, workflow_id)
    assert ran.status is RunStatus.PAUSED, ran.error
    await user.open("/inbox")

    await user.should_see("allow 3 more?")
    user.find(marker="allow-more").click()

    await user.should_see("Allowed: the agent goes on")
    await until(lambda: _status_is(flowyard, ran.id, RunStatus.COMPLETED))


async def _status_is(flowyard: Flowyard, run_id: str, status: RunStatus) -> bool:
    return (await flowyard.runs.get(run_id)).status == status


async def test_a_turns_text_streams_into_the_loop_while_it_runs(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    chat.script(Reply(text="Acme is a maker of robots, founded in 1990 by two engineers.", pace=0.15))
    workflow_id = await agent_workflow(flowyard, chat, server, {"stream": True})
    started = await flowyard.runs.start(workflow_id, input="Research acme.io")
    await user.open(f"/runs/{started.id}")

    await user.should_see("Acme is a", retries=60)
    assert (await flowyard.runs.get(started.id)).status == RunStatus.RUNNING  # seen while the model still writes

    await user.should_see("founded in 1990 by two engineers.", retries=100)
    await until(lambda: _status_is(flowyard, started.id, RunStatus.COMPLETED))


async def test_arguments_that_are_no_flat_form_are_edited_as_json(
    user: User, flowyard: Flowyard, chat: ChatServer, server: LocalServer
) -> None:
    await flowyard.agents.create(
        id="crm",
        name="CRM",
        kind="http",
        config={"url": f"{server.url}/crm/{{{{ input.contact.email }}}}"},
    )
    config = {"base_url": chat.url, "model": "tiny", "stream": False, "retry_backoff_seconds": 0}
    tools = [{"type": "agent", "agent_id": "crm", "name": "crm", "needs_approval": True}]
    await flowyard.agents.create(id="clerk", name="Clerk", kind="agent", config={**config, "tools": tools})
    workflow = await flowyard.workflows.create(name="CRM update", definition=steps("", agent_id="clerk"))
    proposed = {"contact": {"email": "ann@acme.io"}}
    chat.script(Reply(tool_calls=[ToolCall("crm", proposed, id="c1")]), "Saved.")
    ran = await run(flowyard, workflow.id)
    assert ran.status is RunStatus.PAUSED, ran.error
    await user.open("/inbox")
    await user.should_see("The agent wants to call a tool")

    [editor] = user.find(marker="arguments").elements
    assert isinstance(editor, ui.codemirror)
    editor.set_value('{"contact": {"email": "bob@acme.io"}}')
    await user.should_see("Approve with edits")
    user.find(marker="approve").click()

    await user.should_see("Approved with edits: the agent goes on")
    await until(lambda: _status_is(flowyard, ran.id, RunStatus.COMPLETED))
    assert [r.path for r in server.requests] == ["/crm/bob@acme.io"]
