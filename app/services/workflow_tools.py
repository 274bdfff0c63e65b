"""Workflows offered as tools to MCP clients (`/mcp`): their names and schemas, the call that starts a run, and
how far a run got while the caller waited.

Nothing is kept between calls: the tools are read from the database each time and a run is followed through
the run store, so any Flowyard process answers any call about any run (the endpoint, `app.api.mcp_server`,
runs the MCP SDK statelessly).

A tool's name comes from its workflow's name under MCP's rules (letters, digits, ``_ - .``; `tool_names`); its
parameters are the workflow's input schema, as the run form and the API take it. A workflow whose input is no
object, or any JSON (its steps read the input whole), takes it as the tool's one parameter ``input``: a tool's
arguments are always an object.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlmodel import Session, col, select

from app.engine.exceptions import NotFound
from app.engine.model import ApprovalStatus, RunRecord, RunStatus, Trigger
from app.engine.store import RunStore
from app.models.people import Principal
from app.services.inputs import InputService
from app.services.runs import RunService
from storage.db import Database
from storage.models import WorkflowRow

__all__ = ["MCP_PATH", "STATUS_TOOL", "ToolRun", "WorkflowTool", "WorkflowToolService", "tool_name", "tool_names"]

MCP_PATH = "/mcp"
"""Where MCP clients reach the offered workflows (Streamable HTTP)."""

STATUS_TOOL = "flowyard_run_status"
"""The tool every client is offered besides the workflows: how a run stands, waiting a while for it to end."""

NAME_LIMIT = 64
"""Longest tool name made from a workflow's name (MCP allows 128; clients and models read shorter ones better)."""

_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_.-]+")


def tool_name(workflow_name: str) -> str:
    """A workflow's name as a tool's: ASCII letters, digits, ``_ - .``, lower case ("Summarize news!" →
    "summarize_news"; "Café" → "cafe"); "workflow" when nothing of it is left."""
    ascii_only = unicodedata.normalize("NFKD", workflow_name).encode("ascii", "ignore").decode()
    name = _NOT_IN_NAMES.sub("_", ascii_only).strip("_.-").lower()[:NAME_LIMIT].rstrip("_.-")
    return name or "workflow"


