"""agent: a chat model in a loop with tools — it calls tools, reads their results, and goes on until it answers.

Like `llm` (an OpenAI-compatible endpoint, a credential, a system prompt, session memory, streaming), plus
tools: saved agents, workflows (run as sub-workflows) and the tools of MCP servers. With `json_schema` the
answer is structured: the model gives it by calling the `final_answer` tool, validated against the schema
and sent back with what is wrong up to `json_retries` times, as `llm` does.

The loop is durable. Every model turn and every tool call is an entry of the step's journal
(`app.engine.journal`), stored before the next one starts: a step that runs again — its process died, it
was retried, a tool call it waited on was decided — reads the journal back and goes on from its first
unfinished entry. A finished tool call is never made again; one that was in flight is made again with the
same key (`<run>:<step>.t<seq>`, the idempotency key saved agents pass on). Tool calls of one turn run
concurrently, up to `parallel_tool_calls` at once.

A tool marked as needing approval pauses the step: the inbox shows the call, and the decision sends the
step back to work (approved, with the arguments as approved; rejected, with the reason as the tool's answer
the model reads). Limits: iterations, tool calls, a token budget for the loop (reached: the step fails, or
with `on_budget: ask` waits for a person to allow as much again) and a time limit for each stretch of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app import clock
from app.agents.base import AgentContext, AgentResult, Group
from app.agents.llm import Answer, Llm, Message, Usage, _add, _parse_json, _standard, _text
from app.engine import inputs
from app.engine.exceptions import AgentError, NodeError
from app.engine.model import AgentStep, AgentStepStatus, Approval, ApprovalStatus

__all__ = ["FINAL_ANSWER", "Agent", "ToolRef"]

FINAL_ANSWER = "final_answer"
MAX_TOOL_RESULT_CHARS = 20_000
CONVERSATION_SHOWN = 12
"""Messages of the conversation an approval of a tool call keeps for the person deciding it."""
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_S = AgentStepStatus
_ENDED = frozenset({_S.COMPLETED, _S.FAILED, _S.REJECTED})


class ToolRef(BaseModel):
    """One entry of an agent's tools: a saved agent, a workflow, or an MCP server (all its tools or some)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["agent", "workflow", "mcp"]
    agent_id: str | None = Field(None, description="The saved agent (type agent).")
    workflow_id: str | None = Field(None, description="The workflow, run as a sub-workflow (type workflow).")
    server: str | None = Field(None, description="The MCP server's id or name (type mcp).")
    tools: list[str] | None = Field(None, description="The server's tools the model may call; none: all of them.")
    name: str | None = Field(None, max_length=64, description="The tool's name for the model (agent, workflow).")
    description: str | None = Field(None, max_length=2000, description="What the tool does, for the model.")
    needs_approval: bool = Field(False, description="Every call waits for a person to approve it.")
    approve_tools: list[str] = Field(
        default_factory=list, description="MCP: the tools whose calls wait for a person to approve them."
    )

    @model_validator(mode="after")
    def _names_its_target(self) -> ToolRef:
        wanted = {"agent": "agent_id", "workflow": "workflow_id", "mcp": "server"}[self.type]
        if not getattr(self, wanted):
            raise ValueError(f"a tool of type {self.type} needs {wanted}")
        return self

    def label(self) -> str:
        return f"{self.type} {self.agent_id or self.workflow_id or self.server}"


@dataclass
class _Tool:
    """A tool as offered to the model in one attempt, and how to call it."""

    name: str
    description: str
    parameters: dict[str, Any]
    ref: ToolRef | None
    target: str = ""
    """The MCP tool's own name (the model's name may differ), else empty."""
    needs_approval: bool = False

    def spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass
class _Loop:
    """What the journal says so far: the conversation after the opening messages, and the counters."""

    messages: list[Message] = field(default_factory=list)
    turns: int = 0
    tool_calls: int = 0
    usage: Usage = field(default_factory=dict)
    retries: int = 0
    """Answers that broke the schema, sent back so far."""
    last_turn: AgentStep | None = None
    open_calls: list[AgentStep] = field(default_factory=list)
    """The last turn's tool calls that have not ended."""
    next_seq: int = 1
    final: dict[str, Any] | None = None
    """The final_answer's accepted arguments, once the model gave them."""


