"""Flowyard as an MCP server: the workflows offered as tools, over Streamable HTTP at `/mcp`.

Built on the official MCP SDK's low-level `Server` and its Streamable HTTP session manager in stateless mode
with JSON answers: no session lives in a process, so a client may reach any of several Flowyard processes
with any request (a run one of them started is followed through the database by `flowyard_run_status`).

Who may: the request's principal comes from `Authorization: Bearer` exactly as for the REST API
(`app.api.access.current_principal`): none → 401; using `/mcp` at all (listing the tools) needs
VIEW_WORKFLOWS, calling a workflow RUN, asking how a run stands VIEW_RUNS. The endpoint is mounted beside the
API's routers rather than among them, so it checks this itself, before the SDK sees the request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
from fastapi import HTTPException, status
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from app import __version__
from app.api.access import current_principal
from app.engine.exceptions import FlowyardError, InputInvalid, NotFound, StorageUnavailable
from app.models.people import Permission, Principal
from app.services.container import Services
from app.services.workflow_tools import MCP_PATH, STATUS_TOOL, ToolRun

__all__ = ["MCP_PATH", "McpEndpoint"]

INSTRUCTIONS = (
    "Each tool runs a Flowyard workflow with the tool's arguments as the run's input and answers with the run's "
    "output. A run that takes longer than the wait is answered with its runId: call "
    f"{STATUS_TOOL} with it to get the output. A run paused for a person's approval says so."
)


class McpEndpoint:
    """The ASGI app at `/mcp`: checks the bearer token, then lets the SDK's session manager answer.

    `run()` is the session manager's lifetime: enter it in the application's lifespan (once per endpoint).
    """

    def __init__(self, *, max_body_bytes: int) -> None:
        self.server: Server[Any] = Server(
            "flowyard",
            version=__version__,
            title="Flowyard",
            instructions=INSTRUCTIONS,
            on_list_tools=_list_tools,
            on_call_tool=_call_tool,
        )
        self._max_body_bytes = max_body_bytes
        self.sessions = self._manager()

    def _manager(self) -> StreamableHTTPSessionManager:
        return StreamableHTTPSessionManager(
            self.server, json_response=True, stateless=True, max_request_body_size=self._max_body_bytes
        )

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Keep the session manager running (in a task of its own) until the context ends.

        The manager holds an anyio task group open while it runs, which must be left in the task it was entered
        in; a lifespan's start and end need not share one (pytest's async fixtures, for one, do not).
        """
        started, stopping = asyncio.Event(), asyncio.Event()
        self.sessions = self._manager()  # a manager runs once: an app started again (tests) gets a new one

        async def serve() -> None:
            async with self.sessions.run():
                started.set()
                await stopping.wait()

        task = asyncio.create_task(serve(), name="mcp-session-manager")
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():  # it could not start: say why
            waiting.cancel()
            await task
        try:
            yield
        finally:
            stopping.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            principal = await current_principal(request)  # (kept in the request's state for the handlers)
        except HTTPException as exc:
            await _refuse(exc.status_code, str(exc.detail), exc.headers)(scope, receive, send)
            return
        except StorageUnavailable as exc:  # as the API answers it: try again later
            await _refuse(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "30"})(scope, receive, send)
            return
        if not principal.can(Permission.VIEW_WORKFLOWS):
            await _refuse(status.HTTP_403_FORBIDDEN, principal.refusal(Permission.VIEW_WORKFLOWS))(scope, receive, send)
            return
        await self.sessions.handle_request(scope, receive, send)


def _refuse(code: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=code, headers=dict(headers or {}))


# --- the handlers --------------------------------------------------------------------------------------------


def _caller(ctx: ServerRequestContext[Any, Any]) -> tuple[Services, Principal]:
    request = ctx.request
    if not isinstance(request, Request):  # (only reachable over HTTP, through `McpEndpoint`)
        raise MCPError(types.INVALID_REQUEST, "Flowyard's MCP tools are served over HTTP only")
    return request.app.state.flowyard, request.state.principal


STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "runId": {"type": "string", "description": "The runId a workflow tool answered with."},
        "wait_seconds": {
            "type": "number",
            "minimum": 0,
            "description": "How long to wait for the run to end before answering (at most the server's limit).",
        },
    },
    "required": ["runId"],
}


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    services, _ = _caller(ctx)
    tools = [
        types.Tool(name=t.name, title=t.title, description=t.description, input_schema=t.input_schema)
        for t in await services.workflow_tools.tools()
    ]
    limit = services.workflow_tools.max_wait_seconds
    tools.append(
        types.Tool(
            name=STATUS_TOOL,
            title="Flowyard run status",
            description=(
                "How a run a workflow tool started stands: its output once it completed, its error if it failed, "
                f"or that it waits for a person's approval (with the inbox link). Waits up to {limit:g} seconds "
                "(or wait_seconds) for a run that is still going."
            ),
            input_schema=STATUS_SCHEMA,
            annotations=types.ToolAnnotations(read_only_hint=True),
        )
    )
    return types.ListToolsResult(tools=tools)


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult:
    services, principal = _caller(ctx)
    tools = services.workflow_tools
    arguments = params.arguments or {}
    if params.name == STATUS_TOOL:
        if not principal.can(Permission.VIEW_RUNS):
            return _error(principal.refusal(Permission.VIEW_RUNS))
        run_id = arguments.get("runId")
        if not isinstance(run_id, str) or not run_id:
            return _error("runId: give the runId a workflow tool answered with")
        asked = arguments.get("wait_seconds")
        if asked is not None and (isinstance(asked, bool) or not isinstance(asked, int | float) or asked < 0):
            return _error("wait_seconds: a number of seconds, 0 or more")
        try:
            return _result(await tools.status(run_id, wait=tools.wait_seconds(asked)))
        except NotFound:
            return _error(f"runId: there is no run '{run_id}'")
    try:
        tool = await tools.tool(params.name)
    except NotFound:
        raise MCPError(types.INVALID_PARAMS, f"unknown tool '{params.name}'") from None
    if not principal.can(Permission.RUN):
        return _error(principal.refusal(Permission.RUN))
    try:
        started = await tools.call(tool, arguments, by=principal, wait=tools.wait_seconds(None))
    except InputInvalid as exc:
        return _error(f"the arguments do not fit the workflow's input: {exc}")
    except FlowyardError as exc:
        return _error(f"the workflow cannot run: {exc}")
    return _result(started)


def _result(run: ToolRun) -> types.CallToolResult:
    answer = run.answer()
    text = json.dumps(answer, ensure_ascii=False, default=str)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=answer, is_error=run.failed
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
