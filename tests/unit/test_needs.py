"""What a step needs from its input, known before anything runs; template errors told as sentences."""

from __future__ import annotations

import itertools

from app.agents.registry import KINDS
from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition
from app.engine.needs import explain, needs_problems, step_needs
from app.engine.store import AgentRecord

AGENTS = {k: AgentRecord(k, k) for k in ("transform", "branch", "http", "approval", "delay")}
ENRICH = "{{ {'name': input.name, 'score': input.employees // 10} }}"


def _chain(*nodes: NodeSpec) -> WorkflowDefinition:
    edges = [EdgeSpec(source=a.key, target=b.key) for a, b in itertools.pairwise(nodes)]
    return WorkflowDefinition(nodes=list(nodes), edges=edges)


def test_entry_step_needs_the_fields_it_reads_from_the_runs_input() -> None:
    definition = _chain(NodeSpec(key="enrich", agent_id="transform", action=ENRICH))
    needs = step_needs(definition, "enrich", AGENTS, KINDS)
    assert needs.fields == ["name", "employees"]
    assert needs.source == "the run's input" and needs.entry
    assert needs.missing == []


def test_a_field_the_step_before_does_not_produce_is_a_problem_naming_the_step() -> None:
    definition = _chain(
        NodeSpec(key="enrich", agent_id="transform", action=ENRICH),
        NodeSpec(key="route", agent_id="branch", config={"outcomes": [{"handle": "hot", "when": "{{ input.score }}"}]}),
        NodeSpec(key="mail", agent_id="transform", action="Hi {{ input.name }} at {{ input.email }}"),
    )
    problems = needs_problems(definition, AGENTS, KINDS)
    assert [(p.node, p.message.split(":")[0]) for p in problems] == [
        ("mail", "step 'mail' needs input.email, but the output of 'route' has name, score")
    ]


def test_a_mapped_input_provides_its_own_fields() -> None:
    definition = _chain(
        NodeSpec(key="enrich", agent_id="transform", action=ENRICH),
        NodeSpec(
            key="mail",
            agent_id="transform",
            action="{{ input.email }}",
            input_mapping={"email": "{{ payload.email }}"},
        ),
    )
    assert needs_problems(definition, AGENTS, KINDS) == []
    needs = step_needs(definition, "mail", AGENTS, KINDS)
    assert needs.source == "its input mapping" and needs.payload_fields == ["email"]


def test_a_step_after_an_unknown_output_has_no_problem() -> None:
    definition = _chain(
        NodeSpec(key="call", agent_id="http", config={"url": "http://example.invalid"}),
        NodeSpec(key="mail", agent_id="transform", action="{{ input.email }}"),
    )
    assert needs_problems(definition, AGENTS, KINDS) == []


def test_explain_names_the_missing_field_and_how_to_give_it() -> None:
    error = "template 'Hi {{ input.email }}' failed: 'dict object' has no attribute 'email'"
    assert explain(error) == (
        "This step reads input.email, but its input has no 'email': add \"email\" to the sample input, "
        "or map it in the step's Input tab."
    )


def test_explain_says_when_the_input_is_empty() -> None:
    error = "template '{{ input.score >= 50 }}' failed: 'None' has no attribute 'score'"
    assert explain(error).startswith("This step reads input.score, but its input is empty")


def test_explain_leaves_other_errors_as_they_are() -> None:
    assert explain("http needs a URL") == "http needs a URL"
