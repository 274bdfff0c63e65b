"""Input mapping: templates rendered in Jinja2's sandbox, with native types, over one context.

The context is the same everywhere a template is rendered (runs, editor previews, the API):

- ``input``   the node's input: the run payload for an entry node, otherwise the previous node's
              output (with several predecessors, a dict of their outputs by node key)
- ``payload`` the run's initial payload
- ``nodes``   ``nodes.<key>.output`` for every upstream node that completed
- ``run``     ``run.id``, ``run.sessionId``, ``run.workflowId``

Text without ``{{`` or ``{%`` is taken literally. A template that is a single expression yields
that expression's value with its type (``{{ input.items }}`` is a list, not its repr); other output
that reads as a Python literal of up to 20,000 characters is that value (``[{{ a }}, {{ b }}]``).

Templates render within limits of work, time and size (`app.engine.sandbox`): a template that breaks
one fails with a MappingError that names it, and one that cannot compile is a problem of its workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError

from app.engine import sandbox
from app.engine.exceptions import MappingError
from app.engine.sandbox import TemplateLimit, metered

__all__ = [
    "CONTEXT_NAMES",
    "build_context",
    "is_template",
    "metered",
    "referenced_nodes",
    "render",
    "render_value",
    "template_problems",
]

CONTEXT_NAMES = frozenset({"input", "payload", "nodes", "run"})
MAX_TEMPLATE_CHARS = 100_000


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


@lru_cache(maxsize=4096)
def _compile(source: str) -> sandbox.Compiled:
    return sandbox.compile_template(source)


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
        raise MappingError(template[:80] + "…", f"longer than {MAX_TEMPLATE_CHARS:,} characters", node=node)
    try:
        value = sandbox.render(_compile(template), context)
        _fail_if_undefined(value)
        return value
    except TemplateSyntaxError as exc:
        raise MappingError(template, f"syntax error on line {exc.lineno}: {exc.message}", node=node) from None
    except UndefinedError as exc:
        raise MappingError(template, exc.message or "undefined value", node=node) from None
    except TemplateLimit as exc:
        raise MappingError(template, str(exc), node=node) from None
    except SecurityError as exc:
        raise MappingError(template, f"not allowed: {exc}", node=node) from None
    except Exception as exc:  # a template may fail in any filter or operator (and Python's own limits)
        raise MappingError(template, f"{type(exc).__name__}: {exc}", node=node) from None


def _fail_if_undefined(value: Any) -> None:
    """Raise for an Undefined in a rendered value: a lone expression, or one inside a dict or list it built
    (`{{ {'domain': input.email} }}` without an email), hands it back instead of failing."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    elif isinstance(value, dict):
        for item in value.values():
            _fail_if_undefined(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _fail_if_undefined(item)


def render_value(value: Any, context: Mapping[str, Any], *, node: str | None = None) -> Any:
    """Render every string inside a JSON-like value (dicts and lists are walked), all on one budget."""
    with sandbox.metered():
        return _render_value(value, context, node)


def _render_value(value: Any, context: Mapping[str, Any], node: str | None) -> Any:
    if isinstance(value, str):
        return render(value, context, node=node)
    if isinstance(value, dict):
        return {key: _render_value(item, context, node) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(item, context, node) for item in value]
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
    """(problems, referenced node keys) of one template; cached, since definitions are checked often.

    The template is compiled too, so that whatever would stop it from compiling at run time is a
    problem of the definition now (compiling evaluates nothing the template wrote).
    """
    if len(text) > MAX_TEMPLATE_CHARS:
        return (f"template {text[:80]!r}…: longer than {MAX_TEMPLATE_CHARS:,} characters",), frozenset()
    try:
        ast = sandbox.parse(text)
        _compile(text)
        unknown = sorted(meta.find_undeclared_variables(ast) - CONTEXT_NAMES)
    except TemplateSyntaxError as exc:
        return (f"template {_shown(text)}: syntax error on line {exc.lineno}: {exc.message}",), frozenset()
    except TemplateLimit as exc:
        return (f"template {_shown(text)}: {exc}",), frozenset()
    problems: tuple[str, ...] = ()
    if unknown:
        names = ", ".join(unknown)
        problems = (f"template {_shown(text)} uses unknown name(s) {names}; use input, payload, nodes or run",)
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
    broken = sandbox.constant_problem(ast)  # last: it changes the tree
    if broken is not None:
        problems = (*problems, f"template {_shown(text)}: {broken}")
    return problems, frozenset(keys)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 200 else repr(text[:200]) + "…"


def template_problems(value: Any) -> list[str]:
    """Reasons the templates inside `value` can never render: syntax errors and unknown names."""
    return [problem for text in _strings(value) if is_template(text) for problem in _analyse(text)[0]]


def referenced_nodes(value: Any) -> set[str]:
    """Node keys a template refers to as ``nodes.<key>`` or ``nodes['<key>']``."""
    return {key for text in _strings(value) if is_template(text) for key in _analyse(text)[1]}
