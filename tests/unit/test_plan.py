"""Validation names every problem and the node it concerns."""

from __future__ import annotations

from app.agents.registry import KINDS
from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.engine.plan import Plan, validate
from app.engine.store import AgentRecord

AGENTS = {k: AgentRecord(k, k) for k in ("transform", "branch", "http", "approval", "delay")}


def _messages(definition: WorkflowDefinition) -> list[str]:
    return [p.message for p in validate(definition, AGENTS, KINDS)]


def _node(key: str, agent: str = "transform", **kwargs: object) -> NodeSpec:
    return NodeSpec(key=key, agent_id=agent, **kwargs)  # type: ignore[arg-type]


def test_validate_empty_workflow_says_add_a_step() -> None:
    assert _messages(WorkflowDefinition()) == ["the workflow has no steps; add one first"]


def test_validate_cycle_names_its_nodes() -> None:
    definition = WorkflowDefinition(
        nodes=[_node("a"), _node("b"), _node("c")],
        edges=[EdgeSpec(source="a", target="b"), EdgeSpec(source="b", target="c"), EdgeSpec(source="c", target="b")],
    )

    [problem] = validate(definition, AGENTS, KINDS)

    assert "cycle" in problem.message and "b, c" in problem.message


def test_validate_dangling_edge_names_the_missing_node() -> None:
    definition = WorkflowDefinition(nodes=[_node("a")], edges=[EdgeSpec(source="a", target="ghost")])

    assert any("unknown target step 'ghost'" in m for m in _messages(definition))


def test_validate_unknown_agent_names_the_node() -> None:
    [problem] = validate(WorkflowDefinition(nodes=[_node("a", "web_agent")]), AGENTS, KINDS)

    assert problem.node == "a" and "unknown agent 'web_agent'" in problem.message


def test_validate_unconnected_node_is_a_problem() -> None:
    definition = WorkflowDefinition(
        nodes=[_node("a"), _node("b"), _node("lonely")], edges=[EdgeSpec(source="a", target="b")]
    )

    assert _messages(definition) == ["step 'lonely' is not connected to the rest of the workflow"]


def test_validate_mapping_to_a_later_node_is_a_problem() -> None:
    definition = WorkflowDefinition(
        nodes=[_node("a", action="{{ nodes.b.output }}"), _node("b")], edges=[EdgeSpec(source="a", target="b")]
    )

    assert _messages(definition) == ["step 'a' action refers to 'b', which does not run before it"]


def test_validate_mapping_to_unknown_node_and_name() -> None:
    definition = WorkflowDefinition(
        nodes=[_node("a", input_mapping={"x": "{{ nodes.nope.output }}", "y": "{{ inptu }}"})]
    )

    messages = _messages(definition)

    assert any("unknown step 'nope'" in m for m in messages)
    assert any("unknown name(s) inptu" in m for m in messages)


def test_validate_bad_config_names_the_field() -> None:
    [problem] = validate(WorkflowDefinition(nodes=[_node("a", "delay", config={"seconds": "soon"})]), AGENTS, KINDS)

    assert problem.node == "a" and "seconds" in problem.message


def test_validate_branch_edges_need_an_outcome_handle() -> None:
    definition = WorkflowDefinition(
        nodes=[_node("check", "branch"), _node("next")], edges=[EdgeSpec(source="check", target="next")]
    )

    [problem] = validate(definition, AGENTS, KINDS)

    assert "must leave 'check' from one of its outcomes (true, false)" in problem.message


def test_plan_orders_by_dependencies_then_step_order() -> None:
    definition = WorkflowDefinition(
        nodes=[_node("c", step_order=3), _node("b", step_order=2), _node("a", step_order=1), _node("d", step_order=4)],
        edges=[EdgeSpec(source="a", target="d"), EdgeSpec(source="b", target="d"), EdgeSpec(source="c", target="d")],
    )

    plan = Plan.of(definition)

    assert plan.order == ["a", "b", "c", "d"]
    assert plan.entry_nodes == ["a", "b", "c"] and plan.sink_nodes == ["d"]
    assert plan.ancestors("d") == {"a", "b", "c"}


def test_a_turned_off_branch_is_a_problem_naming_it() -> None:
    definition = WorkflowDefinition(
        nodes=[
            NodeSpec(
                key="check",
                agent_id="branch",
                config={"outcomes": [{"handle": "yes", "when": "{{ input }}"}]},
                disabled=True,
            ),
            NodeSpec(key="yes", agent_id="transform", action="y"),
        ],
        edges=[EdgeSpec(source="check", target="yes", source_handle="yes")],
    )
    agents = {a: AgentRecord(a, a, a) for a in ("branch", "transform")}

    problems = validate(definition, agents, KINDS)

    assert [(p.node, p.field) for p in problems] == [("check", "disabled")]
    assert "turned off" in problems[0].message
