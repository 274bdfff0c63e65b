"""The sandbox every template renders in: Jinja2's immutable sandbox, native types, and limits.

Templates come from whoever edits a workflow and render inside the server's event loop, so a template
must not be able to freeze or exhaust the process. On top of Jinja2's sandbox (no private attributes,
no mutation of lists and dicts), each render is held to:

- work: every operator, call, filter, attribute or item lookup and loop iteration spends from a budget
  of `MAX_OPERATIONS` (work on large values spends more), and a render stops after `MAX_SECONDS`;
- size: no text, list or dict over `limits.MAX_SIZE`, no output over `limits.MAX_OUTPUT` characters,
  no integer over `limits.MAX_INT_DIGITS` digits, no `range()` over `limits.MAX_RANGE` numbers; a value
  too large is refused before it is built (`app.engine.limits`).

Compiling evaluates nothing a template wrote: Jinja2 folds constant expressions while it compiles
(`{{ 9**9**9 }}` would run right there), but it never folds an intercepted operator or a filter that
takes the render's context, and here every operator is intercepted and every filter takes the context.
Whatever goes wrong while compiling comes out as TemplateSyntaxError or TemplateLimit.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes, pass_context
from jinja2.nativetypes import NativeEnvironment
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from app.engine.limits import (
    MAX_INT_DIGITS,
    MAX_OUTPUT,
    MAX_RANGE,
    TemplateLimit,
    TemplateStopped,
    check_call,
    check_filter,
    check_operator,
    check_text,
    checked,
    repeated_size,
    size,
    text_size,
)

__all__ = [
    "MAX_LITERAL_CHARS",
    "MAX_OPERATIONS",
    "MAX_SECONDS",
    "Compiled",
    "TemplateLimit",
    "compile_template",
    "constant_problem",
    "metered",
    "parse",
    "render",
]

MAX_OPERATIONS = 100_000
"""What one render may spend: an operation, a call, a lookup or a loop iteration each costs one, and
work on a large value one more per `SIZE_UNIT` characters or items."""
MAX_SECONDS = 0.05
"""How long one render may run, whatever it spends: it holds the event loop meanwhile."""
SIZE_UNIT = 64
MAX_LITERAL_CHARS = 20_000
"""Longest output read back as a Python literal (``[1, 2]`` → a list): reading takes up to a microsecond a
character, so a longer output stays text."""

_EACH = "__flowyard_each"
_JOIN = "__flowyard_join"


class _Budget:
    __slots__ = ("deadline", "left")

    def __init__(self) -> None:
        self.left = MAX_OPERATIONS
        self.deadline = time.monotonic() + MAX_SECONDS


_budget: ContextVar[_Budget | None] = ContextVar("flowyard_template_budget", default=None)


@contextmanager
def metered() -> Iterator[None]:
    """One budget for every render inside the block (say, all the templates of one step's mapping), unless
    a block around it has one already."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_Budget())
    try:
        yield
    finally:
        _budget.reset(token)


def _spend(cost: int = 1) -> None:
    """Spend from the current render's budget; stop the render when it is spent or its time is up."""
    budget = _budget.get()
    if budget is None:  # outside a render (Jinja2 looking at constants while it compiles): nothing to stop
        return
    budget.left -= cost
    if budget.left < 0:
        raise TemplateStopped(f"stopped: the template needs more than {MAX_OPERATIONS:,} operations")
    if time.monotonic() > budget.deadline:
        raise TemplateStopped(f"stopped: the template ran longer than {MAX_SECONDS * 1000:g} ms")


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        count = len(numbers)
    except OverflowError:
        count = MAX_RANGE + 1
    if count > MAX_RANGE:
        raise TemplateLimit(f"range() gives at most {MAX_RANGE:,} numbers in a template")
    return numbers


def _concat(values: Iterable[Any]) -> Any:
    """Join what a render, macro or block writes, as Jinja2's native concat does, up to `MAX_OUTPUT` characters.

    One value alone is handed back as it is (``{{ input.items }}`` is a list); several are joined as text.
    """
    chunks: list[Any] = []
    total = 0
    for chunk in values:
        chunks.append(chunk)
        if len(chunks) == 2:
            total = text_size(chunks[0], MAX_OUTPUT)
        if len(chunks) >= 2:
            total += text_size(chunk, MAX_OUTPUT - total)
            if total > MAX_OUTPUT:
                raise TemplateLimit(f"the output is longer than {MAX_OUTPUT:,} characters")
    _spend(total // SIZE_UNIT)
    return _native(chunks)


def _native(chunks: list[Any]) -> Any:
    """Jinja2's `native_concat`, reading back only outputs of up to `MAX_LITERAL_CHARS` characters."""
    if not chunks:
        return None
    if len(chunks) == 1 and not isinstance(chunks[0], str):
        return chunks[0]
    raw = chunks[0] if len(chunks) == 1 else "".join([str(chunk) for chunk in chunks])
    if len(raw) > MAX_LITERAL_CHARS:
        return raw
    try:
        # like Jinja2: parsed first, so that leading spaces and tabs are kept
        return ast.literal_eval(ast.parse(raw, mode="eval"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return raw


@pass_context
def _each(_context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` iterates through: each item spends from the budget."""
    for item in iterable:
        _spend()
        yield item


@pass_context
def _join(_context: Context, parts: list[Any]) -> str:
    """What every `~` becomes: the text of its operands, measured before it is made."""
    check_text(parts)
    _spend(1 + sum(map(size, parts)) // SIZE_UNIT)
    text: str = checked("".join(map(str, parts)))
    return text


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (a filter) spending from the budget, refused when its result would be too large, and
    taking the render's context, so that Jinja2 never runs it while it compiles."""
    passes = getattr(getattr(function, "jinja_pass_arg", None), "name", None)

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        _spend(1 + (size(value) + sum(map(size, args))) // SIZE_UNIT)
        value = check_filter(name, value, args, kwargs)
        if passes == "context":
            result = function(context, value, *args, **kwargs)
        elif passes == "eval_context":
            result = function(context.eval_ctx, value, *args, **kwargs)
        elif passes == "environment":
            result = function(context.environment, value, *args, **kwargs)
        else:
            result = function(value, *args, **kwargs)
        return checked(result)

    guarded.__name__ = getattr(function, "__name__", name)
    return guarded


class _SandboxedNativeEnvironment(ImmutableSandboxedEnvironment, NativeEnvironment):
    """Jinja2's immutable sandbox producing native values, with every operator, call and filter metered.

    On JSON objects a key wins over a method of the same name: ``payload.items`` is the payload's
    ``items`` field, not ``dict.items`` (the data people map is JSON, not Python).
    """

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})
    concat = staticmethod(_concat)

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, optimized=False)
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)  # lorem ipsum of any length: nothing a mapping needs
        self.filters = {name: _guarded(name, function) for name, function in self.filters.items()}
        self.filters[_EACH] = _each
        self.filters[_JOIN] = _join

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _spend(1 + (size(left) + size(right)) // SIZE_UNIT)
        check_operator(operator, left, right)
        return checked(self.binop_table[operator](left, right))

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        _spend()
        return self.unop_table[operator](arg)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        work = sum(map(size, args))
        if isinstance(obj, LoopContext):  # a recursive loop's `loop(items)` iterates its items here
            work *= SIZE_UNIT
        _spend(1 + work // SIZE_UNIT)
        args = check_call(obj, args, kwargs)
        return checked(super().call(context, obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _spend()
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _spend()
        return super().getitem(obj, argument)


_env = _SandboxedNativeEnvironment()


class _Metered(NodeTransformer):
    """Rewrites a parsed template so that what the sandbox cannot see passes through it: every loop
    iterates through `_each`, every `~` is `_join`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _EACH, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, _JOIN, [], [], None, None, lineno=node.lineno)


@dataclass(frozen=True)
class Compiled:
    """A template ready to render; `lookup` when it is one expression that only looks a value up (such as
    ``{{ nodes.fetch.output }}``), which hands back the context's own data and builds nothing."""

    template: Template
    lookup: bool


def parse(source: str) -> nodes.Template:
    """The template's syntax tree. Raises TemplateSyntaxError, or TemplateLimit for what Jinja2 cannot parse."""
    try:
        return _env.parse(source)
    except TemplateSyntaxError:
        raise
    except Exception as exc:
        raise _compile_limit(exc) from None


def compile_template(source: str) -> Compiled:
    """Compile a template without evaluating any of it. Raises TemplateSyntaxError or TemplateLimit."""
    tree = parse(source)
    lookup = _is_lookup(tree)
    try:
        return Compiled(_env.from_string(_metered(tree)), lookup)
    except TemplateSyntaxError:
        raise
    except Exception as exc:
        raise _compile_limit(exc) from None


def _compile_limit(exc: Exception) -> TemplateLimit:
    if isinstance(exc, TemplateLimit):
        return exc
    if isinstance(exc, RecursionError):
        return TemplateLimit("the template is nested too deeply to compile")
    if isinstance(exc, MemoryError):
        return TemplateLimit("the template is too large to compile")
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return TemplateLimit(f"a number over {MAX_INT_DIGITS:,} digits is not allowed in a template")
    return TemplateLimit(f"the template cannot be compiled: {type(exc).__name__}: {exc}")


def _is_lookup(tree: nodes.Template) -> bool:
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output) or len(tree.body[0].nodes) != 1:
        return False
    expr = tree.body[0].nodes[0]
    while isinstance(expr, nodes.Getattr | nodes.Getitem):
        if isinstance(expr, nodes.Getitem) and not isinstance(expr.arg, nodes.Const):
            return False
        expr = expr.node
    return isinstance(expr, nodes.Name)


_CONSTANT = (
    nodes.Const,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.BinExpr,
    nodes.UnaryExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.CondExpr,
)
MAX_CONSTANTS_CHECKED = 20


def constant_problem(tree: nodes.Template) -> str | None:
    """The limit that a part of the template made only of literals breaks whenever it runs, if one does:
    ``{{ (10**5000)|string }}``, ``{% for i in range(10**9) %}``. Each such part is rendered on its own,
    within the limits, on one budget; whatever else it raises is left to the render. Changes `tree`."""
    with metered():
        for expr in list(_constant_parts(tree))[:MAX_CONSTANTS_CHECKED]:
            alone = nodes.Template([nodes.Output([expr], lineno=expr.lineno)], lineno=1)
            try:
                render(Compiled(_env.from_string(_metered(alone)), lookup=False), {})
            except TemplateStopped:
                return None
            except TemplateLimit as exc:
                return str(exc)
            except Exception:  # a constant that fails otherwise fails at run time too, saying why
                continue
    return None


def _constant_parts(node: nodes.Node) -> Iterator[nodes.Expr]:
    if isinstance(node, nodes.Expr) and _is_constant(node):
        if not isinstance(node, nodes.Const):
            yield node
        return
    for child in node.iter_child_nodes():
        yield from _constant_parts(child)


def _is_constant(expr: nodes.Expr) -> bool:
    for node in expr.find_all(nodes.Node):
        if isinstance(node, nodes.Name):
            if node.name not in _env.globals:
                return False
        elif not isinstance(node, _CONSTANT):
            return False
    return True


def _metered(tree: nodes.Template) -> nodes.Template:
    _Metered().visit(tree)
    tree.set_environment(_env)
    return tree


def render(compiled: Compiled, context: Mapping[str, Any]) -> Any:
    """Render within the limits; raises TemplateLimit naming the one it broke, or what the template raised."""
    with metered():
        template = compiled.template
        value = _concat(template.root_render_func(template.new_context(dict(context))))
    if not compiled.lookup and repeated_size(value, MAX_OUTPUT) > MAX_OUTPUT:
        raise TemplateLimit(f"the result holds the same values over and over: more than {MAX_OUTPUT:,} characters")
    return value
