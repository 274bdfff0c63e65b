"""What a step needs from its input, where that comes from, and what is missing before anything runs.

A step's templates (its action, its settings, its input mapping) read fields of `input` and `payload`. Where
`input` comes from is known from the graph: the run's input for an entry step, the mapping's own fields when
the step maps its input, otherwise the previous step's output. That output's fields are known statically
when the previous step's kind says what its output is (`AgentKind.output_from`): passed on unchanged, or the
rendered action when that is one dict expression (`{{ {'name': input.name, 'score': 3} }}`). A field a step
reads that its known input lacks is a problem now, not a failed run later.

`explain` turns a template error ("'dict object' has no attribute 'email'") into a sentence that names the
field and says how to provide it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from app.engine import sandbox
from app.engine.exceptions import Problem
from app.engine.kinds import Kinds
from app.engine.mapping import is_template
from app.engine.model import NodeSpec, WorkflowDefinition
from app.engine.plan import effective_config
from app.engine.store import AgentRecord

__all__ = ["Needs", "explain", "needs_problems", "step_needs"]


@dataclass(frozen=True)
class Needs:
    """The fields of `input` (and of the run's `payload`) one step reads, and where its input comes from."""

    key: str
    fields: list[str]
    """Fields of `input` its templates read (`input.email` → "email"), in order of first use."""
    payload_fields: list[str]
    source: str
    """Where its input comes from, in words: "the run's input", "the output of 'enrich'", "its input mapping"."""
    entry: bool
    available: list[str] | None = None
    """The fields its input is known to have; None when only a run tells."""
    missing: list[str] = field(default_factory=list)
    """Fields it reads that its input is known not to have."""


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if is_template(value) else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _parse(text: str) -> nodes.Template | None:
    try:
        return sandbox.parse(text)
    except (TemplateSyntaxError, sandbox.TemplateLimit):
        return None


def _read(value: Any, root: str) -> list[str]:
    """First-level fields of `root` that the templates in `value` read (`root.x` or `root['x']`)."""
    found: list[str] = []
    for text in _strings(value):
        ast = _parse(text)
        if ast is None:
            continue
        for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
            target, name = _access(node)
            if isinstance(target, nodes.Name) and target.name == root and isinstance(name, str) and name not in found:
                found.append(name)
    return found


def _access(node: nodes.Node) -> tuple[nodes.Node | None, Any]:
    """What `x.name` or `x['name']` reads from, and the name; (None, None) for anything else."""
    if isinstance(node, nodes.Getattr):
        return node.node, node.attr
    if isinstance(node, nodes.Getitem):
        return node.node, getattr(node.arg, "value", None)
    return None, None


def _dict_keys(text: str) -> list[str] | None:
    """The keys of a template that is one dict expression (`{{ {'a': 1} }}`), else None."""
    ast = _parse(text)
    if ast is None or len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    parts = ast.body[0].nodes
    if len(parts) != 1 or not isinstance(parts[0], nodes.Dict):
        return None
    keys = [pair.key.value for pair in parts[0].items if isinstance(pair.key, nodes.Const)]
    return keys if len(keys) == len(parts[0].items) and all(isinstance(k, str) for k in keys) else None


class _Graph:
    """One definition's steps, what they are, and the fields each one's output is known to have."""

    def __init__(self, definition: WorkflowDefinition, agents: Mapping[str, AgentRecord], kinds: Kinds) -> None:
        self.definition, self.agents, self.kinds = definition, agents, kinds
        self.nodes = {node.key: node for node in definition.nodes}
        self.sources: dict[str, list[str]] = {key: [] for key in self.nodes}
        for edge in definition.edges:
            if edge.target in self.sources and edge.source not in self.sources[edge.target]:
                self.sources[edge.target].append(edge.source)
        self._outputs: dict[str, list[str] | None] = {}

    def kind_output(self, node: NodeSpec) -> str:
        agent = self.agents.get(node.agent_id)
        kind = self.kinds.get(agent.kind) if agent else None
        return kind.output_from if kind else ""

    def config(self, node: NodeSpec) -> dict[str, Any]:
        agent = self.agents.get(node.agent_id)
        return effective_config(node, agent) if agent else dict(node.config)

    def input_fields(self, key: str) -> list[str] | None:
        """The fields `input` has for step `key` (after its mapping), when the graph tells."""
        node = self.nodes[key]
        if isinstance(node.input_mapping, dict):
            return list(node.input_mapping)
        if isinstance(node.input_mapping, str):
            return _dict_keys(node.input_mapping)
        return self.raw_input_fields(key)

    def raw_input_fields(self, key: str) -> list[str] | None:
        """The fields of what flows into step `key` (before its mapping), when the graph tells."""
        sources = self.sources[key]
        if not sources:
            return None  # the run's input: any fields (the run form asks for those the steps read)
        if len(sources) > 1:
            return list(sources)  # a dict of the predecessors' outputs, by key
        return self.output_fields(sources[0])

    def output_fields(self, key: str) -> list[str] | None:
        if key not in self._outputs:
            self._outputs[key] = None  # (a cycle tells nothing)
            node = self.nodes[key]
            made = self.kind_output(node)
            if made == "input" or (made == "action" and not node.action.strip()):
                self._outputs[key] = self.input_fields(key)
            elif made == "action":
                self._outputs[key] = _dict_keys(node.action)
        return self._outputs[key]

    def source(self, key: str) -> str:
        node, sources = self.nodes[key], self.sources[key]
        if node.input_mapping is not None:
            return "its input mapping"
        if not sources:
            return "the run's input"
        return "the output of " + " and ".join(f"'{s}'" for s in sources)


def step_needs(definition: WorkflowDefinition, key: str, agents: Mapping[str, AgentRecord], kinds: Kinds) -> Needs:
    """What step `key` reads from its input and the run's payload, where that comes from, and what is missing."""
    return _needs(_Graph(definition, agents, kinds), key)


def _needs(graph: _Graph, key: str) -> Needs:
    node = graph.nodes[key]
    mapped = node.input_mapping is not None
    reads = [node.action, graph.config(node)]
    fields = _read(reads, "input")
    payload = _read([*reads, node.input_mapping], "payload")
    if mapped:  # the mapping reads what flows in; the rest reads the mapped input
        raw = _read(node.input_mapping, "input")
        available = graph.input_fields(key)
        missing = [f for f in fields if available is not None and f not in available]
        flowing = graph.raw_input_fields(key)
        missing += [f for f in raw if flowing is not None and f not in flowing and f not in missing]
        fields = list(dict.fromkeys([*raw, *fields]))
    else:
        available = graph.input_fields(key)
        missing = [f for f in fields if available is not None and f not in available]
    entry = not graph.sources[key]
    return Needs(key, fields, payload, graph.source(key), entry, available, missing)


def needs_problems(definition: WorkflowDefinition, agents: Mapping[str, AgentRecord], kinds: Kinds) -> list[Problem]:
    """A problem for every field a step reads that its input is known not to have."""
    graph = _Graph(definition, agents, kinds)
    problems: list[Problem] = []
    for key in graph.nodes:
        needs = _needs(graph, key)
        for name in needs.missing:
            has = ", ".join(needs.available or []) or "no fields"
            problems.append(
                Problem(
                    f"step '{key}' needs input.{name}, but {needs.source} has {has}: map '{name}' in the step's "
                    "Input tab, or add it to the step before",
                    node=key,
                    field="input_mapping",
                )
            )
    return problems


_NO_ATTRIBUTE = re.compile(
    r"^template (?P<template>.*) failed: '(?P<owner>[^']*)' has no attribute '(?P<name>[^']+)'$", re.S
)
_TYPE_ERROR = re.compile(r"^template (?P<template>.*) failed: TypeError: (?P<reason>.*)$", re.S)
_UNDEFINED = re.compile(r"'(?P<name>[^']+)' is undefined")


def explain(error: str) -> str:
    """A template error as a sentence naming what is missing and how to provide it; other errors unchanged."""
    found = _NO_ATTRIBUTE.match(error.strip())
    wrong_type = _TYPE_ERROR.match(error.strip())
    if wrong_type is not None:
        return (
            f"The template {wrong_type['template']} cannot work with these values ({wrong_type['reason']}): check "
            "the types in the input (a number is written without quotes)."
        )
    if found is None:
        undefined = _UNDEFINED.search(error)
        if undefined is None:
            return error
        return f"'{undefined['name']}' is not known here: use input, payload, nodes or run."
    name, owner = found["name"], found["owner"]
    path = _path_to(found["template"], name) or name
    root = path.split(".", 1)[0]
    if root == "nodes":
        return (
            f"This step reads {path}, which no step before it has produced: run the workflow up to that step "
            "first, or refer to a step that runs before this one."
        )
    where = "the run's input" if root == "payload" else "its input" if root == "input" else "the data it is given"
    if owner in ("None", "NoneType"):
        what = f"This step reads {path}, but {where} is empty"
    else:
        what = f"This step reads {path}, but {where} has no '{name}'"
    return f'{what}: add "{name}" to the sample input, or map it in the step\'s Input tab.'


def _path_to(template: str, name: str) -> str | None:
    """The dotted path (`input.email`, `nodes.a.output.x`) in `template` that ends in the attribute `name`."""
    text = template[1:-1] if len(template) > 1 and template[0] == template[-1] and template[0] in "'\"" else template
    ast = _parse(text)
    if ast is None:
        return None
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        inner, attr = _access(node)
        if attr != name:
            continue
        parts: list[str] = [name]
        while isinstance(inner, nodes.Getattr | nodes.Getitem):
            inner, step = _access(inner)
            parts.insert(0, str(step))
        if isinstance(inner, nodes.Name):
            return ".".join([inner.name, *parts])
    return None
