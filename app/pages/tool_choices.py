"""What the tool lists of agent settings offer (`components.agent_tools.ToolChoices`): the saved agents, the
workflows people made (not the hidden one-step workflows of agents called directly) and the MCP servers with
their tools as last listed; listing a server's tools again is for whoever may edit.
"""

from __future__ import annotations

from app.engine.exceptions import FlowyardError
from app.models.mcp import McpServerPublic
from app.models.people import Permission
from app.pages import access
from app.pages.context import services
from components.agent_tools import McpChoice, ToolChoices

__all__ = ["tool_choices"]

_WORKFLOWS = 500
"""Most workflows a picker offers (by newest): a picker of more is no way to choose one."""


async def tool_choices() -> ToolChoices:
    """The tools this person may give an agent, and a way to ask an MCP server for its tools again."""
    flowyard = services()
    kinds = {kind.kind: kind.title for kind in flowyard.agents.kinds()}
    agents = {a.id: f"{a.name} · {kinds.get(a.kind, a.kind)}" for a in await flowyard.agents.summaries()}
    page = await flowyard.workflows.list(page=0, size=_WORKFLOWS)
    workflows = {w.id: w.name for w in sorted(page.items, key=lambda w: w.name.lower())}
    servers = {s.id: _server(s) for s in await flowyard.mcp.list()}

    async def refresh(server_id: str) -> list[tuple[str, str]]:
        if not await access.may(Permission.EDIT):
            raise PermissionError("You may not change agents, so you cannot ask a server for its tools.")
        try:
            server = await services().mcp.refresh_tools(server_id)
        except FlowyardError as exc:
            raise RuntimeError(str(exc)) from None
        return _server(server).tools or []

    may_refresh = access.allowed(Permission.EDIT, quiet=True)
    return ToolChoices(agents=agents, workflows=workflows, servers=servers, refresh=refresh if may_refresh else None)


def _server(server: McpServerPublic) -> McpChoice:
    tools = [(t.name, t.description) for t in server.tools] if server.tools is not None else None
    return McpChoice(name=server.name, tools=tools)