def tool_names(workflows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each workflow's tool name, by workflow id, given (id, name) pairs oldest first.

    The oldest workflow of a name keeps the plain name, so offering another one of the same name renames
    nothing a client already uses; each later one (and a workflow named like the status tool) ends in part of
    its id ("summarize_news_3f9a1c"), a longer part if that too is taken.
    """
    taken = {STATUS_TOOL}
    names: dict[str, str] = {}
    for workflow_id, name in workflows:
        base = tool_name(name)
        found = base
        random_part = workflow_id.rsplit("-", 1)[-1].lower() or workflow_id.lower()
        length = 6
        while found in taken:
            suffix = random_part[:length] if length <= len(random_part) else f"{random_part}_{length}"
            found = f"{base[: NAME_LIMIT - len(suffix) - 1]}_{suffix}"
            length += 2
        taken.add(found)
        names[workflow_id] = found
    return names


@dataclass(frozen=True)
class WorkflowTool:
    """One offered workflow as MCP clients see it."""

    name: str
    workflow_id: str
    title: str
    description: str
    input_schema: dict[str, Any]
    wraps_input: bool
    """True when the run's input is the tool's `input` argument (the workflow's input is no object)."""

    def run_input(self, arguments: dict[str, Any]) -> Any:
        """The run's input for the arguments a client sent."""
        return arguments.get("input") if self.wraps_input else arguments


@dataclass(frozen=True)
class ToolRun:
    """How a run started by a tool call stands: what the caller is answered."""

    run_id: str
    workflow_id: str
    status: RunStatus
    output: Any = None
    error: str | None = None
    waiting_step: str | None = None
    approval_id: str | None = None

    @property
    def failed(self) -> bool:
        """FAILED or CANCELLED: it ended without an output."""
        return self.status in (RunStatus.FAILED, RunStatus.CANCELLED)

    def answer(self) -> dict[str, Any]:
        """The tool result's structured content: `runId`, `status`, then what the status calls for."""
        answer: dict[str, Any] = {"runId": self.run_id, "status": self.status.value}
        if self.status is RunStatus.COMPLETED:
            answer["output"] = self.output
        elif self.failed:
            answer["error"] = self.error or self.status.value.lower()
        elif self.status is RunStatus.PAUSED:
            answer["waitingFor"] = {
                "step": self.waiting_step,
                "approvalId": self.approval_id,
                "inbox": f"/inbox?approval={self.approval_id}" if self.approval_id else "/inbox",
            }
            answer["hint"] = (
                "The run is paused: a person has to approve a step in Flowyard's inbox (the `inbox` path). "
                f"Call {STATUS_TOOL} with this runId to learn when it goes on."
            )
        else:
            answer["hint"] = f"The run is still going: call {STATUS_TOOL} with this runId to get its output."
        return answer


class RunWaiter(Protocol):
    """`Executor.wait`: until this process stops driving the run (it ended, paused or moved)."""

    async def wait(self, run_id: str, *, timeout: float | None = None) -> RunRecord | None: ...


class WorkflowToolService:
    """The workflows offered as tools, and the runs their calls start."""

    def __init__(
        self,
        db: Database,
        store: RunStore,
        runs: RunService,
        inputs: InputService,
        executor: RunWaiter,
        *,
        max_wait_seconds: float,
        poll_seconds: float = 0.25,
    ) -> None:
        self._db = db
        self._store = store
        self._runs = runs
        self._inputs = inputs
        self._executor = executor
        self.max_wait_seconds = max_wait_seconds
        self._poll = poll_seconds

    # --- the tools --------------------------------------------------------------------------------------------

    async def tools(self) -> list[WorkflowTool]:
        """Every workflow offered as a tool, oldest first, with its tool name and input schema."""
        offered = await self._db.tx(_offered)
        names = tool_names((w.id, w.name) for w in offered)
        tools = [await self._tool(workflow, names[workflow.id]) for workflow in offered]
        return [t for t in tools if t is not None]

    async def names(self) -> dict[str, str]:
        """The tool name of each offered workflow, by workflow id."""
        return tool_names((w.id, w.name) for w in await self._db.tx(_offered))

    async def tool(self, name: str) -> WorkflowTool:
        """The offered workflow called `name`; NotFound("tool") when none is (any more)."""
        offered = await self._db.tx(_offered)
        names = tool_names((w.id, w.name) for w in offered)
        workflow = next((w for w in offered if names[w.id] == name), None)
        found = await self._tool(workflow, name) if workflow is not None else None
        if found is None:
            raise NotFound("tool", name)
        return found

    async def _tool(self, workflow: WorkflowRow, name: str) -> WorkflowTool | None:
        """The workflow as the tool `name`; None when it was deleted meanwhile."""
        try:
            schema = (await self._inputs.input(workflow.id)).input_schema
        except NotFound:
            return None
        wraps = schema is None or schema.get("type") != "object"
        if schema is None:  # its steps read the input whole (or not at all): whatever JSON it is
            schema = {"type": "object", "properties": {"input": {"description": "The run's input: any JSON."}}}
        elif wraps:
            schema = {"type": "object", "properties": {"input": schema}, "required": ["input"]}
        described = workflow.description.strip() or f"Runs the Flowyard workflow “{workflow.name}”."
        return WorkflowTool(name, workflow.id, workflow.name, described, schema, wraps)

    def wait_seconds(self, asked: float | None) -> float:
        """How long a call waits: what it asked for, at most FLOWYARD_MCP_WAIT_SECONDS (also the default)."""
        if asked is None:
            return self.max_wait_seconds
        return min(max(float(asked), 0.0), self.max_wait_seconds)

    # --- calls ------------------------------------------------------------------------------------------------

    async def call(self, tool: WorkflowTool, arguments: dict[str, Any], *, by: Principal, wait: float) -> ToolRun:
        """Start a run of the tool's workflow with `arguments` and wait up to `wait` seconds for it to end or
        pause. Raises what starting a run raises (InputInvalid, WorkflowInvalid, NotFound); none starts one."""
        run = await self._runs.start(
            tool.workflow_id,
            input=tool.run_input(arguments),
            trigger=Trigger.MCP,
            input_field="input" if tool.wraps_input else "",
            started_by=by.label,
        )
        return await self._standing(await self._outcome(run, wait))

    async def status(self, run_id: str, *, wait: float) -> ToolRun:
        """Run `run_id` once it ended or paused, or as it stands after `wait` seconds; NotFound."""
        run = await self._store.get_run(run_id)
        if run is None:
            raise NotFound("run", run_id)
        return await self._standing(await self._outcome(run, wait))

    async def _outcome(self, run: RunRecord, wait: float) -> RunRecord:
        """The run once it ended or paused, or as it stands when `wait` seconds have passed.

        This process's executor says at once when it stops driving the run; a run another process drives is
        read from the store every `poll_seconds`.
        """
        if run.status.is_terminal or run.status is RunStatus.PAUSED or wait <= 0:
            return run
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        with contextlib.suppress(TimeoutError):
            await self._executor.wait(run.id, timeout=wait)
        current = await self._store.get_run(run.id) or run
        while current.status in (RunStatus.QUEUED, RunStatus.RUNNING) and (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(self._poll, left))
            current = await self._store.get_run(run.id) or current
        return current

    async def _standing(self, run: RunRecord) -> ToolRun:
        standing = ToolRun(run.id, run.workflow_id, run.status, output=run.output, error=run.error)
        if run.status is RunStatus.FAILED:
            failure = await self._inputs.failure(run.id)
            return ToolRun(run.id, run.workflow_id, run.status, error=failure.summary() if failure else run.error)
        if run.status is RunStatus.PAUSED:
            pending = [a for a in await self._store.get_approvals(run.id) if a.status == ApprovalStatus.PENDING]
            if pending:
                first = pending[0]
                return ToolRun(run.id, run.workflow_id, run.status, waiting_step=first.node_key, approval_id=first.id)
        return standing


def _offered(session: Session) -> list[WorkflowRow]:
    """The offered workflows, oldest first (an agent's own one-step workflow never is: it follows its agent)."""
    query = (
        select(WorkflowRow)
        .where(col(WorkflowRow.offer_as_tool).is_(True), col(WorkflowRow.for_agent).is_(None))
        .order_by(col(WorkflowRow.created_at), col(WorkflowRow.id))
    )
    return list(session.exec(query))
