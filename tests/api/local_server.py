"""A real HTTP server on 127.0.0.1 for the API tests: the outside world that `http` steps call."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LocalServer"]


class LocalServer:
    """An HTTP server on 127.0.0.1, in a thread, whose paths answer scripted JSON replies and count requests.

    `reply(path, (status, body), ...)` scripts a path: each request takes the next reply, the last one repeats.
    Unscripted paths answer 404. `hits` counts the requests per path, `bodies` keeps what they sent.
    """

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.bodies: dict[str, list[bytes]] = {}
        self._replies: dict[str, list[tuple[int, Any]]] = {}
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-http-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reply(self, path: str, *replies: tuple[int, Any]) -> str:
        """Script `path`'s answers; returns its URL."""
        with self._lock:
            self._replies[path] = list(replies)
        return self.url(path)

    def wait_for(self, path: str, *, timeout: float) -> bool:
        """Block until `path` was requested (call it through `asyncio.to_thread`); False after `timeout`."""
        with self._lock:
            return self._lock.wait_for(lambda: self.hits[path] > 0, timeout)

    def next_reply(self, path: str, body: bytes = b"") -> tuple[int, Any]:
        with self._lock:
            self.hits[path] += 1
            self.bodies.setdefault(path, []).append(body)
            self._lock.notify_all()
            replies = self._replies.get(path)
            if not replies:
                return 404, {"error": f"nothing at {path}"}
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = server.next_reply(self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests assert on `hits`, not on the log."""

    return Handler
