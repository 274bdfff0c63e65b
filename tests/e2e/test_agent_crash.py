"""An agent step's process killed with kill -9 mid-loop: after a restart the loop goes on from its journal, and no
tool call that had finished is made again (the one in flight is made again)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import flowyard_server, free_port, http
from tests.e2e.test_crash_recovery import _wait_for
from tests.llm_server import ChatRequest, ChatServer, Reply, ToolCall
from tests.servers import HANG, LocalServer

pytestmark = pytest.mark.slow


def _model(request: ChatRequest) -> Reply | str:
    done = len(request.tool_results())
    if done == 0:
        return Reply(tool_calls=[ToolCall("check_a", {"n": 1}, id="a1")])
    if done == 1:
        return Reply(tool_calls=[ToolCall("check_b", {"n": 2}, id="b1")])
    return "Both checked."


def test_agent_loop_killed_mid_tool_call_resumes_without_repeating_finished_calls(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    with LocalServer() as hook, ChatServer() as chat:
        chat.respond = _model
        hook.reply("/b", HANG, (200, {"checked": "b"}))
        with flowyard_server(data_dir, port) as first:
            for name, path in (("check_a", "/a"), ("check_b", "/b")):
                agent = {"id": name, "name": name, "kind": "http", "config": {"url": hook.url + path}}
                assert http.post(f"{base}/agents", json=agent).status_code == 201
            tools = [{"type": "agent", "agent_id": "check_a"}, {"type": "agent", "agent_id": "check_b"}]
            config = {"base_url": chat.url, "model": "tiny", "stream": False, "tools": tools}
            assert (
                http.post(
                    f"{base}/agents", json={"id": "checker", "name": "Checker", "kind": "agent", "config": config}
                ).status_code
                == 201
            )
            workflow = http.post(f"{base}/workflows", json={"name": "Agent crash"}).json()
            step = {"agentId": "checker", "action": "Check both"}
            assert http.post(f"{base}/workflows/{workflow['id']}/steps", json=step).status_code == 201
            run_id = http.post(f"{base}/workflows/{workflow['id']}/run", json={"input": {"lead": 1}}).json()["runId"]

            assert hook.wait_for("/b", timeout=20)  # the second tool call is in flight
            first.send_signal(signal.SIGKILL)
            first.wait(10)

        assert len(hook.calls_to("/a")) == 1
        with flowyard_server(data_dir, port):

            def finished() -> dict[str, Any] | None:
                run: dict[str, Any] = http.get(f"{base}/workflows/runs/{run_id}").json()
                return run if run["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

            run = _wait_for(finished, timeout=40, what="the run to finish after the restart")

        assert run["status"] == "COMPLETED", run.get("error")
        assert run["output"] == "Both checked."
        assert len(hook.calls_to("/a")) == 1  # finished before the kill: never made again
        assert len(hook.calls_to("/b")) == 2  # in flight at the kill: made again
        assert len(chat.requests) == 3  # no model turn that had answered was asked again
        (step_run,) = run["nodes"]
        loop = step_run["loop"]
        assert [(e["kind"], e["tool"], e["status"]) for e in loop] == [
            ("turn", None, "COMPLETED"),
            ("tool", "check_a", "COMPLETED"),
            ("turn", None, "COMPLETED"),
            ("tool", "check_b", "COMPLETED"),
            ("turn", None, "COMPLETED"),
        ]
