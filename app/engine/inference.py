"""What a workflow's templates need of the run's input: an input schema inferred from the templates, and a fix
hint for a step that failed for want of one of those fields.

A workflow whose first step declares no input schema (a `transform`, a `branch`…) still says what it takes:
its templates read the run's input as `input.<field>` (in an entry step, which gets the run's input) and as
`payload.<field>` (anywhere). Each field read is a field of the inferred schema, required unless it is only
tested (`{% if input.vip %}`, `input.x is defined`) or given a default (`input.x | default(0)`), and typed by
how it is used: arithmetic or an order with a number makes it a number, membership in a list of strings or
equality with a string a string, `input.user.email` makes `user` an object, `{% for x in input.items %}`
`items` an array; a field with no such clue is a string. The inferred schema is open (it refuses no field):
it drives forms, CSV conversion and hints, while only a declared schema refuses a run's input.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from app.engine import mapping, sandbox
from app.engine.model import NodeSpec, WorkflowDefinition
from app.engine.store import AgentRecord

__all__ = ["Need", "failure_hint", "inferred_schema", "payload_needs"]

_ARITHMETIC = (nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow)
_ORDER = frozenset({"gt", "gteq", "lt", "lteq"})
_STRING_FILTERS = frozenset(
    {"upper", "lower", "title", "capitalize", "trim", "replace", "truncate", "wordcount", "center", "indent"}
)
_ARRAY_FILTERS = frozenset({"join", "sum", "map", "select", "reject", "selectattr", "rejectattr", "unique", "sort"})
_NUMBER_FILTERS = frozenset({"round", "abs"})
_OPTIONAL_FILTERS = frozenset({"default", "d"})
_OPTIONAL_TESTS = frozenset({"defined", "undefined", "none"})
_STRING_METHODS = frozenset(
    {"upper", "lower", "strip", "split", "startswith", "endswith", "replace", "title", "capitalize", "format"}
)
_OBJECT_METHODS = frozenset({"items", "keys", "values", "get"})
ROOTS = ("input", "payload")


@dataclass
class Need:
    """One field the templates read: its JSON type (None: no clue), whether a run must have it, its own fields."""

    type: str | None = None
    required: bool = False
    fields: dict[str, Need] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        if self.fields:
            return _object_schema(self.fields, open_=True)
        return {"type": self.type or "string"}

    def merge(self, type_: str | None, required: bool) -> None:
        if self.type is None:
            self.type = type_
        self.required = self.required or required


def _object_schema(fields: Mapping[str, Need], *, open_: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {name: need.schema() for name, need in fields.items()}}
    required = [name for name, need in fields.items() if need.required]
    if required:
        schema["required"] = required
    if open_:
        schema["additionalProperties"] = True
    return schema


# --- reading templates -----------------------------------------------------------------------------------------


def _path(node: nodes.Node, root: str) -> list[str | int] | None:
    """The field path of `input.a.b` / `input['a'][0]` (rooted at Name `root`); None for anything else."""
    if isinstance(node, nodes.Name):
        return [] if node.name == root and node.ctx == "load" else None
    if isinstance(node, nodes.Getattr):
        inner = _path(node.node, root)
        return None if inner is None else [*inner, node.attr]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        inner = _path(node.node, root)
        if inner is None or not isinstance(node.arg.value, str | int) or isinstance(node.arg.value, bool):
            return None
        return [*inner, node.arg.value]
    return None


def _parents(tree: nodes.Node) -> dict[int, nodes.Node]:
    found: dict[int, nodes.Node] = {}
    stack = [tree]
    while stack:
        current = stack.pop()
        for child in current.iter_child_nodes():
            found[id(child)] = current
            stack.append(child)
    return found


def _const_type(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Const):
        value = node.value
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int | float):
            return "number"
        if isinstance(value, str):
            return "string"
    if isinstance(node, nodes.List | nodes.Tuple) and node.items:
        kinds = {_const_type(item) for item in node.items}
        if len(kinds) == 1:
            return kinds.pop()
    return None


def _usage(expr: nodes.Node, parent: nodes.Node | None, grand: nodes.Node | None) -> tuple[str | None, bool]:
    """(type clue, required) of a field from the node that uses it."""
    if isinstance(parent, _ARITHMETIC) or isinstance(parent, nodes.Neg | nodes.Pos):
        return "number", True
    if isinstance(parent, nodes.Add):
        other = parent.right if parent.left is expr else parent.left
        return _const_type(other), True
    if isinstance(parent, nodes.Compare) and parent.expr is expr and parent.ops:
        return _compared(parent.ops[0]), True
    if isinstance(parent, nodes.Operand) and isinstance(grand, nodes.Compare):
        if parent.op in _ORDER or parent.op in ("eq", "ne"):  # 50 <= input.score, 'x' == input.kind
            clue = _const_type(grand.expr)
            return (clue if clue in ("number", "string", "boolean") else None), True
        return None, True  # 'a' in input.x: a string or a list
    if isinstance(parent, nodes.Filter) and parent.node is expr:
        if parent.name in _OPTIONAL_FILTERS:
            return (_const_type(parent.args[0]) if parent.args else None), False
        if parent.name in _STRING_FILTERS:
            return "string", True
        if parent.name in _ARRAY_FILTERS:
            return "array", True
        if parent.name in _NUMBER_FILTERS:
            return "number", True
        return None, True
    if isinstance(parent, nodes.Test) and parent.node is expr:
        return None, parent.name not in _OPTIONAL_TESTS
    if isinstance(parent, nodes.For) and parent.iter is expr:
        return "array", True
    if isinstance(parent, nodes.If | nodes.CondExpr) and parent.test is expr:
        return None, False
    if isinstance(parent, nodes.Not | nodes.And | nodes.Or):
        return None, False
    return None, True


def _compared(operand: nodes.Operand) -> str | None:
    if operand.op in _ORDER:
        clue = _const_type(operand.expr)
        return clue if clue in ("number", "string") else None
    if operand.op in ("eq", "ne", "in", "notin"):
        return _const_type(operand.expr)
    return None


def _guarded(expr: nodes.Node, path: list[str | int], root: str, parents: dict[int, nodes.Node]) -> bool:
    """Whether `expr` sits in a branch of an `if` whose test reads the same field (so a missing field is fine)."""
    child: nodes.Node = expr
    parent = parents.get(id(child))
    while parent is not None:
        if isinstance(parent, nodes.If | nodes.CondExpr) and parent.test is not child:
            tested = [parent.test, *parent.test.find_all((nodes.Getattr, nodes.Getitem))]
            if any(_path(n, root) == path for n in tested):
                return True
        child, parent = parent, parents.get(id(parent))
    return False


def _template_needs(text: str, root: str, needs: dict[str, Need]) -> None:
    try:
        tree = sandbox.parse(text)
    except (TemplateSyntaxError, sandbox.TemplateLimit):
        return  # a broken template is a problem of the definition, reported by validation
    parents = _parents(tree)
    for expr in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = _path(expr, root)
        if not path:
            continue
        parent = parents.get(id(expr))
        if _path(parent, root) is not None if parent is not None else False:
            continue  # not the whole chain: `input.user` of `input.user.email`
        grand = parents.get(id(parent)) if parent is not None else None
        if isinstance(parent, nodes.Call) and parent.node is expr and len(path) > 1:  # input.name.upper()
            method = path.pop()
            clue: str | None = (
                "string" if method in _STRING_METHODS else "object" if method in _OBJECT_METHODS else None
            )
            required = True
        else:
            clue, required = _usage(expr, parent, grand)
        if isinstance(parent, nodes.Getitem) and parent.node is expr:
            clue = None  # input.x[some_name]: an object or an array
        if required and _guarded(expr, path, root, parents):
            required = False
        _add(needs, path, clue, required)


def _add(needs: dict[str, Need], path: list[str | int], clue: str | None, required: bool) -> None:
    name = path[0]
    if isinstance(name, int):
        return  # input[0]: the input is a list; nothing to name
    need = needs.setdefault(name, Need())
    if len(path) == 1:
        need.merge(clue, required)
        return
    if isinstance(path[1], int):
        need.merge("array", required)
        return
    need.merge("object", required)
    _add(need.fields, path[1:], clue, required)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if mapping.is_template(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _node_templates(
    node: NodeSpec, agents: Mapping[str, AgentRecord] | None, *, entry: bool
) -> Iterator[tuple[str, str]]:
    """(template, root) pairs of one step: the templates that read the run's input, and under which name."""
    if node.disabled:
        return
    agent = (agents or {}).get(node.agent_id)
    own = [node.action, node.config, agent.config if agent is not None else {}]
    reads_input = entry and node.input_mapping is None  # there `input` is the run's input
    for text in _strings(own):
        yield text, "payload"
        if reads_input:
            yield text, "input"
    for text in _strings(node.input_mapping):
        yield text, "payload"
        if entry:
            yield text, "input"


