"""Run semantics, as DESIGN.md states them, driven through the real executor."""

from __future__ import annotations

import asyncio

from app.engine.events import Event
from app.engine.executor import Executor
from app.engine.memory import InMemoryRunStore
from app.engine.model import EdgeSpec, NodeSpec, NodeStatus, RunStatus, WorkflowDefinition
from tests.servers import LocalServer
from tests.unit.conftest import Starter, chain


async def _finish(executor: Executor, run_id: str):  # type: ignore[no-untyped-def]
    run = await executor.wait(run_id, timeout=10)
    assert run is not None
    return run


async def _nodes(store: InMemoryRunStore, run_id: str) -> dict[str, object]:
    return {n.node_key: n for n in await store.get_node_runs(run_id)}


async def test_chain_feeds_each_output_to_the_next_step(executor: Executor, start: Starter) -> None:
    run_id = await start(chain(("transform", "{{ input }} news"), ("transform", "{{ input | upper }}")), "ai")

    run = await _finish(executor, run_id)

    assert run.status is RunStatus.COMPLETED
    assert run.output == "AI NEWS"
    assert run.current_step_order == 2


async def test_template_keeps_native_types(executor: Executor, start: Starter) -> None:
    run_id = await start(
        chain(("transform", "{{ input.items | length }}"), ("transform", "{{ input * 2 }}")), {"items": [1, 2, 3]}
    )

    run = await _finish(executor, run_id)

    assert run.output == 6


async def test_mapping_reaches_payload_and_upstream_outputs(executor: Executor, start: Starter) -> None:
    last = NodeSpec(
        key="s3",
        agent_id="transform",
        action="{{ input.first }}-{{ input.who }}",
        input_mapping={"first": "{{ nodes.s1.output }}", "who": "{{ payload.name }}"},
        step_order=3,
    )
    definition = chain(("transform", "{{ payload.name | upper }}"), ("transform", "ignored"), last)

    run = await _finish(executor, await start(definition, {"name": "ada"}))

    assert run.output == "ADA-ada"


