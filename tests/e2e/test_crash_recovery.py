"""A run killed with kill -9 mid-way completes after a restart, and no completed step runs twice."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import flowyard_server, free_port, http
from tests.servers import LocalServer

pytestmark = pytest.mark.slow


def _wait_for(predicate: Any, *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_run_killed_mid_way_completes_after_restart_without_repeating_steps(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    with LocalServer() as hook:
        with flowyard_server(data_dir, port) as first:
            workflow = http.post(f"{base}/workflows", json={"name": "Crash test"}).json()
            steps = [
                {"agentId": "http", "action": f"POST {hook.url}/first"},
                {"agentId": "delay", "action": "", "config": {"seconds": 2}},
                {"agentId": "http", "action": f"POST {hook.url}/last"},
            ]
            for step in steps:
                assert http.post(f"{base}/workflows/{workflow['id']}/steps", json=step).status_code == 201
            run_id = http.post(f"{base}/workflows/{workflow['id']}/run", json={"input": {"lead": 1}}).json()["runId"]

            def delay_is_running() -> bool:
                nodes = http.get(f"{base}/workflows/runs/{run_id}").json()["nodes"]
                return any(n["key"] == "step_2" and n["status"] == "RUNNING" for n in nodes)

            _wait_for(delay_is_running, timeout=10, what="the delay step to start")
            first.send_signal(signal.SIGKILL)
            first.wait(10)

        assert len(hook.calls_to("/first")) == 1
        assert hook.calls_to("/last") == []

        with flowyard_server(data_dir, port):

            def finished() -> dict[str, Any] | None:
                run: dict[str, Any] = http.get(f"{base}/workflows/runs/{run_id}").json()
                return run if run["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

            run = _wait_for(finished, timeout=30, what="the run to finish after the restart")

    nodes = {n["key"]: n for n in run["nodes"]}
    assert run["status"] == "COMPLETED"
    assert len(hook.calls_to("/first")) == 1
    assert len(hook.calls_to("/last")) == 1
    assert nodes["step_1"]["attempt"] == 1
    assert nodes["step_2"]["attempt"] == 2
    assert [n["status"] for n in run["nodes"]] == ["COMPLETED", "COMPLETED", "COMPLETED"]