def _needs(
    definition: WorkflowDefinition, agents: Mapping[str, AgentRecord] | None, only: str | None = None
) -> dict[str, dict[str, Need]]:
    """Per root name the run-input fields read by the templates (of the step `only`, or of every step)."""
    targets = {e.target for e in definition.edges}
    found: dict[str, dict[str, Need]] = {root: {} for root in ROOTS}
    for node in definition.nodes:
        if only is not None and node.key != only:
            continue
        for text, root in _node_templates(node, agents, entry=node.key not in targets):
            _template_needs(text, root, found[root])
    if only is None:
        for edge in definition.edges:
            if edge.condition and mapping.is_template(edge.condition):
                _template_needs(edge.condition, "payload", found["payload"])
    return found


def payload_needs(definition: WorkflowDefinition, agents: Mapping[str, AgentRecord] | None = None) -> dict[str, Need]:
    """The run-input fields the workflow's templates read (as `input.x` in entry steps, `payload.x` anywhere)."""
    found = _needs(definition, agents)
    merged: dict[str, Need] = {}
    for root in ROOTS:
        _merge_into(merged, found[root])
    return merged


def _merge_into(target: dict[str, Need], source: Mapping[str, Need]) -> None:
    for name, need in source.items():
        mine = target.setdefault(name, Need())
        mine.merge(need.type, need.required)
        _merge_into(mine.fields, need.fields)


