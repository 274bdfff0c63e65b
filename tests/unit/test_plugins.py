"""Python plugin kinds: typed functions and AgentKind classes registered through entry points."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import BaseModel

from app.agents import registry
from app.agents.base import AgentContext, AgentKind
from app.agents.python import ENTRY_POINT_GROUP, kind_from_function, load_plugins
from app.engine.exceptions import AgentError


class Contact(BaseModel):
    email: str
    score: int


async def score(email: str, bonus: int = 0, *, base: int = 10) -> Contact:
    """Scores a contact.

    More text that is not the description.
    """
    return Contact(email=email, score=base + bonus)


def shout(text: str) -> str:
    return text.upper()


async def who_calls(name: str, ctx: AgentContext) -> str:
    return f"{name} in {ctx.run_id}:{ctx.node_key}"


class Echo(AgentKind):
    kind: ClassVar[str] = "echo_plugin"

    async def run(self, ctx: AgentContext) -> Any:
        return ctx.input


@pytest.fixture
def plugin_module() -> Iterator[str]:
    """An importable module `fy_test_plugins` holding the plugins above (and one that is not a plugin)."""
    module = types.ModuleType("fy_test_plugins")
    module.score = score  # type: ignore[attr-defined]
    module.Echo = Echo  # type: ignore[attr-defined]
    module.NOT_A_PLUGIN = 42  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


def _entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


async def _run(kind: AgentKind, value: Any) -> Any:
    async with httpx.AsyncClient() as http:
        ctx = AgentContext(run_id="wr-1", node_key="n", action="", input=value, mapping_context={}, http=http)
        return await kind.run(ctx)


# --- functions become kinds ------------------------------------------------------------------------------------------


def test_function_kind_takes_its_input_schema_from_the_signature() -> None:
    kind = kind_from_function("score", score)

    assert kind.kind == "score"
    assert kind.title == "Score"
    assert kind.description == "Scores a contact."
    assert kind.input_schema == {
        "type": "object",
        "properties": {"email": {"type": "string"}, "bonus": {"type": "integer", "default": 0}},
        "required": ["email"],
        "additionalProperties": False,
    }


def test_function_kind_takes_its_config_from_keyword_only_parameters() -> None:
    kind = kind_from_function("score", score)

    assert set(kind.model_json_schema()["properties"]) == {"base"}
    assert kind.model_validate({"base": 5}).model_dump() == {"base": 5}


async def test_function_kind_runs_the_function_with_input_and_config() -> None:
    kind = kind_from_function("score", score)

    output = await _run(kind.model_validate({"base": 100}), {"email": "ada@example.com", "bonus": 2})

    assert output == {"email": "ada@example.com", "score": 102}


async def test_function_kind_with_input_that_does_not_fit_fails_naming_the_field() -> None:
    kind = kind_from_function("score", score)

    with pytest.raises(AgentError) as failed:
        await _run(kind(), {"bonus": "lots"})

    assert "email: Field required" in str(failed.value)
    assert "bonus: Input should be a valid integer" in str(failed.value)
    assert not failed.value.retryable


async def test_function_of_one_parameter_takes_a_plain_input_and_may_be_sync() -> None:
    kind = kind_from_function("shout", shout)

    assert await _run(kind(), "hey") == "HEY"
    assert await _run(kind(), {"text": "ho"}) == "HO"


async def test_function_asking_for_the_context_gets_it() -> None:
    kind = kind_from_function("who_calls", who_calls)

    assert kind.input_schema["properties"] == {"name": {"type": "string"}}
    assert await _run(kind(), "Ada") == "Ada in wr-1:n"


def test_function_with_an_unannotated_parameter_cannot_be_a_kind() -> None:
    def loose(value):  # type: ignore[no-untyped-def]
        return value

    with pytest.raises(TypeError, match="parameter 'value' needs a type annotation"):
        kind_from_function("loose", loose)


# --- loading entry points ------------------------------------------------------------------------------------------


def test_load_plugins_reads_functions_and_kind_classes(plugin_module: str) -> None:
    kinds = load_plugins(
        ["transform"], found=[_entry("score", f"{plugin_module}:score"), _entry("echo", f"{plugin_module}:Echo")]
    )

    assert list(kinds) == ["score", "echo_plugin"]
    assert kinds["echo_plugin"] is Echo
    assert kinds["echo_plugin"].title == "Echo plugin"


def test_broken_plugins_are_logged_by_name_and_skipped(plugin_module: str, caplog: pytest.LogCaptureFixture) -> None:
    found = [
        _entry("missing_module", "fy_no_such_module:thing"),
        _entry("not_a_plugin", f"{plugin_module}:NOT_A_PLUGIN"),
        _entry("transform", f"{plugin_module}:score"),
        _entry("score", f"{plugin_module}:score"),
    ]

    with caplog.at_level(logging.WARNING, logger="flowyard.plugins"):
        kinds = load_plugins(["transform"], found=found)

    assert list(kinds) == ["score"]
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 3
    assert "skipping agent plugin 'missing_module'" in skipped[0]
    assert "ModuleNotFoundError" in skipped[0]
    assert "skipping agent plugin 'not_a_plugin'" in skipped[1]
    assert "kind 'transform' exists already" in skipped[2]


def test_installed_example_plugin_is_registered() -> None:
    assert {"enrich", "headline"} <= set(registry.PLUGIN_KINDS)
    assert registry.KINDS["enrich"] is registry.PLUGIN_KINDS["enrich"]
    assert registry.get_kind("headline") is registry.PLUGIN_KINDS["headline"]
