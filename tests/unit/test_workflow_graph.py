"""The editor's graph and the workflow definition map onto each other without loss."""

from __future__ import annotations

from app.engine.exceptions import Problem
from app.engine.model import EdgeSpec, NodeSpec, Note, Position, WorkflowDefinition
from app.engine.store import AgentRecord
from app.services.graph import definition_to_graph, graph_to_definition, palette_entries, problems_by_node

AGENTS = {
    "transform": AgentRecord("transform", "transform", "Transform"),
    "branch": AgentRecord("branch", "branch", "Branch"),
    "approval": AgentRecord("approval", "approval", "Approval"),
    "qualify": AgentRecord(
        "qualify", "branch", "Qualify lead", {"outcomes": [{"handle": "hot", "when": "{{ 1 }}"}], "default": "cold"}
    ),
}

DEFINITION = WorkflowDefinition(
    nodes=[
        NodeSpec(
            key="score", agent_id="transform", name="Score", action="{{ input.n }}", position=Position(x=10, y=20)
        ),
        NodeSpec(key="check", agent_id="qualify", retries=2, timeout_seconds=5, position=Position(x=300, y=20)),
        NodeSpec(
            key="ok",
            agent_id="approval",
            input_mapping={"who": "{{ payload.name }}"},
            needs_approval=True,
            approval_deadline_seconds=3600,
            on_deadline="reject",
        ),
    ],
    edges=[
        EdgeSpec(source="score", target="check", condition="{{ input > 1 }}"),
        EdgeSpec(source="check", target="ok", source_handle="hot"),
    ],
)


def test_definition_round_trips_through_the_graph() -> None:
    graph = definition_to_graph(DEFINITION, AGENTS)

    back = graph_to_definition(graph)

    assert (
        back.model_dump()
        == DEFINITION.model_copy(
            update={
                "nodes": [n.model_copy(update={"name": n.name or AGENTS[n.agent_id].name}) for n in DEFINITION.nodes]
            }
        ).model_dump()
    )


def test_sticky_notes_and_turned_off_steps_round_trip_through_the_graph() -> None:
    note = Note(id="plan", text="**First** enrich", position=Position(x=-40, y=200), width=320, height=90)
    definition = DEFINITION.model_copy(
        update={"notes": [note], "nodes": [DEFINITION.nodes[0].model_copy(update={"disabled": True})]}, deep=True
    )
    definition.edges = []

    graph = definition_to_graph(definition, AGENTS)

    assert graph["notes"] == [
        {"id": "plan", "text": "**First** enrich", "position": {"x": -40, "y": 200}, "width": 320, "height": 90}
    ]
    assert graph["nodes"][0]["data"]["disabled"] is True
    back = graph_to_definition(graph)
    assert back.notes == [note]
    assert back.nodes[0].disabled is True


def test_graph_cards_show_title_icon_handles_and_badges() -> None:
    nodes = {n["id"]: n["data"] for n in definition_to_graph(DEFINITION, AGENTS)["nodes"]}

    assert nodes["score"]["title"] == "Score" and nodes["score"]["icon"] == "auto_fix_high"
    assert nodes["check"]["title"] == "Qualify lead" and nodes["check"]["handles"] == ["hot", "cold"]
    assert nodes["check"]["retries"] == 2 and nodes["ok"]["needsApproval"] is True
    assert nodes["score"]["handles"] is None


def test_edge_from_an_outcome_keeps_its_handle_as_label() -> None:
    edges = definition_to_graph(DEFINITION, AGENTS)["edges"]

    assert edges[1] == {"id": "check:hot->ok", "source": "check", "target": "ok", "sourceHandle": "hot", "label": "hot"}


def test_node_dropped_from_the_palette_becomes_a_node_with_defaults() -> None:
    graph = {
        "nodes": [
            {
                "id": "transform_2",
                "position": {"x": 1, "y": 2},
                "data": {"agentId": "transform", "title": "Transform", "spec": {}},
            }
        ],
        "edges": [],
    }

    [node] = graph_to_definition(graph).nodes

    assert (node.key, node.agent_id, node.name, node.retries, node.action) == (
        "transform_2",
        "transform",
        "Transform",
        0,
        "",
    )


def test_problems_are_grouped_by_node() -> None:
    problems = [Problem("a", node="x"), Problem("b", edge="y:hot->z"), Problem("c")]

    assert problems_by_node(problems) == {"x": ["a"], "y": ["b"]}


def test_palette_groups_kinds_and_saved_agents() -> None:
    entries = {e["agentId"]: e for e in palette_entries(AGENTS)}

    assert entries["transform"]["group"] == "Utilities"
    assert entries["branch"]["group"] == "Logic"
    assert entries["qualify"]["group"] == "Saved agents" and entries["qualify"]["handles"] == ["hot", "cold"]
