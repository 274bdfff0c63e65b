"""`flowyard bench --agent`: what Flowyard's durable agent loop costs per model turn and per tool call.

A local OpenAI-compatible model on 127.0.0.1 (in a thread, stdlib only) answers each turn with `calls` tool
calls until `iterations` turns are done, then with a text answer. The same loop runs twice:

- the floor: plain Python — httpx posts the conversation, runs each tool (a function that returns its
  arguments) and appends the results, nothing stored;
- Flowyard: an `agent` step of a one-step workflow in a whole Flowyard on a temporary SQLite database, its
  tool a saved `transform` agent; every turn and tool call stored before the next one starts.

Both are timed with 3 and with 1 tool call per turn, so the per-call and per-turn overheads come apart:
overhead(3 calls) - overhead(1 call) is 20 tool calls' worth, and what is left of overhead(1 call) is the
turns'. Prints the figures and the ratios to the floor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from app.engine.model import NodeSpec, RunStatus, Trigger, WorkflowDefinition
from app.root import Flowyard
from app.settings import Settings

__all__ = ["run_agent_benchmark"]


class _Model:
    """A model that calls the `echo` tool `calls` times a turn for `iterations` turns, then answers."""

    def __init__(self, iterations: int, calls: int) -> None:
        self.iterations, self.calls = iterations, calls
        handler = _handler(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        turn = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant") + 1
        message: dict[str, Any] = {"role": "assistant", "content": f"done after {turn - 1} turns"}
        if turn <= self.iterations:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"c{turn}_{n}",
                        "type": "function",
                        "function": {"name": "echo", "arguments": json.dumps({"turn": turn, "n": n})},
                    }
                    for n in range(self.calls)
                ],
            }
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        return {"id": "b", "object": "chat.completion", "choices": [{"index": 0, "message": message}], "usage": usage}

    def __enter__(self) -> _Model:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(model: _Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            data = json.dumps(model.reply(body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


async def _floor(url: str) -> float:
    """The loop in plain Python: post, run the tools, append the results, until the model answers."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    tools = [{"type": "function", "function": {"name": "echo", "parameters": {"type": "object"}}}]
    async with httpx.AsyncClient() as http:
        start = time.perf_counter()
        while True:
            response = await http.post(
                f"{url}/chat/completions", json={"model": "m", "messages": messages, "tools": tools}
            )
            message = response.json()["choices"][0]["message"]
            messages.append(message)
            if not message.get("tool_calls"):
                return time.perf_counter() - start
            for call in message["tool_calls"]:
                result = json.loads(call["function"]["arguments"])
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})


async def _flowyard(flowyard: Flowyard, url: str, name: str) -> float:
    echo = await flowyard.agents.create(id=None, name="echo", kind="transform", description="Returns its input.")
    config = {"base_url": url, "model": "m", "stream": False, "tools": [{"type": "agent", "agent_id": echo.id}]}
    config |= {"max_iterations": 50, "max_tool_calls": 1000}
    agent = await flowyard.agents.create(id=None, name=name, kind="agent", config=config)
    definition = WorkflowDefinition(nodes=[NodeSpec(key="a", agent_id=agent.id, action="go")])
    workflow = await flowyard.workflows.create(name=name, definition=definition)
    start = time.perf_counter()
    run = await flowyard.runs.start(workflow.id, input=None, trigger=Trigger.API)
    ended = await flowyard.executor.wait(run.id, timeout=120)
    seconds = time.perf_counter() - start
    if ended is None or ended.status is not RunStatus.COMPLETED:
        raise RuntimeError(f"the benchmark's agent run did not complete: {ended and ended.error}")
    return seconds


async def run_agent_benchmark(*, iterations: int = 10, repeats: int = 5) -> dict[str, Any]:
    figures: dict[int, dict[str, float]] = {}
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="flowyard-bench-agent-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", allow_private_networks="127.0.0.1/32")
        flowyard = Flowyard.open(settings)
        await flowyard.start()
        try:
            for calls in (3, 1):
                with _Model(iterations, calls) as model:
                    await _floor(model.url)  # warm both up once
                    await _flowyard(flowyard, model.url, f"warm {calls}")
                    floor = [await _floor(model.url) for _ in range(repeats)]
                    ours = [await _flowyard(flowyard, model.url, f"bench {calls}-{n}") for n in range(repeats)]
                figures[calls] = {"floor": min(floor), "flowyard": min(ours)}
        finally:
            await flowyard.close()

    over = {calls: f["flowyard"] - f["floor"] for calls, f in figures.items()}
    per_call = max(0.0, (over[3] - over[1]) / (iterations * 2))
    per_turn = max(0.0, (over[1] - iterations * per_call) / (iterations + 1))
    floor_turn = figures[1]["floor"] / (iterations + 1)
    results: dict[str, Any] = {
        "iterations": iterations,
        "repeats": repeats,
        "floor_seconds": {str(c): round(f["floor"], 4) for c, f in figures.items()},
        "flowyard_seconds": {str(c): round(f["flowyard"], 4) for c, f in figures.items()},
        "overhead_per_turn_ms": round(per_turn * 1000, 2),
        "overhead_per_tool_call_ms": round(per_call * 1000, 2),
        "ratio_3_calls": round(figures[3]["flowyard"] / figures[3]["floor"], 2),
        "floor_per_turn_ms": round(floor_turn * 1000, 2),
    }
    three, one = figures[3], figures[1]
    results["text"] = "\n".join(
        [
            "Flowyard agent-loop benchmark (one process, temporary SQLite, a local model on 127.0.0.1)",
            f"  {iterations} iterations x 3 tool calls, then an answer (best of {repeats})",
            f"  floor: plain Python calling the same model      {three['floor'] * 1000:9.1f} ms",
            f"  Flowyard agent step, every entry stored         {three['flowyard'] * 1000:9.1f} ms"
            f"   ({results['ratio_3_calls']:.2f}x the floor)",
            f"  same with 1 tool call per iteration: floor {one['floor'] * 1000:.1f} ms, Flowyard "
            f"{one['flowyard'] * 1000:.1f} ms",
            f"  Flowyard's overhead per model turn   {per_turn * 1000:7.2f} ms   "
            f"(a turn of the local model takes {floor_turn * 1000:.2f} ms)",
            f"  Flowyard's overhead per tool call    {per_call * 1000:7.2f} ms",
        ]
    )
    return results


if __name__ == "__main__":  # pragma: no cover
    print(asyncio.run(run_agent_benchmark())["text"])
