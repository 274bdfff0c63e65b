"""A real OpenAI-compatible chat server on 127.0.0.1 for tests, in a thread (stdlib only).

It speaks ``POST /v1/chat/completions`` as OpenAI, Ollama or vLLM do: a JSON chat completion, or
with ``"stream": true`` server-sent events of ``chat.completion.chunk`` deltas ending in
``data: [DONE]``, with a last usage chunk when ``stream_options.include_usage`` asks for it.

Each request takes the next scripted `Reply` (`script(...)`; the last one repeats); unscripted, it
answers "echo: <the last user message>". A reply can also fail: any status with a body and headers
(401, 429 with Retry-After, 500), `hang` (never answer until the server stops), `malformed` (a 200
whose body is not JSON) or `truncated` (a body, or a stream, cut off mid-way). Every request's JSON
body and headers are kept in `requests`.

A reply may also call tools, as OpenAI's API does: `tool_calls` (several at once are parallel calls) in the
message, or streamed as `tool_calls` deltas (id and name first, the arguments' JSON in pieces), ending with
finish_reason "tool_calls". `ChatServer.respond` may instead decide each reply from the request (the tool
results the agent sent back, say).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["ChatRequest", "ChatServer", "Reply", "ToolCall"]


@dataclass
class ToolCall:
    """One tool call in a reply: arguments as a dict (sent as JSON) or as raw text (to send garbage)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str = ""

    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Reply:
    """What the server answers to one request."""

    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    """For a status >= 400: the OpenAI-style error message."""
    hang: bool = False
    malformed: bool = False
    truncated: bool = False
    usage: bool = True
    """False: the answer reports no token usage (as some local servers do)."""
    pace: float = 0.0
    """Seconds between streamed pieces (a model that takes its time, for watching a stream)."""
    tool_calls: list[ToolCall] = field(default_factory=list)
    """Tools the model calls in this reply (with `text` as the message's content, usually empty)."""

    def tool_call_dicts(self) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id or f"call_{number}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_text()},
            }
            for number, call in enumerate(self.tool_calls, start=1)
        ]


@dataclass
class ChatRequest:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.body.get("messages", [])
        return messages

    @property
    def tools(self) -> list[str]:
        """The names of the tools the request offers the model."""
        return [t["function"]["name"] for t in self.body.get("tools") or []]

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool messages of the conversation so far, in order."""
        return [m for m in self.messages if m.get("role") == "tool"]


def count_tokens(text: str) -> int:
    """The server's token count: one per word (deterministic, easy to assert on)."""
    return len(text.split())


def pieces(text: str) -> list[str]:
    """How a streamed answer is cut into deltas: word by word, keeping the spaces."""
    words = text.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


class ChatServer:
    """Use as a context manager; `url` is the base URL an llm step's `base_url` takes (ends in /v1)."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self._replies: list[Reply] = []
        self.respond: Callable[[ChatRequest], Reply | str] | None = None
        """When set, decides every reply from its request (scripted replies are ignored)."""
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="chat-server", daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply | str) -> None:
        """The next requests' answers, in order (a str is a plain answer); the last one repeats."""
        with self._lock:
            self._replies = [Reply(text=r) if isinstance(r, str) else r for r in replies]

    def _next(self, request: ChatRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.respond is not None:
                reply = self.respond(request)
                return Reply(text=reply) if isinstance(reply, str) else reply
            if self._replies:
                return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]
        last = next((m["content"] for m in reversed(request.messages) if m.get("role") == "user"), "")
        return Reply(text=f"echo: {last}")

    def start(self) -> ChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.stop()


def _usage(request: ChatRequest, reply: Reply) -> dict[str, int]:
    prompt = sum(count_tokens(str(m.get("content") or "")) for m in request.messages)
    completion = count_tokens(reply.text) + sum(count_tokens(c.arguments_text()) for c in reply.tool_calls)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _handler_for(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "the body is not JSON"}})
                return
            request = ChatRequest(body, {k.lower(): v for k, v in self.headers.items()})
            if self.path != "/v1/chat/completions":
                server.requests.append(request)
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = server._next(request)
            if reply.hang:
                server._closing.wait()
                self.close_connection = True
                return
            if reply.status >= 400:
                self._send(reply.status, {"error": {"message": reply.error or "failed"}}, reply.headers)
                return
            if reply.malformed:
                self._send_bytes(200, b'{"id": "chatcmpl-1", "choices": [{"message": ', "application/json")
                return
            if body.get("stream"):
                self._stream(request, reply)
            else:
                self._complete(request, reply)

        def _complete(self, request: ChatRequest, reply: Reply) -> None:
            answer: dict[str, Any] = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": request.body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.text or None}
                        if reply.tool_calls
                        else {"role": "assistant", "content": reply.text},
                        "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                    }
                ],
            }
            if reply.tool_calls:
                answer["choices"][0]["message"]["tool_calls"] = reply.tool_call_dicts()
            if reply.usage:
                answer["usage"] = _usage(request, reply)
            data = json.dumps(answer).encode()
            if reply.truncated:
                # Promise the whole body, send half of it and hang up: the client sees a cut-off answer.
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send_bytes(200, data, "application/json")

        def _stream(self, request: ChatRequest, reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes

            def event(payload: dict[str, Any] | str) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                self.wfile.write(f"data: {text}\n\n".encode())
                self.wfile.flush()

            def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                return {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }

            parts = pieces(reply.text) if reply.text or not reply.tool_calls else []
            event(chunk({"role": "assistant", "content": ""}))
            for number, part in enumerate(parts):
                if reply.truncated and number >= max(1, len(parts) // 2):
                    self.close_connection = True
                    return
                event(chunk({"content": part}))
                if reply.pace:
                    time.sleep(reply.pace)
            for index, call in enumerate(reply.tool_call_dicts()):
                head = {"index": index, "id": call["id"], "type": "function"}
                event(
                    chunk({"tool_calls": [{**head, "function": {"name": call["function"]["name"], "arguments": ""}}]})
                )
                text = call["function"]["arguments"]
                for start in range(0, len(text), 7):  # the arguments' JSON in pieces, as OpenAI streams it
                    event(chunk({"tool_calls": [{"index": index, "function": {"arguments": text[start : start + 7]}}]}))
                    if reply.pace:
                        time.sleep(reply.pace)
            event(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
            if reply.usage and (request.body.get("stream_options") or {}).get("include_usage"):
                event(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "choices": [],
                        "usage": _usage(request, reply),
                    }
                )
            event("[DONE]")
            self.close_connection = True

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

        def _send_bytes(
            self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests assert on what was received."""

    return Handler