FIRST_FIELDS = ("base_url", "model", "credential", "system_prompt", "tools", "json_schema")
"""The fields forms show first: where the model is, what it is told, what it may call, what it answers."""


def _fields_in_order(schema: dict[str, Any]) -> None:
    """Forms follow the schema's order: the agent's own fields (its tools) before the llm settings it inherits."""
    properties = schema.get("properties") or {}
    first = {name: properties[name] for name in FIRST_FIELDS if name in properties}
    schema["properties"] = first | {k: v for k, v in properties.items() if k not in first}


class Agent(Llm):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_fields_in_order)
    kind: ClassVar[str] = "agent"
    title: ClassVar[str] = "Agent"
    group: ClassVar[str] = Group.AI
    icon: ClassVar[str] = "smart_toy"
    description: ClassVar[str] = (
        "A chat model that calls tools — saved agents, workflows, MCP servers — and reads their results until "
        "it answers. Every turn and tool call is stored; tool calls can wait for approval."
    )
    journals: ClassVar[bool] = True
    usage_is_total: ClassVar[bool] = True
    holds_slot: ClassVar[bool] = False  # it mostly waits on tools, which may be workflows needing slots

    tools: list[ToolRef] = Field(
        default_factory=list, description="What the model may call.", json_schema_extra={"format": "agent_tools"}
    )
    max_iterations: int = Field(10, ge=1, le=200, description="Most model turns before the step fails.")
    max_tool_calls: int = Field(50, ge=0, le=5000, description="Most tool calls before the step fails.")
    parallel_tool_calls: int = Field(4, ge=1, le=32, description="Tool calls of one turn that run at once.")
    token_budget: int | None = Field(None, ge=1, description="Most tokens the loop may use (none: no limit).")
    on_budget: Literal["fail", "ask"] = Field(
        "fail", description="When the budget is reached: fail the step, or ask a person to allow as much again."
    )
    loop_timeout_seconds: float = Field(
        600.0, gt=0, le=86_400, description="Longest stretch of work (waiting for a person not counted)."
    )
    approval_deadline_seconds: float | None = Field(
        None, gt=0, le=366 * 86_400, description="How long a tool call waits for a decision (none: no deadline)."
    )
    on_deadline: Literal["wait", "approve", "reject"] = Field("wait", description="What a passed deadline does.")

    async def run(self, ctx: AgentContext) -> AgentResult:
        entries = ctx.journal.entries if ctx.journal is not None else []
        approvals = ctx.journal.approvals if ctx.journal is not None else []
        self._check_budget(ctx.run_tokens, None)
        headers, secrets = await self._headers(ctx)
        try:
            async with asyncio.timeout(self.loop_timeout_seconds):
                return await self._loop(ctx, headers, entries, approvals)
        except TimeoutError:
            raise AgentError(
                f"the agent loop worked longer than its limit of {self.loop_timeout_seconds:g} s",
                retryable=False,
                usage=_usage_of(entries) or None,
            ) from None
        except AgentError as exc:
            message = str(exc)
            if not any(secret in message for secret in secrets):
                raise
            for secret in secrets:
                message = message.replace(secret, "***")
            raise AgentError(message, retryable=exc.retryable, usage=exc.usage, retry_after=exc.retry_after) from None

    # --- the loop -----------------------------------------------------------------------------------------

    async def _loop(
        self, ctx: AgentContext, headers: dict[str, str], entries: list[AgentStep], approvals: list[Approval]
    ) -> AgentResult:
        tools = await self._tools(ctx)
        by_name = {t.name: t for t in tools}
        opening = await self._opening(ctx)
        loop = _replay(entries, self.json_schema)
        while True:
            if loop.final is not None:
                await self._remember_loop(ctx, loop)
                return AgentResult(output=loop.final, usage=loop.usage or None)
            if loop.open_calls:
                paused = await self._call_tools(ctx, loop, by_name, approvals, entries, opening)
                if paused is not None:
                    return paused
                continue
            if loop.last_turn is not None and loop.last_turn.status is _S.COMPLETED:
                done = await self._settle(ctx, loop, entries)
                if done is not None:
                    return done
            if loop.turns >= self.max_iterations:
                raise AgentError(
                    f"the agent did not answer within {self.max_iterations} iteration(s) (max_iterations); "
                    f"it made {loop.tool_calls} tool call(s)",
                    retryable=False,
                    usage=loop.usage or None,
                )
            asked = self._budget(ctx, loop, approvals)
            if asked is not None:
                return asked
            await self._turn(ctx, loop, headers, tools, opening, entries)

    async def _turn(
        self,
        ctx: AgentContext,
        loop: _Loop,
        headers: dict[str, str],
        tools: list[_Tool],
        opening: list[Message],
        entries: list[AgentStep],
    ) -> None:
        """One model turn: stored as running, asked, stored with its answer and the tool calls it makes."""
        now = clock.now()
        turn = AgentStep(
            ctx.run_id, ctx.node_key, loop.next_seq, "turn", _S.RUNNING, turn=loop.turns + 1, started_at=now
        )
        await _save(ctx, entries, turn)
        try:
            answer = await self._complete(
                ctx, opening + loop.messages, headers, usage_so_far=loop.usage, tools=[t.spec() for t in tools] or None
            )
        except AgentError as exc:
            turn.status, turn.error, turn.finished_at = _S.FAILED, str(exc), clock.now()
            await _save(ctx, entries, turn)
            raise AgentError(
                str(exc), retryable=exc.retryable, usage=loop.usage or None, retry_after=exc.retry_after
            ) from None
        turn.status, turn.finished_at = _S.COMPLETED, clock.now()
        turn.text, turn.usage = answer.text, answer.usage
        turn.result = _assistant(answer)
        calls = [
            AgentStep(
                ctx.run_id,
                ctx.node_key,
                turn.seq + number,
                "tool",
                _S.PENDING,
                turn=turn.turn,
                call_id=call["id"],
                tool=call["name"],
                arguments=call["arguments"],
            )
            for number, call in enumerate(answer.tool_calls, start=1)
        ]
        await _save(ctx, entries, turn, *calls)
        loop.messages.append(turn.result)
        loop.turns, loop.last_turn, loop.usage = turn.turn, turn, _add(loop.usage, answer.usage)
        loop.open_calls, loop.next_seq = calls, turn.seq + len(calls) + 1

    async def _settle(self, ctx: AgentContext, loop: _Loop, entries: list[AgentStep]) -> AgentResult | None:
        """After a turn without tool calls (or whose final answer was refused): the output, or a request to fix it."""
        turn = loop.last_turn
        assert turn is not None
        if any(e.kind == "tool" and e.turn == turn.turn for e in entries):
            return None  # its tool calls ended: the model reads their results next
        text = turn.text or ""
        if self.json_schema is None:
            await self._remember_loop(ctx, loop)
            return AgentResult(output=text, usage=loop.usage or None)
        value, problem = _parse_json(text, self.json_schema)
        if problem is None:
            await self._remember_loop(ctx, loop)
            return AgentResult(output=value, usage=loop.usage or None)
        self._count_retry(loop, problem)
        loop.messages.append(_nudge(problem))
        return None

    def _count_retry(self, loop: _Loop, problem: str) -> None:
        loop.retries += 1
        if loop.retries > self.json_retries:
            raise AgentError(
                f"the model's answer is not valid against the schema after {loop.retries} attempt(s): {problem}",
                retryable=False,
                usage=loop.usage or None,
            )

    def _budget(self, ctx: AgentContext, loop: _Loop, approvals: list[Approval]) -> AgentResult | None:
        """Fail (or ask to go on) once the loop has used its token budget; None while there is budget left."""
        self._check_budget(ctx.run_tokens, None)
        if self.token_budget is None:
            return None
        used = int(loop.usage.get("total_tokens", 0))
        asked = [a for a in approvals if "budget" in a.extra]
        allowance = self.token_budget  # each "allow more" gives the budget again, from what was used when asked
        for granted in (a for a in asked if a.status == ApprovalStatus.APPROVED):
            allowance = max(allowance, int(granted.extra["budget"].get("used", 0)) + self.token_budget)
        if used < allowance:
            return None
        refused = next((a for a in reversed(asked) if a.status == ApprovalStatus.REJECTED), None)
        if self.on_budget == "fail" or refused is not None:
            why = f"; going on was refused by {refused.decided_by or 'someone'}: {refused.reason}" if refused else ""
            raise AgentError(
                f"the agent's token budget of {allowance} is used up ({used} tokens){why}",
                retryable=False,
                usage=loop.usage or None,
            )
        proposal = {"used": used, "budget": allowance, "more": self.token_budget}
        return AgentResult(
            output=proposal,
            wait_for_approval=True,
            usage=loop.usage or None,
            approval={"resume": True, "budget": proposal},
            approval_deadline_seconds=self.approval_deadline_seconds,
            on_deadline=self.on_deadline,
        )

    # --- tool calls ----------------------------------------------------------------------------------------

    async def _call_tools(
        self,
        ctx: AgentContext,
        loop: _Loop,
        by_name: dict[str, _Tool],
        approvals: list[Approval],
        entries: list[AgentStep],
        opening: list[Message],
    ) -> AgentResult | None:
        """Make the last turn's open tool calls; an AgentResult when one of them waits for a person."""
        runnable: list[tuple[AgentStep, _Tool, dict[str, Any]]] = []
        waiting: list[AgentStep] = []
        for entry in loop.open_calls:
            if entry.status in _ENDED:
                continue
            tool = by_name.get(entry.tool or "")
            arguments, problem = _arguments(entry.arguments)
            if tool is None:
                offered = ", ".join(sorted(by_name)) or "none"
                problem = f"there is no tool named '{entry.tool}' (the tools are: {offered})"
            elif problem is None:
                problem = _problems(tool.parameters, arguments)
            if problem is not None:
                entry.status, entry.error, entry.finished_at = _S.FAILED, problem, clock.now()
                continue
            assert tool is not None
            if tool.name == FINAL_ANSWER:
                entry.status, entry.result, entry.finished_at = _S.COMPLETED, "accepted", clock.now()
                loop.final = arguments
                continue
            if tool.needs_approval:
                decided = _decision(approvals, entry)
                if decided is None:
                    entry.status = _S.WAITING_APPROVAL
                    waiting.append(entry)
                    continue
                entry.approval_id = decided.id
                if decided.status != ApprovalStatus.APPROVED:
                    who = decided.decided_by or "a person"
                    entry.status, entry.finished_at = _S.REJECTED, clock.now()
                    entry.error = f"rejected by {who}: {decided.reason or 'no reason given'}"
                    continue
                if isinstance(decided.output, dict):
                    arguments = decided.output
                    entry.arguments = json.dumps(arguments, ensure_ascii=False)
            runnable.append((entry, tool, arguments))
        if self.max_tool_calls and loop.tool_calls + len(runnable) > self.max_tool_calls:
            limit = f"the agent reached its limit of {self.max_tool_calls} tool call(s) (max_tool_calls)"
            for entry, _, _ in runnable:
                entry.status, entry.error, entry.finished_at = _S.FAILED, f"not made: {limit}", clock.now()
            await _save(ctx, entries, *loop.open_calls)
            raise AgentError(limit, retryable=False, usage=loop.usage or None)
        for entry, _, _ in runnable:
            loop.tool_calls += 1
            entry.status, entry.started_at, entry.error = _S.RUNNING, clock.now(), None
        await _save(ctx, entries, *loop.open_calls)
        if runnable:
            await self._run_calls(ctx, runnable, entries)
        if waiting:
            first = waiting[0]
            return AgentResult(
                output=_arguments(first.arguments)[0],
                wait_for_approval=True,
                usage=loop.usage or None,
                approval={
                    "resume": True,
                    "tool_call": {
                        "seq": first.seq,
                        "call_id": first.call_id,
                        "tool": first.tool,
                        "description": by_name[first.tool or ""].description,
                        "parameters": by_name[first.tool or ""].parameters,
                        "turn": first.turn,
                        "conversation": _shown(opening + loop.messages),
                    },
                },
                approval_deadline_seconds=self.approval_deadline_seconds,
                on_deadline=self.on_deadline,
            )
        for entry in loop.open_calls:
            loop.messages.append(_tool_message(entry))
        refused = next((e for e in loop.open_calls if e.tool == FINAL_ANSWER and e.status is _S.FAILED), None)
        loop.open_calls = []
        if loop.final is None and refused is not None:
            self._count_retry(loop, refused.error or "invalid")
        return None

    async def _run_calls(
        self, ctx: AgentContext, calls: list[tuple[AgentStep, _Tool, dict[str, Any]]], entries: list[AgentStep]
    ) -> None:
        gate = asyncio.Semaphore(self.parallel_tool_calls)

        async def one(entry: AgentStep, tool: _Tool, arguments: dict[str, Any]) -> None:
            async with gate:
                try:
                    result = await self._call(ctx, tool, arguments, entry)
                except NodeError as exc:
                    entry.status, entry.error = _S.FAILED, str(exc)
                else:
                    entry.status, entry.result = _S.COMPLETED, _bounded(result)
                entry.finished_at = clock.now()
                await _save(ctx, entries, entry)

        tasks = [asyncio.create_task(one(*call)) for call in calls]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            stopped = [entry for entry, _, _ in calls if entry.status is _S.RUNNING]
            for entry in stopped:
                entry.status, entry.error, entry.finished_at = _S.CANCELLED, "stopped", clock.now()
            with contextlib.suppress(Exception):
                await asyncio.shield(_save(ctx, entries, *stopped))
            raise

    async def _call(self, ctx: AgentContext, tool: _Tool, arguments: dict[str, Any], entry: AgentStep) -> Any:
        ref = tool.ref
        assert ref is not None
        key = f"t{entry.seq}"
        if ref.type == "mcp":
            if ctx.services.mcp is None:
                raise AgentError("MCP servers can only be called inside Flowyard", retryable=False)
            return await ctx.services.mcp.call(ref.server or "", tool.target, arguments)
        if ref.type == "workflow":
            if ctx.services.workflows is None:
                raise AgentError("workflows can only be called inside Flowyard's executor", retryable=False)
            return await ctx.services.workflows.run(
                ref.workflow_id or "",
                arguments,
                parent_run_id=ctx.run_id,
                node_key=f"{ctx.node_key[:56]}.{key}",
                chain=(*ctx.chain, ctx.workflow_id),
            )
        if ctx.services.tools is None:
            raise AgentError("saved agents can only be called as tools inside Flowyard", retryable=False)
        return await ctx.services.tools.run_agent(ref.agent_id or "", arguments, ctx=ctx, call_key=key)

    # --- what the model is told ------------------------------------------------------------------------------

    async def _opening(self, ctx: AgentContext) -> list[Message]:
        """The system message, the session's earlier messages and the task, before any turn."""
        messages = await self._messages(ctx)
        if self.json_schema is not None:  # the schema is the final_answer tool's; say how to answer
            schema = json.dumps(self.json_schema, ensure_ascii=False)
            messages[0]["content"] = messages[0]["content"].replace(
                f"Answer with JSON only, valid against this JSON Schema: {schema}",
                f"When you have the answer, give it by calling the {FINAL_ANSWER} tool.",
            )
        return messages

    async def _tools(self, ctx: AgentContext) -> list[_Tool]:
        found: list[_Tool] = []
        for ref in self.tools:
            if ref.type == "mcp":
                found += await self._mcp_tools(ctx, ref)
                continue
            catalog = ctx.services.tools
            if catalog is None:
                raise AgentError(f"{ref.label()} cannot be offered here (no tool catalog)", retryable=False)
            if ref.type == "agent":
                described = await catalog.describe_agent(ref.agent_id or "")
            else:
                described = await catalog.describe_workflow(ref.workflow_id or "")
            found.append(
                _Tool(
                    name=_tool_name(ref.name or described["name"]),
                    description=ref.description or described.get("description") or described["name"],
                    parameters=_object(described.get("parameters")),
                    ref=ref,
                    needs_approval=ref.needs_approval,
                )
            )
        if self.json_schema is not None:
            found.append(
                _Tool(
                    FINAL_ANSWER,
                    "Give your final answer, as arguments valid against this schema. Call it once, when done.",
                    _object(_standard(self.json_schema)),
                    None,
                )
            )
        return _unique(found)

    async def _mcp_tools(self, ctx: AgentContext, ref: ToolRef) -> list[_Tool]:
        client = ctx.services.mcp
        if client is None:
            raise AgentError("MCP servers can only be called inside Flowyard", retryable=False)
        listed = await client.tools(ref.server or "")
        names = {t.get("name") for t in listed}
        missing = [n for n in ref.tools or [] if n not in names]
        if missing:
            raise AgentError(
                f"MCP server '{ref.server}' has no tool {', '.join(repr(n) for n in missing)} "
                f"(it offers: {', '.join(sorted(str(n) for n in names)) or 'none'})",
                retryable=False,
            )
        return [
            _Tool(
                name=_tool_name(str(t["name"])),
                description=str(t.get("description") or t["name"]),
                parameters=_object(t.get("inputSchema")),
                ref=ref,
                target=str(t["name"]),
                needs_approval=ref.needs_approval or t["name"] in ref.approve_tools,
            )
            for t in listed
            if ref.tools is None or t.get("name") in ref.tools
        ]

    async def _remember_loop(self, ctx: AgentContext, loop: _Loop) -> None:
        """Keep the task, every tool call and result, and the answer in the session (not only the final text)."""
        sessions = ctx.services.sessions
        if sessions is None or not ctx.session_id or self.history_messages == 0:
            return
        opening = await self._messages(ctx)
        kept = [opening[-1], *loop.messages]
        await sessions.append(ctx.session_id, kept, run_id=ctx.run_id, node_key=ctx.node_key)


