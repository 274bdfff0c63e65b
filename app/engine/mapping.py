"""Input mapping: templates rendered in Jinja2's sandbox, with native types, over one context.

The context is the same everywhere a template is rendered (runs, editor previews, the API):

- ``input``   the node's input: the run payload for an entry node, otherwise the previous node's
              output (with several predecessors, a dict of their outputs by node key)
- ``payload`` the run's initial payload
- ``nodes``   ``nodes.<key>.output`` for every upstream node that completed
- ``run``     ``run.id``, ``run.sessionId``, ``run.workflowId``

Text without ``{{`` or ``{%`` is taken literally. A template that is a single expression yields
that expression's value with its type (``{{ input.items }}`` is a list, not its repr).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.engine.exceptions import MappingError

__all__ = [
    "CONTEXT_NAMES",
    "build_context",
    "is_template",
    "referenced_nodes",
    "render",
    "render_value",
    "template_problems",
]

CONTEXT_NAMES = frozenset({"input", "payload", "nodes", "run"})
MAX_TEMPLATE_CHARS = 100_000


class _SandboxedNativeEnvironment(ImmutableSandboxedEnvironment, NativeEnvironment):
    """Jinja2's immutable sandbox (no attribute tricks, no mutation) producing native values.

    On JSON objects a key wins over a method of the same name: ``payload.items`` is the payload's
    ``items`` field, not ``dict.items`` (the data people map is JSON, not Python).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_env = _SandboxedNativeEnvironment(undefined=StrictUndefined, autoescape=False)


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    return _env.from_string(source)


def build_context(
    *,
    input: Any,
    payload: Any,
    outputs: Mapping[str, Any],
    run_id: str = "",
    session_id: str | None = None,
    workflow_id: str = "",
) -> dict[str, Any]:
    """The mapping context for one node, from the values the executor (or a preview) has at hand."""
    return {
        "input": input,
        "payload": payload,
        "nodes": {key: {"output": value} for key, value in outputs.items()},
        "run": {"id": run_id, "sessionId": session_id, "workflowId": workflow_id},
    }


def render(template: str, context: Mapping[str, Any], *, node: str | None = None) -> Any:
    """Render one template; literal text comes back unchanged. Raises MappingError naming the reason."""
    if not is_template(template):
        return template
    if len(template) > MAX_TEMPLATE_CHARS:
        raise MappingError(template[:80] + "…", f"longer than {MAX_TEMPLATE_CHARS} characters", node=node)
    try:
        value = _compile(template).render(context)
        if isinstance(value, Undefined):  # a lone expression hands back the Undefined instead of failing
            value._fail_with_undefined_error()
        return value
    except TemplateSyntaxError as exc:
        raise MappingError(template, f"syntax error on line {exc.lineno}: {exc.message}", node=node) from None
    except UndefinedError as exc:
        raise MappingError(template, exc.message or "undefined value", node=node) from None
    except SecurityError as exc:
        raise MappingError(template, f"not allowed: {exc}", node=node) from None
    except Exception as exc:  # a template may fail in any filter or operator
        raise MappingError(template, f"{type(exc).__name__}: {exc}", node=node) from None


def render_value(value: Any, context: Mapping[str, Any], *, node: str | None = None) -> Any:
    """Render every string inside a JSON-like value (dicts and lists are walked)."""
    if isinstance(value, str):
        return render(value, context, node=node)
    if isinstance(value, dict):
        return {key: render_value(item, context, node=node) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context, node=node) for item in value]
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


@lru_cache(maxsize=4096)
def _analyse(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """(problems, referenced node keys) of one template; cached, since definitions are checked often."""
    try:
        ast = _env.parse(text)
    except TemplateSyntaxError as exc:
        return (f"template {text!r}: syntax error on line {exc.lineno}: {exc.message}",), frozenset()
    problems: tuple[str, ...] = ()
    unknown = sorted(meta.find_undeclared_variables(ast) - CONTEXT_NAMES)
    if unknown:
        names = ", ".join(unknown)
        problems = (f"template {text!r} uses unknown name(s) {names}; use input, payload, nodes or run",)
    keys: set[str] = set()
    for getattr_node in ast.find_all(nodes.Getattr):
        if isinstance(getattr_node.node, nodes.Name) and getattr_node.node.name == "nodes":
            keys.add(getattr_node.attr)
    for getitem in ast.find_all(nodes.Getitem):
        if (
            isinstance(getitem.node, nodes.Name)
            and getitem.node.name == "nodes"
            and isinstance(getitem.arg, nodes.Const)
            and isinstance(getitem.arg.value, str)
        ):
            keys.add(getitem.arg.value)
    return problems, frozenset(keys)


def template_problems(value: Any) -> list[str]:
    """Reasons the templates inside `value` can never render: syntax errors and unknown names."""
    return [problem for text in _strings(value) if is_template(text) for problem in _analyse(text)[0]]


def referenced_nodes(value: Any) -> set[str]:
    """Node keys a template refers to as ``nodes.<key>`` or ``nodes['<key>']``."""
    return {key for text in _strings(value) if is_template(text) for key in _analyse(text)[1]}
