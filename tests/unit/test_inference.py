"""The run's input schema inferred from the templates, and the fix hint of a step that lacked a field."""

from __future__ import annotations

from typing import Any

from app.engine.inference import failure_hint, inferred_schema
from app.engine.model import EdgeSpec, NodeSpec, WorkflowDefinition


def _one(action: str, **extra: Any) -> WorkflowDefinition:
    return WorkflowDefinition(nodes=[NodeSpec(key="enrich", agent_id="transform", action=action, **extra)], edges=[])


def _properties(definition: WorkflowDefinition) -> dict[str, Any]:
    schema = inferred_schema(definition)
    assert schema is not None
    return schema


def test_a_field_read_from_the_input_is_a_required_string() -> None:
    schema = _properties(_one("Hello {{ input.email }}"))

    assert schema == {
        "type": "object",
        "properties": {"email": {"type": "string"}},
        "required": ["email"],
        "additionalProperties": True,
    }


def test_arithmetic_and_orders_make_numbers_membership_in_strings_makes_strings() -> None:
    schema = _properties(
        _one("{{ (input.employees // 10) + (40 if input.title in ['CTO'] else 0) + (1 if input.age >= 18 else 0) }}")
    )

    assert schema["properties"] == {
        "employees": {"type": "number"},
        "title": {"type": "string"},
        "age": {"type": "number"},
    }


def test_nested_fields_lists_and_booleans_by_their_use() -> None:
    schema = _properties(
        _one("{% for tag in input.tags %}{{ tag }}{% endfor %}{{ input.user.email }}{{ input.vip == true }}")
    )

    assert schema["properties"]["tags"] == {"type": "array"}
    assert schema["properties"]["user"]["properties"] == {"email": {"type": "string"}}
    assert schema["properties"]["vip"] == {"type": "boolean"}
    assert set(schema["required"]) == {"tags", "user", "vip"}


def test_a_field_only_tested_or_given_a_default_is_optional() -> None:
    schema = _properties(
        _one("{% if input.note %}{{ input.note }}{% endif %}{{ input.count | default(0) }}{{ input.x is defined }}")
    )

    assert schema.get("required", []) == []
    assert schema["properties"]["count"] == {"type": "number"}


def test_only_entry_steps_read_the_run_input_as_input_but_any_step_reads_payload() -> None:
    definition = WorkflowDefinition(
        nodes=[
            NodeSpec(key="first", agent_id="transform", action="{{ input.email }}"),
            NodeSpec(key="second", agent_id="transform", action="{{ input.score }} {{ payload.region }}"),
        ],
        edges=[EdgeSpec(source="first", target="second")],
    )

    assert list(_properties(definition)["properties"]) == ["email", "region"]


def test_an_entry_step_with_a_mapping_reads_the_run_input_in_its_mapping_only() -> None:
    definition = _one("{{ input.mapped }}", input_mapping={"who": "{{ input.email }}"})

    assert list(_properties(definition)["properties"]) == ["email"]


def test_a_workflow_whose_templates_read_no_field_has_no_inferred_schema() -> None:
    assert inferred_schema(_one("{{ input }} and {{ run.id }}")) is None


def test_a_broken_template_is_left_to_validation() -> None:
    assert inferred_schema(_one("{{ input.email ")) is None


def test_the_hint_names_every_missing_field_of_the_failed_step() -> None:
    definition = _one("{{ input.name }} {{ input.employees // 10 }}")

    assert failure_hint(definition, "enrich", {}) == (
        "enrich needs input.name and input.employees: add them to the run's input"
    )
    assert failure_hint(definition, "enrich", {"name": "Ada"}) == (
        "enrich needs input.employees: add it to the run's input"
    )


def test_the_hint_names_a_field_of_the_wrong_type() -> None:
    definition = _one("{{ input.employees // 10 }}")

    assert failure_hint(definition, "enrich", {"employees": "120"}) == (
        'enrich needs input.employees to be a number, not the text "120": change it in the run\'s input'
    )


def test_no_hint_when_the_input_has_what_the_step_reads() -> None:
    definition = _one("{{ input.employees // 10 }}")

    assert failure_hint(definition, "enrich", {"employees": 0}) is None
    assert failure_hint(definition, "missing", {}) is None