# --- the journal, read back ----------------------------------------------------------------------------------


def _replay(entries: list[AgentStep], schema: dict[str, Any] | None) -> _Loop:
    """The conversation and counters the stored entries make. A turn still RUNNING (its process died) or FAILED
    is asked again under the same seq; the tool calls of the last turn that have not ended are made again."""
    loop = _Loop()
    ordered = sorted(entries, key=lambda e: e.seq)
    calls: dict[int, list[AgentStep]] = {}
    for entry in ordered:
        if entry.kind == "tool":
            calls.setdefault(entry.turn, []).append(entry)
            if entry.status in _ENDED and entry.started_at is not None and entry.tool != FINAL_ANSWER:
                loop.tool_calls += 1
            if entry.tool == FINAL_ANSWER and entry.status is _S.FAILED:
                loop.retries += 1
    for entry in ordered:
        if entry.kind != "turn":
            loop.next_seq = entry.seq + 1
            continue
        if entry.status is not _S.COMPLETED:
            loop.next_seq = entry.seq
            break
        loop.next_seq = entry.seq + 1
        if loop.last_turn is not None and not calls.get(loop.last_turn.turn) and schema is not None:
            problem = _parse_json(loop.last_turn.text or "", schema)[1]  # an answer refused before this turn
            loop.retries += 1
            loop.messages.append(_nudge(problem or "invalid"))
        loop.messages.append(entry.result or {"role": "assistant", "content": entry.text or ""})
        loop.turns, loop.last_turn = entry.turn, entry
        loop.usage = _add(loop.usage, entry.usage or {})
        made = calls.get(entry.turn, [])
        if any(e.status not in _ENDED for e in made):
            for e in made:
                if e.status not in _ENDED:
                    e.status = _S.PENDING
            loop.open_calls = made
        else:
            loop.messages += [_tool_message(e) for e in made]
            accepted = next((e for e in made if e.tool == FINAL_ANSWER and e.status is _S.COMPLETED), None)
            if accepted is not None:
                loop.final = _arguments(accepted.arguments)[0]
    return loop


