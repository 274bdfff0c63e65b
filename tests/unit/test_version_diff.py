"""Comparing two versions of a workflow: what a person reviewing a change needs to see."""

from __future__ import annotations

from app.engine.model import EdgeSpec, NodeSpec, Position, WorkflowDefinition
from app.services.version_diff import compare_definitions


def _version(*nodes: NodeSpec, edges: list[EdgeSpec] | None = None) -> WorkflowDefinition:
    return WorkflowDefinition(nodes=list(nodes), edges=edges or [])


FETCH = NodeSpec(key="fetch", agent_id="http", name="Fetch", config={"url": "http://a.example"})
DRAFT = NodeSpec(key="draft", agent_id="transform", action="{{ input }}")


def test_steps_added_removed_changed_and_moved() -> None:
    before = _version(
        FETCH, DRAFT, NodeSpec(key="old", agent_id="transform"), edges=[EdgeSpec(source="fetch", target="draft")]
    )
    after = _version(
        FETCH.model_copy(update={"config": {"url": "http://b.example"}}),
        DRAFT.model_copy(update={"position": Position(x=300, y=40)}),
        NodeSpec(key="notify", agent_id="transform", name="Notify"),
        edges=[
            EdgeSpec(source="fetch", target="draft", condition="{{ input }}"),
            EdgeSpec(source="draft", target="notify"),
        ],
    )

    diff = compare_definitions(before, after, versions=(3, 4))

    assert [(s.key, s.change) for s in diff.steps] == [
        ("fetch", "changed"),
        ("draft", "moved"),
        ("notify", "added"),
        ("old", "removed"),
    ]
    [url] = diff.steps[0].fields
    assert (url.path, url.before, url.after) == ("$.config.url", "http://a.example", "http://b.example")
    assert [(e.label, e.change) for e in diff.edges] == [("fetch → draft", "changed"), ("draft → notify", "added")]
    assert diff.change_of("notify") == "added" and diff.change_of("nowhere") is None
    assert not diff.same


def test_a_version_compared_with_itself_or_only_moved_is_the_same() -> None:
    assert compare_definitions(_version(FETCH), _version(FETCH)).steps == []
    moved = _version(FETCH.model_copy(update={"position": Position(x=9, y=9)}))
    assert compare_definitions(_version(FETCH), moved).same
