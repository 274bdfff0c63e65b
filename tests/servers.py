"""A real HTTP server on 127.0.0.1 for tests: it stands in for the outside world, speaking plain HTTP.

`http` steps call it, callbacks are delivered to it. Each path answers its scripted replies in turn
(`reply`), else the next reply of the shared `script`, else 200 echoing the JSON it was sent. A reply
is a (status, JSON body) pair, or `DROP` (close the connection without answering) or `HANG` (never
answer, until the server stops). Every request is kept in `requests`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

__all__ = ["DROP", "HANG", "LocalServer", "Raw", "Recorded", "Reply"]

DROP: Final = "drop"
HANG: Final = "hang"


@dataclass
class Raw:
    """A reply spelled out: any body bytes and headers; `length` declares a Content-Length other than the body's
    (a longer one makes a truncated response)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None
    length: int | None = None


Reply = tuple[int, Any] | str | Raw


@dataclass
class Recorded:
    """One request as the server received it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LocalServer:
    """An HTTP server on 127.0.0.1 (or another loopback `host`) in a thread. Use it as a context manager, or
    `start()` and `stop()`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[Recorded] = []
        self.script: list[Reply] = []
        self._replies: dict[str, list[Reply]] = {}
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-http-server", daemon=True
        )
        self.url = f"http://{host}:{self._server.server_address[1]}"

    # --- scripting ----------------------------------------------------------------------------------------

    def reply(self, path: str, *replies: Reply) -> str:
        """Script `path`: each request takes the next reply, the last one repeats. Returns the path's URL."""
        with self._changed:
            self._replies[path] = list(replies)
        return self.url + path

    def answer(self, request: Recorded) -> Reply:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            replies = self._replies.get(request.path)
            if replies:
                return replies.pop(0) if len(replies) > 1 else replies[0]
            if self.script:
                return self.script.pop(0)
        try:
            echoed = request.json() if request.body else None
        except ValueError:
            echoed = request.body.decode(errors="replace")
        return 200, {"path": request.path, "echo": echoed}

    # --- what it received -------------------------------------------------------------------------------------

    def calls_to(self, path: str) -> list[Recorded]:
        with self._changed:
            return [r for r in self.requests if r.path == path]

    @property
    def hits(self) -> Counter[str]:
        """Requests per path."""
        with self._changed:
            return Counter(r.path for r in self.requests)

    @property
    def bodies(self) -> dict[str, list[bytes]]:
        """The bodies sent to each path, in order."""
        with self._changed:
            sent: dict[str, list[bytes]] = {}
            for request in self.requests:
                sent.setdefault(request.path, []).append(request.body)
            return sent

    def wait_for(self, path: str, *, count: int = 1, timeout: float) -> bool:
        """Block until `path` got `count` requests (from async code: `asyncio.to_thread`); False after `timeout`."""
        with self._changed:
            return self._changed.wait_for(lambda: sum(r.path == path for r in self.requests) >= count, timeout)

    # --- running ------------------------------------------------------------------------------------------

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.stop()


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.answer(Recorded(self.command, self.path, headers, body))
            if reply == HANG:
                server._closing.wait()
                reply = DROP
            if reply == DROP or isinstance(reply, str):
                self.close_connection = True
                return
            if isinstance(reply, Raw):
                self.send_response(reply.status)
                for name, value in (reply.headers or {"Content-Type": "application/json"}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body) if reply.length is None else reply.length))
                self.end_headers()
                self.wfile.write(reply.body)
                self.close_connection = True
                return
            status, payload = reply
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests assert on what was received, not on the log."""

    return Handler