def inferred_schema(
    definition: WorkflowDefinition, agents: Mapping[str, AgentRecord] | None = None
) -> dict[str, Any] | None:
    """An open object schema of the fields the templates read from the run's input; None when they read none."""
    needs = payload_needs(definition, agents)
    if not needs:
        return None
    return _object_schema(needs, open_=True)


# --- why a step failed ---------------------------------------------------------------------------------------------


def failure_hint(
    definition: WorkflowDefinition, key: str, payload: Any, agents: Mapping[str, AgentRecord] | None = None
) -> str | None:
    """What to change in the run's input so that step `key` gets what its templates read; None when it has it all.

    For example "enrich needs input.email: add it to the run's input".
    """
    if key not in {n.key for n in definition.nodes}:
        return None
    found = _needs(definition, agents, only=key)
    missing: list[str] = []
    wrong: list[str] = []
    for root in ROOTS:
        _check(found[root], payload, root, missing, wrong)
    if missing:
        names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
        return f"{key} needs {names}: add {'them' if len(missing) > 1 else 'it'} to the run's input"
    if wrong:
        return f"{key} needs {'; '.join(wrong)}: change it in the run's input"
    return None


def _check(needs: Mapping[str, Need], value: Any, prefix: str, missing: list[str], wrong: list[str]) -> None:
    for name, need in needs.items():
        shown = f"{prefix}.{name}"
        present = isinstance(value, dict) and name in value
        if not present:
            if need.required and shown not in missing:
                missing.append(shown)
            continue
        item = value[name]
        if need.fields:
            _check(need.fields, item, shown, missing, wrong)
        elif need.type is not None and item is not None and not _fits(item, need.type):
            wrong.append(f"{shown} to be {_article(need.type)}, not {_described(item)}")


def _fits(value: Any, type_name: str) -> bool:
    if type_name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if type_name == "array":
        return isinstance(value, list)
    return True


def _article(type_name: str) -> str:
    return f"an {type_name}" if type_name[0] in "aeiou" else f"a {type_name}"


def _described(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f'the text "{shown}"'
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return "an object" if isinstance(value, dict) else "a list"
