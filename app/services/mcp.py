"""MCP servers: the servers Flowyard keeps (by command or by URL), and the pooled connections agents call them over.

A server is a row (`storage.models.McpServerRow`): a command Flowyard starts and talks to over its stdin and
stdout (`stdio`), or a Streamable HTTP URL (`http`). Environment values and extra header values may be secrets:
they are sealed with the vault, like credentials, and only their names are ever shown. HTTP servers are reached
through `app.outbound.mcp_client`, under the one outbound destination policy.

Connections are opened on first use and kept, one per server (`McpService.close` ends them at shutdown): a
connection whose server died, or whose row changed since it was opened, is opened anew on the next call. Every
wait is bounded (connecting by the server's timeout, a call by the caller's or the server's), so no call hangs,
and every failure is an `AgentError` naming the server and the tool — retryable when the server could not be
reached, died or did not answer in time; not when it answered that the tool failed or does not exist, or
answered something that is not MCP.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, TextIO, TypeVar, cast
from urllib.parse import urlsplit

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, CallToolResult, Implementation, TextContent
from pydantic import ValidationError
from sqlmodel import Session

from app import __version__, ids, outbound
from app.agents.http import authorize
from app.engine.exceptions import AgentError, Conflict, Forbidden, InvalidInput, NotFound
from app.engine.kinds import CredentialResolver
from app.models.mcp import McpCallOut, McpServerCreate, McpServerPublic, McpServerUpdate, McpTool
from app.models.people import SYSTEM, Permission, Principal
from app.services.audit import AuditService
from app.services.credentials import Vault
from storage import credentials as credential_repo
from storage import mcp_servers as repo
from storage.db import Database
from storage.models import McpServerRow

__all__ = ["McpService", "new_mcp_server_id"]

T = TypeVar("T")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}")
_RESERVED_HEADERS = frozenset(
    {"host", "content-type", "content-length", "accept", "connection", "transfer-encoding", "mcp-session-id",
     "mcp-protocol-version", "last-event-id"}
)  # fmt: skip
_MAX_PAGES = 50
"""Most pages of a tool listing read: a server whose listing never ends cannot hang a call."""
_CLOSE_SECONDS = 5.0
_STDERR_TAIL = 600
_CLIENT_INFO = Implementation(name="Flowyard", version=__version__)


def new_mcp_server_id() -> str:
    return ids.new_id("mcp")


@dataclass(frozen=True)
class _Target:
    """What a connection is opened to: a server's row as it was, its secrets decrypted (never shown or logged)."""

    id: str
    name: str
    transport: str
    command: str | None
    args: tuple[str, ...]
    env: dict[str, str] = field(repr=False)
    url: str | None
    credential: str | None
    headers: dict[str, str] = field(repr=False)
    timeout: float
    version: datetime
    """The row's `updated_at`: a connection opened to an older version is opened anew."""


class _Gone(Exception):
    """The connection ended while a call was waiting on it."""


