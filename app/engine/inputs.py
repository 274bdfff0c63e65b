"""A workflow's input schema (its entry nodes') and the check of a run's input against it.

An entry node is one no edge leads to; it receives the run's input as it is unless it maps its input
with a template, in which case its schema describes the mapped value and says nothing about the
run's input. The check covers the JSON Schema keywords agent kinds declare (`type`, `required`,
`properties`, `additionalProperties`, `items`, `enum`, `const`, lengths, `pattern`, bounds) and
reports every bad field, not just the first. As everywhere in Flowyard's API, an object schema that
lists its `properties` refuses fields it does not list, unless `additionalProperties` allows them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.engine.inference import inferred_schema
from app.engine.kinds import Kinds, build
from app.engine.model import WorkflowDefinition
from app.engine.plan import effective_config
from app.engine.store import AgentRecord

__all__ = ["INFERRED", "form_schema", "input_problems", "run_input_schema", "workflow_input_schemas"]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def workflow_input_schemas(
    definition: WorkflowDefinition, agents: Mapping[str, AgentRecord], kinds: Kinds
) -> list[dict[str, Any]]:
    """The input schemas the run's input must fit: those of the entry nodes that take it unmapped."""
    targets = {e.target for e in definition.edges}
    schemas: list[dict[str, Any]] = []
    for node in definition.nodes:
        agent = agents.get(node.agent_id)
        if node.key in targets or node.input_mapping is not None or agent is None:
            continue
        try:
            schema = build(kinds, agent.kind, effective_config(node, agent)).input_schema
        except Exception:  # an invalid config is reported by validation, not here
            continue
        if schema and schema not in schemas:
            schemas.append(schema)
    return schemas


def input_problems(schemas: list[dict[str, Any]], value: Any, *, path: str = "") -> list[tuple[str, str]]:
    """Every (field, message) where `value` breaks one of `schemas`; fields are dotted paths under `path`."""
    problems: list[tuple[str, str]] = []
    for schema in schemas:
        _check(schema, value, path, problems)
    return list(dict.fromkeys(problems))


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _is(value: Any, type_name: str) -> bool:
    if isinstance(value, bool) and type_name not in ("boolean",):
        return False
    return isinstance(value, _TYPES.get(type_name, (object,)))


def _check(schema: Any, value: Any, path: str, problems: list[tuple[str, str]]) -> None:
    if not isinstance(schema, dict) or not schema:
        return
    field = path or "input"
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    if types and not any(_is(value, t) for t in types):
        problems.append((field, f"must be {' or '.join(types)}, not {_json_type(value)}"))
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append((field, f"must be one of {', '.join(map(repr, schema['enum']))}"))
    if "const" in schema and value != schema["const"]:
        problems.append((field, f"must be {schema['const']!r}"))
    if isinstance(value, str):
        _check_string(schema, value, field, problems)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, field, problems)
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append((field, f"needs at least {schema['minItems']} item(s)"))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append((field, f"takes at most {schema['maxItems']} item(s)"))
        for index, item in enumerate(value):
            _check(schema.get("items"), item, _join(path, index), problems)
    elif isinstance(value, dict):
        _check_object(schema, value, path, problems)


def _check_string(schema: dict[str, Any], value: str, field: str, problems: list[tuple[str, str]]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        problems.append((field, f"must be at least {schema['minLength']} character(s)"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append((field, f"must be at most {schema['maxLength']} character(s)"))
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        problems.append((field, f"must match {schema['pattern']!r}"))


def _check_number(schema: dict[str, Any], value: float, field: str, problems: list[tuple[str, str]]) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        problems.append((field, f"must be at least {schema['minimum']}"))
    if "maximum" in schema and value > schema["maximum"]:
        problems.append((field, f"must be at most {schema['maximum']}"))
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        problems.append((field, f"must be more than {schema['exclusiveMinimum']}"))
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        problems.append((field, f"must be less than {schema['exclusiveMaximum']}"))


def _check_object(schema: dict[str, Any], value: dict[str, Any], path: str, problems: list[tuple[str, str]]) -> None:
    properties: dict[str, Any] = schema.get("properties") or {}
    for name in schema.get("required", []):
        if name not in value:
            problems.append((_join(path, name), "is required"))
    extra = schema.get("additionalProperties", not properties)
    for name, item in value.items():
        if name in properties:
            _check(properties[name], item, _join(path, name), problems)
        elif isinstance(extra, dict):
            _check(extra, item, _join(path, name), problems)
        elif extra is False:
            accepted = f"it takes {', '.join(properties)}" if properties else "it takes no fields"
            problems.append((_join(path, name), f"is not an input of this workflow ({accepted})"))


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is(value, name):
            return name
    return type(value).__name__


def form_schema(schemas: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one object schema with fields that a run's input must fit, if there is one (else: free JSON)."""
    if len(schemas) == 1 and schemas[0].get("type") == "object" and schemas[0].get("properties"):
        return schemas[0]
    return None


INFERRED = "x-inferred"
"""Marks a schema inferred from the templates (`app.engine.inference`): it guides, it refuses nothing."""


def run_input_schema(
    definition: WorkflowDefinition, agents: Mapping[str, AgentRecord], kinds: Kinds
) -> dict[str, Any] | None:
    """The object schema of the run's input that forms, CSV columns and the webhook tab follow: the one the entry
    step declares, else the one inferred from the templates (marked `INFERRED`), else None (any JSON)."""
    declared = form_schema(workflow_input_schemas(definition, agents, kinds))
    if declared is not None:
        return declared
    inferred = inferred_schema(definition, agents)
    return {**inferred, INFERRED: True} if inferred is not None else None
