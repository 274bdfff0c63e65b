"""Templates: one sandboxed, native-typed context everywhere."""

from __future__ import annotations

import pytest

from app.engine import mapping
from app.engine.exceptions import MappingError

CONTEXT = mapping.build_context(
    input={"items": [1, 2], "name": "ada"},
    payload={"lead": {"email": "a@b.c"}},
    outputs={"enrich": {"score": 7}},
    run_id="wr-1",
    session_id="s-1",
    workflow_id="wf-1",
)


def test_render_single_expression_keeps_its_type() -> None:
    assert mapping.render("{{ input.items }}", CONTEXT) == [1, 2]
    assert mapping.render("{{ nodes.enrich.output.score + 1 }}", CONTEXT) == 8


def test_render_text_with_expressions_is_text() -> None:
    assert mapping.render("Hi {{ input.name }} ({{ run.id }})", CONTEXT) == "Hi ada (wr-1)"


def test_render_literal_text_is_unchanged() -> None:
    assert mapping.render("[1, 2]", CONTEXT) == "[1, 2]"


def test_render_value_walks_dicts_and_lists() -> None:
    value = {"to": "{{ payload.lead.email }}", "tags": ["{{ run.sessionId }}", 3]}

    assert mapping.render_value(value, CONTEXT) == {"to": "a@b.c", "tags": ["s-1", 3]}


def test_render_undefined_names_the_template_and_reason() -> None:
    with pytest.raises(MappingError) as caught:
        mapping.render("{{ payload.lead.phone }}", CONTEXT, node="draft")

    assert caught.value.template == "{{ payload.lead.phone }}"
    assert "phone" in caught.value.reason
    assert caught.value.node == "draft"


def test_render_refuses_unsafe_attributes() -> None:
    with pytest.raises(MappingError) as caught:
        mapping.render("{{ input.__class__.__subclasses__() }}", CONTEXT)

    assert "not allowed" in caught.value.reason or "unsafe" in caught.value.reason or "__class__" in caught.value.reason


def test_render_syntax_error_names_the_line() -> None:
    with pytest.raises(MappingError, match="syntax error on line 1"):
        mapping.render("{{ input. }}", CONTEXT)


def test_template_problems_lists_unknown_names_and_syntax_errors() -> None:
    problems = mapping.template_problems({"a": "{{ inptu.name }}", "b": ["{% if %}"]})

    assert any("inptu" in p for p in problems)
    assert any("syntax error" in p for p in problems)


def test_referenced_nodes_finds_dotted_and_indexed_references() -> None:
    refs = mapping.referenced_nodes("{{ nodes.enrich.output }} {{ nodes['qualify'].output }} {{ input }}")

    assert refs == {"enrich", "qualify"}
