"""MCP servers Flowyard connects to, as the API and the pages see them: never the secrets they hold.

A server is started by command (`stdio`: command, arguments, environment) or reached by URL (`http`: Streamable
HTTP, with a credential and extra headers). Environment values and header values may be secrets: they are
write-only, like credentials; what is shown is their names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, get_args

from pydantic import Field

from app.models.base import Input, Name, Public

__all__ = [
    "TRANSPORTS",
    "McpCallIn",
    "McpCallOut",
    "McpServerCreate",
    "McpServerPublic",
    "McpServerUpdate",
    "McpTool",
    "Transport",
]

Transport = Literal["stdio", "http"]
TRANSPORTS: Final[tuple[str, ...]] = get_args(Transport)

_ENV = (
    "Environment variables of the command (stdio), by name. Write-only: on a change, a name given with null keeps "
    "its current value, and a name left out is removed."
)
_HEADERS = (
    "Extra HTTP headers sent to the server (http), by name. Write-only: on a change, a name given with null keeps "
    "its current value, and a name left out is removed."
)


class McpServerCreate(Input):
    name: Name = Field(min_length=1, max_length=200, description="How steps and agents refer to it (or by its id).")
    description: str = Field("", max_length=5000)
    transport: Transport = Field(description="stdio: a command Flowyard starts; http: a Streamable HTTP URL.")
    command: str | None = Field(None, max_length=2000, description="The executable (stdio), e.g. `npx` or a path.")
    args: list[str] = Field(default_factory=list, max_length=100, description="The command's arguments (stdio).")
    env: dict[str, str] = Field(default_factory=dict, description=_ENV)
    url: str | None = Field(None, max_length=2000, description="The server's endpoint (http), e.g. …/mcp.")
    credential: str | None = Field(
        None, max_length=200, description="Name of a credential sent with every request (http), as http steps do."
    )
    headers: dict[str, str] = Field(default_factory=dict, description=_HEADERS)
    timeout_seconds: float = Field(30.0, gt=0, le=3600, description="How long connecting or one call may take.")


class McpServerUpdate(Input):
    """What to change; fields left out stay. Changing the transport needs the other transport's fields."""

    name: Name | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    transport: Transport | None = None
    command: str | None = Field(None, max_length=2000)
    args: list[str] | None = Field(None, max_length=100)
    env: dict[str, str | None] | None = Field(None, description=_ENV)
    url: str | None = Field(None, max_length=2000)
    credential: str | None = Field(None, max_length=200, description="A credential's name; empty: none.")
    headers: dict[str, str | None] | None = Field(None, description=_HEADERS)
    timeout_seconds: float | None = Field(None, gt=0, le=3600)


class McpTool(Public):
    """One tool a server offers, as it listed it."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] | None = None


class McpServerPublic(Public):
    """An MCP server as anyone may see it: the names of its environment variables and headers, never values."""

    id: str
    name: str
    description: str
    transport: str
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env_names: list[str] = Field(default_factory=list, description="Names of its environment variables (stdio).")
    url: str | None = None
    credential: str | None = None
    header_names: list[str] = Field(default_factory=list, description="Names of its extra headers (http).")
    timeout_seconds: float
    tools: list[McpTool] | None = Field(None, description="What it listed when last connected; null: never yet.")
    tools_listed_at: datetime | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime


class McpCallIn(Input):
    arguments: dict[str, Any] = Field(default_factory=dict, description="The tool's arguments (JSON object).")
    timeout_seconds: float | None = Field(None, gt=0, le=3600, description="Default: the server's timeout.")


class McpCallOut(Public):
    """A test call's outcome: the tool's result, or the error it ended with."""

    ok: bool
    result: Any = None
    error: str | None = None
    retryable: bool | None = Field(None, description="Whether trying again may help (the server was unreachable).")
    duration_ms: float
