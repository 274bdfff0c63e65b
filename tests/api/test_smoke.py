"""The ordered-steps journey a newcomer tries first."""

from __future__ import annotations

import httpx

from app.root import Flowyard


async def test_three_steps_feed_each_other_and_complete(api: httpx.AsyncClient, flowyard_of: Flowyard) -> None:
    workflow = (await api.post("/api/v1/workflows", json={"name": "Briefing"})).json()
    for action in ("{{ input }} news", "{{ input | upper }}", "Draft: {{ input }}"):
        response = await api.post(
            f"/api/v1/workflows/{workflow['id']}/steps", json={"agentId": "transform", "action": action}
        )
        assert response.status_code == 201
    accepted = await api.post(f"/api/v1/workflows/{workflow['id']}/run", json={"input": "ai"})
    assert accepted.status_code == 202
    await flowyard_of.executor.wait(accepted.json()["runId"], timeout=10)

    run = (await api.get(f"/api/v1/workflows/runs/{accepted.json()['runId']}")).json()

    assert run["status"] == "COMPLETED"
    assert [n["output"] for n in run["nodes"]] == ["ai news", "AI NEWS", "Draft: AI NEWS"]
    assert run["output"] == "Draft: AI NEWS"
    assert run["currentStepOrder"] == 3
