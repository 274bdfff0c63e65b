"""The run store contract for agent loops, held against every store (in memory, SQLite, PostgreSQL): the loop's
entries are kept in order under the run's lease, a finished entry is never overwritten, and deciding an
approval that resumes (a tool call) sends its step back to work instead of ending it."""

from __future__ import annotations

import pytest

from app.engine.exceptions import LeaseLost
from app.engine.model import AgentStep, AgentStepStatus, Approval, NodeStatus, RunStatus
from app.engine.store import RunStore
from tests.storage.contract import ME, OTHER, RUN, at, node, nodes_of, run_of, running_run

S = AgentStepStatus


def entry(seq: int, status: AgentStepStatus, **fields: object) -> AgentStep:
    kind = "turn" if seq == 1 else "tool"
    return AgentStep(RUN, "agent", seq, kind, status, turn=1, started_at=at(seq), **fields)  # type: ignore[arg-type]


async def test_entries_come_back_in_order_with_what_they_hold(store: RunStore) -> None:
    await running_run(store)
    turn = entry(1, S.COMPLETED, text="", usage={"total_tokens": 7}, result={"role": "assistant", "tool_calls": []})
    call = entry(2, S.RUNNING, call_id="c1", tool="lookup", arguments='{"domain": "acme.io"}')

    await store.save_agent_steps(ME, [call, turn], now=at(2))

    got = await store.get_agent_steps(RUN, "agent")
    assert [(s.seq, s.kind, s.status) for s in got] == [(1, "turn", S.COMPLETED), (2, "tool", S.RUNNING)]
    assert got[0].usage == {"total_tokens": 7} and got[0].result == {"role": "assistant", "tool_calls": []}
    assert (got[1].call_id, got[1].tool, got[1].arguments, got[1].started_at) == (
        "c1",
        "lookup",
        '{"domain": "acme.io"}',
        at(2),
    )
    assert await store.get_agent_steps(RUN, "other") == []
    assert len(await store.get_agent_steps(RUN)) == 2


async def test_an_entry_is_replaced_until_it_has_completed(store: RunStore) -> None:
    await running_run(store)
    await store.save_agent_steps(ME, [entry(2, S.RUNNING, tool="lookup")], now=at(2))
    await store.save_agent_steps(ME, [entry(2, S.COMPLETED, tool="lookup", result={"ok": 1})], now=at(3))
    await store.save_agent_steps(ME, [entry(2, S.RUNNING, tool="lookup")], now=at(4))

    (kept,) = await store.get_agent_steps(RUN, "agent")
    assert (kept.status, kept.result) == (S.COMPLETED, {"ok": 1})


async def test_saving_entries_needs_the_lease(store: RunStore) -> None:
    await running_run(store)

    with pytest.raises(LeaseLost):
        await store.save_agent_steps(OTHER, [entry(1, S.RUNNING)], now=at(2))
    assert await store.get_agent_steps(RUN) == []


@pytest.mark.parametrize("approved", [True, False])
async def test_deciding_a_resuming_approval_sends_the_step_back_to_work(store: RunStore, approved: bool) -> None:
    await running_run(store)
    waiting = node("agent", NodeStatus.WAITING_APPROVAL, step_order=1, output={"domain": "acme.io"})
    approval = Approval(
        id="ap-tool",
        run_id=RUN,
        node_key="agent",
        proposal={"domain": "acme.io"},
        created_at=at(3),
        extra={"resume": True, "tool_call": {"seq": 2, "tool": "lookup"}},
    )
    await store.save_waiting_node(ME, waiting, approval, now=at(3))
    await store.finish_run(RUN, ME, status=RunStatus.PAUSED, output=None, error=None, now=at(4))

    decided = await store.decide_approval(
        RUN, "agent", approved=approved, output={"domain": "acme.com"}, decided_by="ana", reason="no", now=at(5)
    )

    assert decided.status == ("APPROVED" if approved else "REJECTED")
    assert decided.extra == {"resume": True, "tool_call": {"seq": 2, "tool": "lookup"}}
    step = (await nodes_of(store))["agent"]
    assert (step.status, step.output, step.error) == (NodeStatus.PENDING, None, None)
    assert (await run_of(store)).status is RunStatus.QUEUED
    (kept,) = await store.get_approvals(RUN)
    assert kept.extra["tool_call"]["seq"] == 2


async def test_a_rerun_drops_the_loops_of_the_steps_that_did_not_complete(store: RunStore) -> None:
    await running_run(store)
    await store.save_node(ME, node("done", NodeStatus.COMPLETED, output=1), now=at(2))
    await store.save_node(ME, node("agent", NodeStatus.FAILED, error="limit"), now=at(3))
    kept = AgentStep(RUN, "done", 1, "turn", S.COMPLETED, turn=1)
    await store.save_agent_steps(ME, [kept, entry(1, S.COMPLETED)], now=at(3))
    await store.finish_run(RUN, ME, status=RunStatus.FAILED, output=None, error="limit", now=at(4))

    await store.reset_for_rerun(RUN, now=at(5))

    assert [(s.node_key, s.seq) for s in await store.get_agent_steps(RUN)] == [("done", 1)]
