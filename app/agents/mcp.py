"""mcp: call one tool of an MCP server (added under MCP servers) as an ordinary step.

The arguments are templates rendered over the step's context; with none, the step's input is the arguments
(when it is an object). The output is the tool's result: its structured content when it gives one, else its
text. A tool that fails, or does not exist, fails the step for good; a server that cannot be reached, dies or
does not answer in time fails the attempt, and the step's retries apply (`app.services.mcp`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from app.agents.base import AgentContext, AgentKind, Group
from app.engine.exceptions import AgentError

__all__ = ["Mcp"]


class Mcp(AgentKind):
    kind: ClassVar[str] = "mcp"
    title: ClassVar[str] = "MCP tool"
    group: ClassVar[str] = Group.INTEGRATIONS
    icon: ClassVar[str] = "hub"
    uses_action: ClassVar[bool] = False
    description: ClassVar[str] = (
        "Calls one tool of an MCP server (added under MCP servers). Arguments are templates; with none, the "
        "step's input is sent. Output: the tool's result."
    )

    server: str = Field(
        "",
        description="The MCP server's name (or id), as listed under MCP servers.",
        json_schema_extra={"format": "mcp_server"},
    )
    tool: str = Field(
        "", description="The tool's name, as the server lists it.", json_schema_extra={"format": "mcp_tool"}
    )
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="The tool's arguments (templates inside, e.g. {{ input.domain }}); empty: the step's input.",
    )
    timeout_seconds: float | None = Field(
        None, gt=0, le=3600, description="How long the call may take; default: the server's timeout."
    )

    async def run(self, ctx: AgentContext) -> Any:
        if not self.server.strip():
            raise AgentError("mcp needs a server: set 'server' to an MCP server's name", retryable=False)
        if not self.tool.strip():
            raise AgentError(f"mcp needs a tool: set 'tool' to one of MCP server '{self.server}''s tools",
                             retryable=False)  # fmt: skip
        client = ctx.services.mcp
        if client is None:
            raise AgentError("MCP servers cannot be called here (no MCP client is configured)", retryable=False)
        arguments = self._arguments(ctx)
        return await client.call(self.server.strip(), self.tool.strip(), arguments, timeout=self.timeout_seconds)

    def _arguments(self, ctx: AgentContext) -> dict[str, Any]:
        if self.arguments:
            rendered = ctx.render(self.arguments)
            if not isinstance(rendered, dict):  # pragma: no cover  (a dict renders to a dict)
                raise AgentError("mcp arguments must render to an object", retryable=False)
            return rendered
        if ctx.input is None:
            return {}
        if not isinstance(ctx.input, dict):
            raise AgentError(
                "mcp sends the step's input as the tool's arguments when 'arguments' is empty, and that needs an "
                f"object; the input is {type(ctx.input).__name__}: set 'arguments' "
                '(e.g. {"text": "{{ input }}"})',
                retryable=False,
            )
        return dict(ctx.input)