class _Connection:
    """One open MCP client session, held open by an owner task of its own.

    The SDK's client is a context manager whose task group must be entered and left by one task; calls are made
    from any task. When the transport fails (the process exits, the HTTP stream breaks) the owner task ends and
    `gone` is set: waiting calls end at once instead of waiting for an answer that cannot come.
    """

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.client: Client | None = None
        self.failure: BaseException | None = None
        self.gone = asyncio.Event()
        self.http_status: int | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stderr: IO[str] | None = None
        self._last_words = ""
        self._http: httpx2.AsyncClient | None = None

    @property
    def alive(self) -> bool:
        return self.client is not None and not self.gone.is_set()

    def _build(self, policy: outbound.DestinationPolicy) -> Client:
        target = self.target
        if target.transport == "stdio":
            self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
            parameters = StdioServerParameters(command=target.command or "", args=list(target.args), env=target.env)
            stdio = stdio_client(parameters, errlog=cast(TextIO, self._stderr))
            return Client(stdio, client_info=_CLIENT_INFO, cache=None)

        async def seen(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                self.http_status = response.status_code

        http = self._http = outbound.mcp_client(policy, timeout=target.timeout, headers=target.headers)
        http.event_hooks["response"].append(seen)
        transport = streamable_http_client(target.url or "", http_client=http)
        return Client(transport, client_info=_CLIENT_INFO, cache=None)

    async def open(self, policy: outbound.DestinationPolicy) -> None:
        """Connect and complete the MCP handshake within the server's timeout; raises what stopped it."""
        client = self._build(policy)
        self._task = asyncio.create_task(self._own(client), name=f"mcp:{self.target.name}")
        try:
            async with asyncio.timeout(self.target.timeout):
                await self._ready.wait()
        except TimeoutError:
            await self.close()
            raise
        if self.client is None:
            await self.close()
            raise self.failure or _Gone()

    async def _own(self, client: Client) -> None:
        try:
            async with client:
                self.client = client
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:  # ExceptionGroups included: whatever ended the transport, kept for the message
            self.failure = exc
        finally:
            self.client = None
            if self._http is not None:  # (the SDK leaves a client it was given open)
                with contextlib.suppress(Exception):
                    await self._http.aclose()
            self.gone.set()
            self._ready.set()

    async def run(self, work: Callable[[Client], Awaitable[T]], timeout: float) -> T:
        """`work(client)`, ended by the timeout (TimeoutError) or by the connection ending (`_Gone`)."""
        client = self.client
        if client is None or self.gone.is_set():
            raise _Gone()
        task = asyncio.ensure_future(work(client))
        ended = asyncio.ensure_future(self.gone.wait())
        try:
            done, _ = await asyncio.wait({task, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if task in done:
            return task.result()
        if ended in done:
            raise _Gone()
        raise TimeoutError()

    def stderr_tail(self) -> str:
        """The last lines the server's process wrote to its stderr (stdio), for the message of its death."""
        if self._stderr is None or self._stderr.closed:
            return self._last_words
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            end = self._stderr.seek(0, 2)
            self._stderr.seek(max(0, end - 4 * _STDERR_TAIL))
            text = self._stderr.read().strip()
            return text[-_STDERR_TAIL:]
        return ""

    async def close(self) -> None:
        self._stop.set()
        task = self._task
        if task is not None and not task.done() and not self._ready.is_set():
            task.cancel()  # still in the handshake: nothing to wait for
            with contextlib.suppress(BaseException):
                await task
        elif task is not None and not task.done():
            try:
                async with asyncio.timeout(_CLOSE_SECONDS):
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._stderr is not None and not self._stderr.closed:
            self._last_words = self.stderr_tail()
            self._stderr.close()


class McpService:
    """The MCP servers Flowyard knows: kept (create, change, delete), listed, and called over pooled connections.

    It is the `McpClient` agents get (`tools`, `call`); the pages and the API manage servers with the rest.
    """

    def __init__(
        self,
        db: Database,
        vault: Vault,
        audit: AuditService,
        credentials: CredentialResolver,
        *,
        policy: outbound.DestinationPolicy,
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._vault = vault
        self._audit = audit
        self._credentials = credentials
        self.policy = policy
        self._now = now
        self._pool: dict[str, _Connection] = {}
        self._opening: dict[str, asyncio.Lock] = {}

    # --- servers as people manage them ------------------------------------------------------------------------

    async def list(self) -> builtins.list[McpServerPublic]:
        """Every server, by name: what it is, the names (never the values) of its secrets, its cached tools."""
        rows = await self._db.tx(repo.list_servers)
        return [self._public(row) for row in rows]

    async def get(self, server: str) -> McpServerPublic:
        """The server with id or name `server`; NotFound when there is none."""
        return self._public(await self._row(server))

    async def create(self, body: McpServerCreate, *, by: Principal = SYSTEM) -> McpServerPublic:
        """Keep a new server (a stdio server runs a command on this host: admins only); Conflict when the name is
        taken. Nothing is started or connected yet."""
        if body.transport == "stdio":
            _must_manage(by)
        _check_transport_fields(
            body.transport,
            command=body.command,
            args=body.args,
            env=body.env,
            url=body.url,
            credential=body.credential,
            headers=body.headers,
        )
        env, headers = _check_env(body.env), _check_headers(body.headers)

        def create(session: Session) -> McpServerRow:
            if repo.get_server_by_name(session, name=body.name) is not None:
                raise Conflict(f"an MCP server named '{body.name}' exists already")
            credential = _check_credential(session, body.credential)
            now = self._now()
            row = McpServerRow(
                id=new_mcp_server_id(),
                name=body.name,
                description=body.description,
                transport=body.transport,
                command=body.command.strip() if body.command else None,
                args=list(body.args) if body.transport == "stdio" else None,
                url=body.url.strip() if body.url else None,
                credential=credential,
                timeout_seconds=body.timeout_seconds,
                env_secret=self._vault.seal(env) if env else None,
                headers_secret=self._vault.seal(headers) if headers else None,
                created_by=by.label[:254],
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            self._audit.add(session, by, "mcp_server.create", target=body.name, detail=body.transport)
            return row

        return self._public(await self._db.tx(create))

    async def update(self, server: str, body: McpServerUpdate, *, by: Principal = SYSTEM) -> McpServerPublic:
        """Change what `body` names. Secrets given as null keep their value; names left out are removed. A
        stdio server (before or after) is for admins only. The server's open connection is closed: the next call
        connects as the server is now."""
        given = body.model_fields_set

        def update(session: Session) -> McpServerRow:
            row = _found(session, server)
            transport = body.transport or row.transport
            if "stdio" in (row.transport, transport):
                _must_manage(by)
            if body.name is not None and body.name != row.name:
                if repo.get_server_by_name(session, name=body.name) is not None:
                    raise Conflict(f"an MCP server named '{body.name}' exists already")
                row.name = body.name
            if body.description is not None:
                row.description = body.description
            if body.timeout_seconds is not None:
                row.timeout_seconds = body.timeout_seconds
            stdio = transport == "stdio"
            was = row.transport
            env_now = self._open_secret(row.name, row.env_secret) if was == "stdio" else {}
            headers_now = self._open_secret(row.name, row.headers_secret) if was == "http" else {}

            def value(name: str, current: Any, empty: Any) -> Any:
                """The field after the change: as given, else as it was (when the transport stays its own)."""
                if name in given:
                    return getattr(body, name)
                mine = name in ("command", "args") if stdio else name in ("url", "credential")
                return current if mine and was == transport else empty

            command = value("command", row.command, None)
            args = value("args", row.args or [], []) or []
            url = value("url", row.url, None)
            credential = value("credential", row.credential, None) or None
            env = _merge_secrets(env_now, body.env, "env") if body.env is not None else (env_now if stdio else {})
            headers = _merge_secrets(headers_now, body.headers, "headers") if body.headers is not None else (
                headers_now if not stdio else {})  # fmt: skip
            _check_transport_fields(
                transport, command=command, args=args, env=env, url=url, credential=credential, headers=headers
            )
            env, headers = _check_env(env), _check_headers(headers)
            row.transport = transport
            row.command = command.strip() if stdio and command else None
            row.args = list(args) if stdio else None
            row.url = url.strip() if not stdio and url else None
            row.credential = _check_credential(session, credential or None) if not stdio else None
            row.env_secret = self._vault.seal(env) if stdio and env else None
            row.headers_secret = self._vault.seal(headers) if not stdio and headers else None
            row.updated_at = self._now()
            session.add(row)
            changed = sorted(given - {"env", "headers"}) + [f"{k} (values not shown)" for k in ("env", "headers")
                                                             if k in given]  # fmt: skip
            self._audit.add(session, by, "mcp_server.update", target=row.name, detail=", ".join(changed))
            return row

        row = await self._db.tx(update)
        await self._drop(row.id)
        return self._public(row)

    async def delete(self, server: str, *, by: Principal = SYSTEM) -> None:
        """Delete a server (a stdio server: admins only) and close its connection."""

        def delete(session: Session) -> str:
            row = _found(session, server)
            if row.transport == "stdio":
                _must_manage(by)
            session.delete(row)
            self._audit.add(session, by, "mcp_server.delete", target=row.name, detail=row.transport)
            return row.id

        await self._drop(await self._db.tx(delete))

    async def refresh_tools(self, server: str) -> McpServerPublic:
        """Connect, list the server's tools and keep them with it; AgentError when the server cannot tell."""
        await self.tools(server)
        return await self.get(server)

    async def test_call(
        self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None
    ) -> McpCallOut:
        """Call one tool as a person trying it out: its result, or the error it ended with, and how long it took."""
        started = time.perf_counter()
        try:
            result = await self.call(server, tool, arguments, timeout=timeout)
        except AgentError as exc:
            took = (time.perf_counter() - started) * 1000
            return McpCallOut(ok=False, error=str(exc), retryable=exc.retryable, duration_ms=round(took, 1))
        took = (time.perf_counter() - started) * 1000
        return McpCallOut(ok=True, result=result, duration_ms=round(took, 1))

    # --- the McpClient agents use ---------------------------------------------------------------------------

    async def tools(self, server: str) -> builtins.list[dict[str, Any]]:
        """The tools `server` offers now ({"name", "description", "inputSchema"[, "outputSchema"]} each); the
        listing is kept with the server for the pages and the editor."""
        target = await self._target(server)

        async def listing(client: Client) -> builtins.list[dict[str, Any]]:
            found: builtins.list[dict[str, Any]] = []
            cursor: str | None = None
            for _ in range(_MAX_PAGES):
                page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                found += [_tool(tool) for tool in page.tools]
                cursor = page.next_cursor
                if cursor is None:
                    break
            return found

        listed = await self._use(target, listing, timeout=target.timeout, what="listing its tools")

        def keep(session: Session) -> None:
            row = session.get(McpServerRow, target.id)
            if row is not None:
                row.tools = listed
                row.tools_listed_at = self._now()
                session.add(row)

        await self._db.tx(keep)
        return listed

    async def call(self, server: str, tool: str, arguments: dict[str, Any], *, timeout: float | None = None) -> Any:
        """Call `tool` with `arguments`: its structured content when it gives one, else its text (one text: the
        text; several: a list). A result the server marks as an error raises AgentError (not retryable)."""
        if not isinstance(arguments, dict):
            raise AgentError(f"arguments of MCP tool '{tool}' must be an object, got {type(arguments).__name__}",
                             retryable=False)  # fmt: skip
        if not tool:
            raise AgentError("no MCP tool named: set the step's 'tool'", retryable=False)
        target = await self._target(server)
        wait = timeout if timeout is not None else target.timeout

        async def calling(client: Client) -> CallToolResult:
            return await client.call_tool(tool, arguments)

        result = await self._use(target, calling, timeout=wait, what=f"tool '{tool}'")
        if result.is_error:
            text = _texts(result) or "(no message)"
            raise AgentError(f"MCP server '{target.name}': tool '{tool}' failed: {text}", retryable=False)
        return _output(result)

    async def close(self) -> None:
        """End every open connection (stdio servers' processes end with them): at shutdown."""
        connections = list(self._pool.values())
        self._pool.clear()
        await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)

    # --- connections ---------------------------------------------------------------------------------------------

    async def _use(self, target: _Target, work: Callable[[Client], Awaitable[T]], *, timeout: float, what: str) -> T:
        connection = await self._connection(target)
        name = target.name
        try:
            try:
                return await connection.run(work, timeout)
            except MCPError as exc:
                if "Session terminated" not in exc.message:
                    raise
                # An HTTP server that forgot the session (restarted, or it expired while idle) refused the request
                # without running it: one new session, and the same request once more.
                await self._drop(target.id, connection)
                connection = await self._connection(target)
                return await connection.run(work, timeout)
        except TimeoutError:
            raise AgentError(f"MCP server '{name}' did not answer {what} within {timeout:g} s") from None
        except _Gone:
            await self._drop(target.id, connection)
            raise AgentError(f"MCP server '{name}' {_ended(connection, f'during {what}')}") from None
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED or "Session terminated" in exc.message:
                await self._drop(target.id, connection)
                raise AgentError(f"MCP server '{name}' {_ended(connection, f'during {what}')}") from None
            status = f" (HTTP {connection.http_status})" if connection.http_status else ""
            raise AgentError(
                f"MCP server '{name}' refused {what}: {exc.message}{status}", retryable=_status_retryable(connection)
            ) from None
        except ValidationError as exc:
            await self._drop(target.id, connection)
            raise AgentError(
                f"MCP server '{name}' answered {what} with something that is not MCP: {_first_error(exc)}",
                retryable=False,
            ) from None

    async def _connection(self, target: _Target) -> _Connection:
        lock = self._opening.setdefault(target.id, asyncio.Lock())
        async with lock:
            pooled = self._pool.get(target.id)
            if pooled is not None and pooled.alive and pooled.target == target:
                return pooled
            if pooled is not None:
                await self._drop(target.id, pooled)
            connection = _Connection(target)
            try:
                await connection.open(self.policy)
            except TimeoutError:
                raise AgentError(
                    f"MCP server '{target.name}' did not complete the MCP handshake within {target.timeout:g} s"
                    + _stdio_hint(connection)
                ) from None
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise _connect_error(target, connection, exc) from None
            self._pool[target.id] = connection
            return connection

    async def _drop(self, server_id: str, connection: _Connection | None = None) -> None:
        """Close `connection` (default: the server's pooled one) and forget it, if the pool still holds it."""
        pooled = self._pool.get(server_id)
        connection = connection or pooled
        if connection is None:
            return
        if pooled is connection:
            del self._pool[server_id]
        await connection.close()

    async def _target(self, server: str) -> _Target:
        row = await self._db.tx(lambda s: repo.find_server(s, key=server))
        if row is None:
            raise AgentError(f"MCP server '{server}' does not exist: add it under MCP servers", retryable=False)
        headers: dict[str, str] = {}
        if row.transport == "http":
            headers = self._open_secret(row.name, row.headers_secret)
            if row.credential:
                authorize(headers, await self._credentials.get(row.credential))
        return _Target(
            id=row.id,
            name=row.name,
            transport=row.transport,
            command=row.command,
            args=tuple(row.args or ()),
            env=self._open_secret(row.name, row.env_secret) if row.transport == "stdio" else {},
            url=row.url,
            credential=row.credential,
            headers=headers,
            timeout=row.timeout_seconds,
            version=row.updated_at,
        )

    # --- rows ------------------------------------------------------------------------------------------------------

    async def _row(self, server: str) -> McpServerRow:
        return await self._db.tx(lambda s: _found(s, server))

    def _open_secret(self, name: str, sealed: bytes | None) -> dict[str, str]:
        if not sealed:
            return {}
        try:
            return self._vault.open(name, sealed)
        except AgentError:
            raise AgentError(
                f"the secrets of MCP server '{name}' cannot be decrypted with this secret key: was "
                "FLOWYARD_SECRET_KEY or the data directory's secret.key changed? Restore it, or enter them again",
                retryable=False,
            ) from None

    def _names(self, name: str, sealed: bytes | None) -> builtins.list[str]:
        try:
            return sorted(self._open_secret(name, sealed))
        except AgentError:
            return []  # (a changed secret key: the names are unreadable too; calls say what to do)

    def _public(self, row: McpServerRow) -> McpServerPublic:
        return McpServerPublic(
            id=row.id,
            name=row.name,
            description=row.description,
            transport=row.transport,
            command=row.command,
            args=list(row.args or []),
            env_names=self._names(row.name, row.env_secret),
            url=row.url,
            credential=row.credential,
            header_names=self._names(row.name, row.headers_secret),
            timeout_seconds=row.timeout_seconds,
            tools=[McpTool.model_validate(_camel_tool(t)) for t in row.tools] if row.tools is not None else None,
            tools_listed_at=row.tools_listed_at,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


# --- checks ------------------------------------------------------------------------------------------------------


def _must_manage(by: Principal) -> None:
    if not by.can(Permission.MANAGE):
        raise Forbidden(f"{by.refusal(Permission.MANAGE)} (a stdio MCP server runs a command on this host)")


def _found(session: Session, server: str) -> McpServerRow:
    row = repo.find_server(session, key=server)
    if row is None:
        raise NotFound("MCP server", server)
    return row


def _check_credential(session: Session, name: str | None) -> str | None:
    if not name:
        return None
    if credential_repo.get_credential(session, name=name) is None:
        raise InvalidInput("credential", f"no credential named '{name}': add it under Credentials first")
    return name


def _check_transport_fields(
    transport: str,
    *,
    command: str | None,
    args: builtins.list[str],
    env: dict[str, Any],
    url: str | None,
    credential: str | None,
    headers: dict[str, Any],
) -> None:
    """InvalidInput naming the first field that does not fit `transport`."""
    if transport == "stdio":
        mine: tuple[tuple[str, object], ...] = (("url", url), ("credential", credential), ("headers", headers))
        for name, value in mine:
            if value:
                raise InvalidInput(name, "only for http servers (this one is stdio: a command)")
        if not command or not command.strip():
            raise InvalidInput("command", "required for a stdio server: the executable to start, e.g. npx")
        if any(c in command for c in "\r\n\x00"):
            raise InvalidInput("command", "must be one line")
        for index, arg in enumerate(args):
            if "\x00" in arg:
                raise InvalidInput(f"args.{index}", "must not contain NUL characters")
        return
    others: tuple[tuple[str, object], ...] = (("command", command), ("args", args), ("env", env))
    for name, value in others:
        if value:
            raise InvalidInput(name, "only for stdio servers (this one is http: a URL)")
    if not url or not url.strip():
        raise InvalidInput("url", "required for an http server: its Streamable HTTP endpoint, e.g. https://…/mcp")
    try:
        parts = urlsplit(url.strip())
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidInput("url", f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput("url", "must be an http:// or https:// URL with a host")


def _check_env(env: dict[str, str]) -> dict[str, str]:
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise InvalidInput(f"env.{name}", "not a variable name: letters, digits and '_', not starting with a digit")
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidInput(f"env.{name}", "must be a string without NUL characters")
    return dict(env)


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise InvalidInput(f"headers.{name}", "not a valid HTTP header name")
        if name.lower() in _RESERVED_HEADERS:
            raise InvalidInput(f"headers.{name}", "set by the MCP client itself: it cannot be given")
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise InvalidInput(f"headers.{name}", "must be a one-line string")
    return dict(headers)


def _merge_secrets(now: dict[str, str], given: dict[str, str | None], field: str) -> dict[str, str]:
    """The secrets after a change: a name given null keeps its value (it must have one), one left out goes."""
    merged: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            if name not in now:
                raise InvalidInput(f"{field}.{name}", "has no value to keep: give one")
            merged[name] = now[name]
        else:
            merged[name] = value
    return merged


# --- results and errors --------------------------------------------------------------------------------------


def _tool(tool: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"name": tool.name, "description": tool.description or "",
                             "inputSchema": dict(tool.input_schema or {})}  # fmt: skip
    if getattr(tool, "output_schema", None):
        found["outputSchema"] = dict(tool.output_schema)
    return found


def _camel_tool(tool: dict[str, Any]) -> dict[str, Any]:
    return {"name": tool.get("name", ""), "description": tool.get("description") or "",
            "input_schema": tool.get("inputSchema") or {}, "output_schema": tool.get("outputSchema")}  # fmt: skip


def _texts(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent)).strip()


def _output(result: CallToolResult) -> Any:
    if result.structured_content is not None:
        return result.structured_content
    parts: builtins.list[Any] = [
        block.text
        if isinstance(block, TextContent)
        else block.model_dump(mode="json", by_alias=True, exclude_none=True)
        for block in result.content
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "the answer"
    return f"{where}: {first.get('msg', '')}"


def _status_retryable(connection: _Connection) -> bool:
    status = connection.http_status
    return status is not None and (status >= 500 or status in (408, 429))


def _ended(connection: _Connection, when: str) -> str:
    """How the connection ended, `when` (e.g. "during tool 'add'"), with the last words of a stdio server."""
    if connection.target.transport != "stdio":
        return f"closed the connection {when}"
    tail = connection.stderr_tail()
    return f"exited (its process ended) {when}" + (f"; it said: {tail}" if tail else "")


def _stdio_hint(connection: _Connection) -> str:
    if connection.target.transport != "stdio":
        return ""
    tail = connection.stderr_tail()
    return f"; it said: {tail}" if tail else ": is the command an MCP server speaking on its stdout?"


def _leaves(exc: BaseException) -> builtins.list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _connect_error(target: _Target, connection: _Connection, exc: BaseException) -> AgentError:
    """Why connecting to `target` failed, in words: a refused destination and a missing command are final."""
    name = target.name
    leaves = _leaves(connection.failure or exc)
    for leaf in leaves:
        if isinstance(leaf, outbound.DestinationRefused):
            return AgentError(f"MCP server '{name}': {leaf}", retryable=False)
    for leaf in leaves:
        if isinstance(leaf, FileNotFoundError | PermissionError | NotADirectoryError):
            return AgentError(
                f"MCP server '{name}' cannot be started: {target.command!r} {leaf.strerror or leaf}", retryable=False
            )
    for leaf in leaves:
        if isinstance(leaf, httpx2.ConnectError | ConnectionError):
            return AgentError(f"MCP server '{name}' could not be reached at {target.url}: {leaf}")
        if isinstance(leaf, httpx2.TimeoutException):
            return AgentError(f"MCP server '{name}' did not answer at {target.url} within {target.timeout:g} s")
    for leaf in leaves:
        if isinstance(leaf, MCPError):
            status = connection.http_status
            if status in (401, 403):
                hint = f"check credential '{target.credential}'" if target.credential else "it wants a credential"
                return AgentError(f"MCP server '{name}' answered {status}: {hint}", retryable=False)
            shown = f" (HTTP {status})" if status else ""
            if leaf.code == CONNECTION_CLOSED:
                return AgentError(f"MCP server '{name}' {_ended(connection, f'before the MCP handshake ended{shown}')}")
            return AgentError(f"MCP server '{name}' refused to connect: {leaf.message}{shown}",
                              retryable=_status_retryable(connection))  # fmt: skip
        if isinstance(leaf, ValidationError):
            return AgentError(f"MCP server '{name}' answered the handshake with something that is not MCP: "
                              f"{_first_error(leaf)}", retryable=False)  # fmt: skip
    first = leaves[0] if leaves else exc
    return AgentError(f"MCP server '{name}' could not be connected: {first or type(first).__name__}")
