"""Real MCP servers for the tests (see `tools_server.py` for its tools), and how a test starts one.

- `STDIO_COMMAND`, `STDIO_ARGS`: what an MCP server added "by command" runs
  (`python tests/mcp_servers/tools_server.py`).
- `HttpMcpServer`: the same server over Streamable HTTP on 127.0.0.1, in a subprocess (`.url` ends in `/mcp`);
  a context manager that waits until it answers; `start()` again after its `crash` tool ended it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

__all__ = ["GARBAGE_ARGS", "STDIO_ARGS", "STDIO_COMMAND", "TOOLS_SERVER", "HttpMcpServer", "free_port"]

TOOLS_SERVER = Path(__file__).with_name("tools_server.py")
STDIO_COMMAND = sys.executable
STDIO_ARGS = [str(TOOLS_SERVER)]
GARBAGE_ARGS = [str(TOOLS_SERVER), "--garbage"]
"""A command that prints a line that is not MCP, then never answers."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HttpMcpServer:
    """`tools_server.py --http PORT` in a subprocess: a Streamable HTTP MCP server at `url`."""

    def __init__(self, env: dict[str, str] | None = None, *, stateful: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._env = env
        self._stateful = stateful
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Start the server (again, after it stopped or crashed: on the same port) and wait until it listens."""
        self.stop()
        self._process = subprocess.Popen(
            [STDIO_COMMAND, str(TOOLS_SERVER), "--http", str(self.port), *(["--stateful"] if self._stateful else [])],
            env=self._env,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the MCP test server exited with {self._process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the MCP test server did not listen on {self.port} within {timeout} s")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> HttpMcpServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