def _nudge(problem: str) -> Message:
    return {
        "role": "user",
        "content": f"That answer is not valid: {problem}. Give the answer by calling {FINAL_ANSWER} with "
        "arguments valid against its schema.",
    }


def _usage_of(entries: list[AgentStep]) -> Usage:
    usage: Usage = {}
    for entry in entries:
        if entry.kind == "turn" and entry.usage:
            usage = _add(usage, entry.usage)
    return usage


async def _save(ctx: AgentContext, entries: list[AgentStep], *changed: AgentStep) -> None:
    """Store changed entries (before anything that depends on them starts) and keep the journal's list current."""
    if not changed:
        return
    if ctx.journal is not None:
        await ctx.journal.save(*changed)
    seqs = {e.seq for e in entries}
    for entry in changed:
        if entry.seq not in seqs:
            entries.append(entry)
            seqs.add(entry.seq)


def _decision(approvals: list[Approval], entry: AgentStep) -> Approval | None:
    """The decided approval of this tool call, if a person (or a deadline) decided it."""
    for approval in reversed(approvals):
        call = approval.extra.get("tool_call") or {}
        if call.get("seq") == entry.seq and approval.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
            return approval
    return None


# --- messages and values ---------------------------------------------------------------------------------------


def _assistant(answer: Answer) -> Message:
    message: Message = {"role": "assistant", "content": answer.text or None}
    if answer.tool_calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in answer.tool_calls
        ]
    else:
        message["content"] = answer.text
    return message


