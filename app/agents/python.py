"""python: agent kinds that installed packages register through the `flowyard.agents` entry-point group.

An entry point names either an `AgentKind` subclass, used as it is, or a typed function (async or not)
that becomes a kind named after the entry point::

    async def enrich(email: str, company: str | None = None, *, api_base: str = "https://…") -> dict: ...

Its ordinary parameters are the node's input (an object with those fields; the input schema comes
from their annotations and defaults), its keyword-only parameters the kind's config, and what it
returns the node's output (as JSON: pydantic models, dataclasses, dates… are converted). A function
that takes one parameter also accepts an input that is not an object, as that parameter's value. A
parameter annotated `AgentContext` gets the node's context (its HTTP client, idempotency key…)
instead of input. The first line of the docstring is the kind's description.

A plugin that cannot be loaded is logged with its name and skipped: it never stops Flowyard starting.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic_core import to_jsonable_python

from app.agents.base import AgentContext, AgentKind, Group
from app.engine.exceptions import AgentError

__all__ = ["ENTRY_POINT_GROUP", "FunctionKind", "kind_from_function", "load_plugins"]

ENTRY_POINT_GROUP = "flowyard.agents"
KIND_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

log = logging.getLogger("flowyard.plugins")


class FunctionKind(AgentKind):
    """Base of the kinds made from plugin functions; `kind_from_function` fills the class variables."""

    group: ClassVar[str] = Group.INTEGRATIONS
    icon: ClassVar[str] = "extension"
    function: ClassVar[Callable[..., Any]]
    input_model: ClassVar[type[BaseModel]]
    context_parameter: ClassVar[str | None] = None
    """The parameter that receives the AgentContext, if the function declares one."""

    async def run(self, ctx: AgentContext) -> Any:
        fields = self.input_model.model_fields
        value = ctx.input
        if len(fields) == 1 and not isinstance(value, dict):
            value = {next(iter(fields)): value}
        if value is None and not any(f.is_required() for f in fields.values()):
            value = {}
        try:
            arguments = self.input_model.model_validate(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise AgentError(f"{self.kind}: the input does not fit: {problems}", retryable=False) from None
        kwargs: dict[str, Any] = {name: getattr(arguments, name) for name in fields}
        kwargs.update(self.model_dump())
        if self.context_parameter is not None:
            kwargs[self.context_parameter] = ctx
        function = type(self).function
        if inspect.iscoroutinefunction(function):
            result = await function(**kwargs)
        else:
            result = await asyncio.to_thread(function, **kwargs)
        return to_jsonable_python(result)


def kind_from_function(name: str, function: Callable[..., Any]) -> type[AgentKind]:
    """A kind called `name` that runs `function` (see the module's docstring). Raises TypeError when the
    function cannot be one: a parameter without an annotation, *args or **kwargs, an unknown type."""
    if not KIND_NAME.match(name):
        raise TypeError(f"'{name}' is not a kind name (lower-case letters, digits and _, starting with a letter)")
    hints = get_type_hints(function)
    inputs: dict[str, Any] = {}
    config: dict[str, Any] = {}
    context_parameter: str | None = None
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"{name}: *{parameter.name} cannot be described as input; name every parameter")
        if parameter.name not in hints:
            raise TypeError(f"{name}: parameter '{parameter.name}' needs a type annotation")
        annotation = hints[parameter.name]
        if annotation is AgentContext:
            context_parameter = parameter.name
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        target = config if parameter.kind is parameter.KEYWORD_ONLY else inputs
        target[parameter.name] = (annotation, default)
    if parameter_clash := sorted(set(config) & set(AgentKind.model_fields)):
        raise TypeError(f"{name}: config parameter(s) {', '.join(parameter_clash)} are reserved")
    title = name.replace("_", " ").capitalize()
    camel = "".join(part.capitalize() for part in name.split("_"))
    input_model = create_model(f"{camel}Input", __config__=ConfigDict(extra="forbid"), **inputs)
    kind = cast(
        "type[FunctionKind]",
        create_model(f"{camel}Kind", __base__=FunctionKind, __module__=function.__module__, **config),
    )
    kind.kind = name
    kind.title = title
    kind.description = (inspect.getdoc(function) or "").strip().split("\n", 1)[0]
    kind.function = staticmethod(function)
    kind.input_model = input_model
    kind.input_schema = _plain_schema(input_model.model_json_schema())
    kind.context_parameter = context_parameter
    return kind


def _plain_schema(schema: Any) -> Any:
    """The schema without pydantic's titles, which name Python classes and say nothing to a user."""
    if isinstance(schema, dict):
        return {k: _plain_schema(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_plain_schema(item) for item in schema]
    return schema


def load_plugins(taken: Iterable[str], *, found: Iterable[EntryPoint] | None = None) -> dict[str, type[AgentKind]]:
    """The kinds installed packages register (entry points of `found`, by default the installed group's).

    A plugin that fails to import, is neither a kind nor a function, or wants a name already taken is
    logged and skipped.
    """
    kinds: dict[str, type[AgentKind]] = {}
    names = set(taken)
    for entry in entry_points(group=ENTRY_POINT_GROUP) if found is None else found:
        try:
            kind = _kind_of(entry)
        except Exception as exc:  # a broken plugin must never stop Flowyard starting
            log.warning("skipping agent plugin '%s' (%s): %s: %s", entry.name, entry.value, type(exc).__name__, exc)
            continue
        if kind.kind in names:
            log.warning("skipping agent plugin '%s' (%s): kind '%s' exists already", entry.name, entry.value, kind.kind)
            continue
        names.add(kind.kind)
        kinds[kind.kind] = kind
        log.info("agent plugin '%s' adds kind '%s'", entry.name, kind.kind)
    return kinds


def _kind_of(entry: EntryPoint) -> type[AgentKind]:
    target = entry.load()
    if isinstance(target, type) and issubclass(target, AgentKind):
        if not isinstance(getattr(target, "kind", None), str) or not KIND_NAME.match(target.kind):
            raise TypeError(f"{target.__name__} needs a class variable `kind` (lower-case letters, digits and _)")
        if not getattr(target, "title", None):
            target.title = target.kind.replace("_", " ").capitalize()
        return target
    if inspect.isfunction(target) or inspect.iscoroutinefunction(target):
        return kind_from_function(entry.name, target)
    raise TypeError(f"{entry.value} is neither an AgentKind subclass nor a function")