async def test_mapping_error_fails_the_node_naming_template_and_reason(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    run_id = await start(chain(("transform", "ok"), ("transform", "{{ input.missing.deeper }}")), "x")

    run = await _finish(executor, run_id)
    nodes = await _nodes(store, run_id)

    assert run.status is RunStatus.FAILED
    assert nodes["s2"].status is NodeStatus.FAILED  # type: ignore[attr-defined]
    assert "{{ input.missing.deeper }}" in nodes["s2"].error  # type: ignore[attr-defined]
    assert "missing" in nodes["s2"].error  # type: ignore[attr-defined]
    assert "s2" in (run.error or "")


async def test_sandbox_refuses_attribute_tricks(executor: Executor, store: InMemoryRunStore, start: Starter) -> None:
    run_id = await start(chain(("transform", "{{ input.__class__.__mro__ }}")), "x")

    run = await _finish(executor, run_id)

    assert run.status is RunStatus.FAILED
    assert "__class__" in (run.error or "") or "not allowed" in (run.error or "") or "unsafe" in (run.error or "")


async def test_fan_out_nodes_run_concurrently_and_join_gets_a_dict(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    nodes = [NodeSpec(key="start", agent_id="transform", action="{{ input }}")]
    nodes += [NodeSpec(key=f"w{i}", agent_id="delay", config={"seconds": 0.2}) for i in range(3)]
    nodes.append(NodeSpec(key="join", agent_id="transform", action="{{ input | length }}"))
    edges = [EdgeSpec(source="start", target=f"w{i}") for i in range(3)]
    edges += [EdgeSpec(source=f"w{i}", target="join") for i in range(3)]
    run_id = await start(WorkflowDefinition(nodes=nodes, edges=edges), 7)

    run = await _finish(executor, run_id)
    records = await _nodes(store, run_id)
    workers = [records[f"w{i}"] for i in range(3)]

    assert run.output == 3
    assert max(w.started_at for w in workers) < min(w.finished_at for w in workers)  # type: ignore[attr-defined]
    assert records["join"].input == {"w0": 7, "w1": 7, "w2": 7}  # type: ignore[attr-defined]


async def test_branch_fires_one_outcome_and_skips_the_other(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    definition = WorkflowDefinition(
        nodes=[
            NodeSpec(
                key="check",
                agent_id="branch",
                config={"outcomes": [{"handle": "big", "when": "{{ input > 10 }}"}], "default": "small"},
            ),
            NodeSpec(key="big", agent_id="transform", action="big {{ input }}"),
            NodeSpec(key="small", agent_id="transform", action="small {{ input }}"),
            NodeSpec(key="after_small", agent_id="transform", action="{{ input }}!"),
        ],
        edges=[
            EdgeSpec(source="check", target="big", source_handle="big"),
            EdgeSpec(source="check", target="small", source_handle="small"),
            EdgeSpec(source="small", target="after_small"),
        ],
    )

    run_id = await start(definition, 42)
    run = await _finish(executor, run_id)
    records = await _nodes(store, run_id)

    assert run.status is RunStatus.COMPLETED
    assert run.output == "big 42"
    assert records["small"].status is NodeStatus.SKIPPED  # type: ignore[attr-defined]
    assert records["after_small"].status is NodeStatus.SKIPPED  # type: ignore[attr-defined]


async def test_join_runs_when_one_branch_was_skipped(executor: Executor, start: Starter) -> None:
    definition = WorkflowDefinition(
        nodes=[
            NodeSpec(key="a", agent_id="transform", action="{{ input }}"),
            NodeSpec(key="b", agent_id="transform", action="b"),
            NodeSpec(key="c", agent_id="transform", action="c"),
            NodeSpec(key="join", agent_id="transform", action="{{ input | list | sort | join(',') }}"),
        ],
        edges=[
            EdgeSpec(source="a", target="b", condition="{{ input == 'yes' }}"),
            EdgeSpec(source="a", target="c"),
            EdgeSpec(source="b", target="join"),
            EdgeSpec(source="c", target="join"),
        ],
    )

    run = await _finish(executor, await start(definition, "no"))

    assert run.status is RunStatus.COMPLETED
    assert run.output == "c"


async def test_failing_call_is_retried_then_succeeds(
    executor: Executor, store: InMemoryRunStore, server: LocalServer, start: Starter
) -> None:
    server.script = [(500, {"error": "busy"}), (503, {"error": "busy"})]
    step = NodeSpec(
        key="call",
        agent_id="http",
        action=f"POST {server.url}/hook",
        retries=2,
        retry_backoff_seconds=0.01,
        step_order=1,
    )
    run_id = await start(WorkflowDefinition(nodes=[step]), {"n": 1})

    run = await _finish(executor, run_id)
    records = await _nodes(store, run_id)

    assert run.status is RunStatus.COMPLETED
    assert records["call"].attempt == 3  # type: ignore[attr-defined]
    assert len(server.calls_to("/hook")) == 3
    assert {r.headers["idempotency-key"] for r in server.calls_to("/hook")} == {f"{run_id}:call"}


async def test_client_error_is_not_retried(executor: Executor, server: LocalServer, start: Starter) -> None:
    server.script = [(400, {"error": "bad"})]
    step = NodeSpec(key="call", agent_id="http", action=f"POST {server.url}/x", retries=3, retry_backoff_seconds=0.01)

    run = await _finish(executor, await start(WorkflowDefinition(nodes=[step]), {}))

    assert run.status is RunStatus.FAILED
    assert "answered 400" in (run.error or "")
    assert len(server.requests) == 1


async def test_node_past_its_timeout_fails(executor: Executor, start: Starter) -> None:
    step = NodeSpec(key="slow", agent_id="delay", config={"seconds": 5}, timeout_seconds=0.05)

    run = await _finish(executor, await start(WorkflowDefinition(nodes=[step]), None))

    assert run.status is RunStatus.FAILED
    assert "timed out after 0.05 s" in (run.error or "")


async def test_cancel_stops_in_flight_nodes(executor: Executor, store: InMemoryRunStore, start: Starter) -> None:
    run_id = await start(chain(("transform", "go"), ("delay", "30"), ("transform", "never")), None)
    for _ in range(100):
        if any(n.node_key == "s2" for n in await store.get_node_runs(run_id)):
            break
        await asyncio.sleep(0.01)

    run = await executor.cancel(run_id)
    records = await _nodes(store, run_id)

    assert run.status is RunStatus.CANCELLED
    assert records["s1"].status is NodeStatus.COMPLETED  # type: ignore[attr-defined]
    assert records["s2"].status is NodeStatus.CANCELLED  # type: ignore[attr-defined]
    assert "s3" not in records


async def test_approval_pauses_and_resume_injects_the_output(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    run_id = await start(
        chain(("transform", "draft {{ input }}"), ("approval", ""), ("transform", "sent: {{ input }}")), "x"
    )
    paused = await _finish(executor, run_id)
    waiting = (await _nodes(store, run_id))["s2"]
    [approval] = await store.get_approvals(run_id)

    await executor.decide(run_id, output="edited draft", decided_by="ana")
    done = await _finish(executor, run_id)

    assert paused.status is RunStatus.PAUSED
    assert waiting.status is NodeStatus.WAITING_APPROVAL  # type: ignore[attr-defined]
    assert approval.proposal == "draft x"
    assert done.status is RunStatus.COMPLETED
    assert done.output == "sent: edited draft"


async def test_resume_does_not_run_earlier_steps_again(executor: Executor, server: LocalServer, start: Starter) -> None:
    definition = chain(("http", f"POST {server.url}/first"), ("approval", ""), ("http", f"POST {server.url}/last"))
    run_id = await start(definition, {"a": 1})
    await _finish(executor, run_id)

    await executor.decide(run_id, output={"approved": True})
    run = await _finish(executor, run_id)

    assert run.status is RunStatus.COMPLETED
    assert len(server.calls_to("/first")) == 1
    assert server.calls_to("/last")[0].json() == {"approved": True}


async def test_needs_approval_flag_pauses_with_the_agents_output(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    step = NodeSpec(key="s1", agent_id="transform", action="{{ input }} reviewed", needs_approval=True, step_order=1)
    run_id = await start(WorkflowDefinition(nodes=[step]), "text")

    paused = await _finish(executor, run_id)
    [approval] = await store.get_approvals(run_id)

    assert paused.status is RunStatus.PAUSED
    assert approval.proposal == "text reviewed"


async def test_reject_fails_the_run_with_the_reason(executor: Executor, start: Starter) -> None:
    run_id = await start(chain(("approval", ""), ("transform", "never")), "x")
    await _finish(executor, run_id)

    await executor.decide(run_id, approved=False, reason="tone is off")
    run = await _finish(executor, run_id)

    assert run.status is RunStatus.FAILED
    assert "rejected: tone is off" in (run.error or "")


async def test_rerun_from_failed_keeps_completed_steps(
    executor: Executor, store: InMemoryRunStore, server: LocalServer, start: Starter
) -> None:
    server.script = [(200, {"ok": 1}), (500, {"error": "down"})]
    definition = chain(("http", f"POST {server.url}/first"), ("http", f"POST {server.url}/second"))
    run_id = await start(definition, {})
    failed = await _finish(executor, run_id)
    first_before = (await _nodes(store, run_id))["s1"]

    await executor.rerun_failed(run_id)
    run = await _finish(executor, run_id)
    first_after = (await _nodes(store, run_id))["s1"]

    assert failed.status is RunStatus.FAILED
    assert run.status is RunStatus.COMPLETED
    assert len(server.calls_to("/first")) == 1
    assert len(server.calls_to("/second")) == 2
    assert (
        first_after.output
        == first_before.output
        == {"status": 200, "headers": first_after.output["headers"], "body": {"ok": 1}}
    )  # type: ignore[attr-defined]


async def test_events_report_every_status_change_in_order(executor: Executor, start: Starter) -> None:
    seen: list[Event] = []
    async with executor.bus.subscribe() as events:

        async def collect() -> None:
            async for event in events:
                seen.append(event)
                if event.node_key is None and event.status == "COMPLETED":
                    return

        collector = asyncio.create_task(collect())
        await start(chain(("transform", "a"), ("transform", "b")), None)
        await asyncio.wait_for(collector, 5)

    assert [(e.node_key, e.status) for e in seen] == [
        (None, "RUNNING"),
        ("s1", "RUNNING"),
        ("s1", "COMPLETED"),
        ("s2", "RUNNING"),
        ("s2", "COMPLETED"),
        (None, "COMPLETED"),
    ]


async def test_resume_arriving_while_the_pausing_driver_winds_down_is_not_lost(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    original = store.finish_run

    async def finish_then_approve_at_once(run_id: str, owner: str, **kwargs: object) -> None:
        await original(run_id, owner, **kwargs)  # type: ignore[arg-type]
        if kwargs["status"] is RunStatus.PAUSED:
            await executor.decide(run_id, output="fast")  # the pausing driver has not returned yet

    store.finish_run = finish_then_approve_at_once  # type: ignore[method-assign]
    run_id = await start(chain(("approval", ""), ("transform", "got {{ input }}")), "x")

    run = await _finish(executor, run_id)

    assert run.status is RunStatus.COMPLETED
    assert run.output == "got fast"


# --- steps turned off, and runs up to one step ------------------------------------------------------------------


async def test_a_turned_off_step_passes_its_input_on_without_its_work_or_approval(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    off = NodeSpec(
        key="s2",
        agent_id="transform",
        action="{{ input.missing.deeper }}",  # would fail if it ran
        input_mapping="{{ input.missing.deeper }}",  # would fail if rendered
        needs_approval=True,  # would pause if it ran
        step_order=2,
        disabled=True,
    )
    definition = chain(("transform", "{{ input }}!"), off, ("transform", "{{ input | upper }}"))

    run_id = await start(definition, "hi")
    run = await _finish(executor, run_id)
    records = await _nodes(store, run_id)

    assert run.status is RunStatus.COMPLETED
    assert run.output == "HI!"
    assert records["s2"].status is NodeStatus.COMPLETED  # type: ignore[attr-defined]
    assert records["s2"].output == "hi!"  # type: ignore[attr-defined]


async def test_a_turned_off_last_step_gives_the_run_its_input(executor: Executor, start: Starter) -> None:
    definition = chain(("transform", "{{ input }}!"), NodeSpec(key="s2", agent_id="delay", step_order=2, disabled=True))

    run = await _finish(executor, await start(definition, "hi"))

    assert (run.status, run.output) == (RunStatus.COMPLETED, "hi!")


async def test_run_up_to_a_step_runs_only_what_it_depends_on(
    executor: Executor, store: InMemoryRunStore, start: Starter
) -> None:
    definition = WorkflowDefinition(
        nodes=[
            NodeSpec(key="a", agent_id="transform", action="{{ input }}"),
            NodeSpec(key="b", agent_id="transform", action="b {{ input }}"),
            NodeSpec(key="other", agent_id="transform", action="other"),
            NodeSpec(key="after", agent_id="transform", action="{{ input }} after"),
        ],
        edges=[
            EdgeSpec(source="a", target="b"),
            EdgeSpec(source="a", target="other"),
            EdgeSpec(source="b", target="after"),
        ],
    )

    run_id = await start(definition, "x", until="b")
    run = await _finish(executor, run_id)
    records = await _nodes(store, run_id)

    assert (run.status, run.output) == (RunStatus.COMPLETED, "b x")
    assert {k: r.status for k, r in records.items()} == {  # type: ignore[attr-defined]
        "a": NodeStatus.COMPLETED,
        "b": NodeStatus.COMPLETED,
        "other": NodeStatus.SKIPPED,
        "after": NodeStatus.SKIPPED,
    }