def _tool_message(entry: AgentStep) -> Message:
    if entry.status is _S.COMPLETED:
        content = _text(entry.result)
    elif entry.status is _S.REJECTED:
        content = f"The call was not made: {entry.error}"
    else:
        content = f"Error: {entry.error or 'the call failed'}"
    return {"role": "tool", "tool_call_id": entry.call_id or f"call_{entry.seq}", "content": content}


def _arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    if isinstance(raw, dict):
        return raw, None
    text = raw if isinstance(raw, str) else ""
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, f"the arguments are not JSON ({exc.msg} at column {exc.colno}): {text[:200]}"
    if not isinstance(value, dict):
        return {}, f"the arguments must be a JSON object, not {type(value).__name__}"
    return value, None


def _problems(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    problems = inputs.input_problems([_standard(schema)], arguments, path="")
    if not problems:
        return None
    listed = "; ".join(f"{name or 'arguments'}: {message}" for name, message in problems[:10])
    return f"the arguments do not fit the tool's schema: {listed}"


def _object(schema: Any) -> dict[str, Any]:
    """A tool's parameters: an object schema (what the API requires), whatever the source declared."""
    if isinstance(schema, dict) and schema.get("type") == "object":
        return schema
    if isinstance(schema, dict) and schema:
        return {"type": "object", "properties": {"input": schema}, "required": ["input"]}
    return {"type": "object", "properties": {}}


def _tool_name(name: str) -> str:
    return (_TOOL_NAME.sub("_", name.strip()).strip("_") or "tool")[:64]


def _unique(tools: list[_Tool]) -> list[_Tool]:
    seen: dict[str, int] = {}
    for tool in tools:
        count = seen.get(tool.name, 0)
        seen[tool.name] = count + 1
        if count:
            tool.name = f"{tool.name[:60]}_{count + 1}"
    return tools


def _bounded(result: Any) -> Any:
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
    if len(text) <= MAX_TOOL_RESULT_CHARS:
        return result
    return text[:MAX_TOOL_RESULT_CHARS] + f"… (cut: the result had {len(text)} characters)"


def _shown(messages: list[Message]) -> list[dict[str, Any]]:
    """The end of the conversation, for the person deciding a tool call (long texts cut)."""
    shown = []
    for message in messages[-CONVERSATION_SHOWN:]:
        item = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls", "tool_call_id")}
        if isinstance(item.get("content"), str) and len(item["content"]) > 2000:
            item["content"] = item["content"][:2000] + "…"
        shown.append(item)
    return shown
