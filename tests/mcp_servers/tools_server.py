"""A real MCP server for the tests, written with the official SDK (`mcp.server.mcpserver.MCPServer`).

Run it as a stdio subprocess (what an MCP server added "by command" is):

    python tests/mcp_servers/tools_server.py

or serve it over Streamable HTTP on 127.0.0.1 (stateless, JSON answers; the endpoint is `/mcp`; with
`--stateful` it keeps a session per client of the older, session-based protocol, which a restart forgets):

    python tests/mcp_servers/tools_server.py --http 8765

`tests.mcp_servers` says how a test runs it (`STDIO_COMMAND`, `STDIO_ARGS`; `HttpMcpServer` for HTTP).

Tools:

- `add(a, b)` → the sum, as structured content `{"result": a + b}` (and its text).
- `lookup_company(domain)` → structured content `{"domain", "name", "employees", "industry"}` from a small
  table (unknown domains: name = the domain's first label capitalised, employees 0, industry "unknown").
- `echo(text)` → `text`, as plain text content only (no structured content).
- `two_texts(first, second)` → two text contents (a client sees a list of two strings).
- `slow(seconds)` → sleeps, then "slept <seconds>" (text): stands for a server that hangs.
- `fail(message)` → a tool error (`isError` result) whose text holds `message` ("Error executing tool fail: …").
- `crash()` → the process exits at once (code 3) without answering: stands for a server that dies.
- `count()` → adds a line to the file named by the environment variable `MCP_COUNT_FILE` and answers the
  number of lines now in it (structured `{"count": n}`): proves how many times a call really ran.
- `whoami()` → what the request carried that a test checks: the environment variable `MCP_SECRET` (stdio) or
  the HTTP request's `Authorization` and `X-*` headers (Streamable HTTP), as structured content.

With `--garbage` the process prints a line that is not JSON-RPC and then never answers (stands for a
command that is not an MCP server).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel

COMPANIES = {
    "acme.com": ("Acme Corporation", 1200, "manufacturing"),
    "globex.com": ("Globex", 5400, "energy"),
    "initech.com": ("Initech", 85, "software"),
}

server = MCPServer("flowyard-test-tools", instructions="Tools for Flowyard's tests.", log_level="ERROR")


class Sum(BaseModel):
    result: float


class Company(BaseModel):
    domain: str
    name: str
    employees: int
    industry: str


class Count(BaseModel):
    count: int


@server.tool(description="Add two numbers.")
def add(a: float, b: float) -> Sum:
    return Sum(result=a + b)


@server.tool(description="Look a company up by its web domain: name, head count, industry.")
def lookup_company(domain: str) -> Company:
    unknown = (domain.split(".", maxsplit=1)[0].capitalize(), 0, "unknown")
    name, employees, industry = COMPANIES.get(domain.lower(), unknown)
    return Company(domain=domain.lower(), name=name, employees=employees, industry=industry)


@server.tool(description="Answer the text given, as plain text.", structured_output=False)
def echo(text: str) -> str:
    return text


@server.tool(description="Answer two texts.", structured_output=False)
def two_texts(first: str, second: str) -> list[str]:
    return [first, second]


@server.tool(description="Sleep for a number of seconds, then answer.", structured_output=False)
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"slept {seconds:g}"


@server.tool(description="Fail with the message given (a tool error).")
def fail(message: str) -> str:
    raise ToolError(message)


@server.tool(description="Exit the server process at once, without answering.")
def crash() -> str:
    os._exit(3)


@server.tool(description="Count this call in the file MCP_COUNT_FILE names; answer how many calls it holds.")
def count() -> Count:
    path = os.environ.get("MCP_COUNT_FILE")
    if not path:
        raise ToolError("MCP_COUNT_FILE is not set")
    with open(path, "a", encoding="utf-8") as file:
        file.write("call\n")
    with open(path, encoding="utf-8") as file:
        return Count(count=sum(1 for _ in file))


@server.tool(description="What the request carried: MCP_SECRET from the environment, or the HTTP headers.")
def whoami(ctx: Context) -> dict[str, Any]:
    request = ctx.request_context.request
    headers = getattr(request, "headers", None)
    seen: dict[str, Any] = {"secret": os.environ.get("MCP_SECRET")}
    if headers is not None:
        seen["headers"] = {k.lower(): v for k, v in headers.items() if k.lower() == "authorization" or
                           k.lower().startswith("x-")}  # fmt: skip
    return seen


def main(argv: list[str]) -> None:
    if "--garbage" in argv:
        print("this is not an MCP server", flush=True)
        while True:  # never answers
            sys.stdin.readline() or sys.exit(0)
    if "--http" in argv:
        port = int(argv[argv.index("--http") + 1])
        server.run(
            "streamable-http",
            host="127.0.0.1",
            port=port,
            stateless_http="--stateful" not in argv,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return
    server.run()


if __name__ == "__main__":
    main(sys.argv[1:])
