"""What every public shape shares: snake_case in Python, camelCase on the wire, times in UTC with a ``Z``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, Field, field_serializer
from pydantic.alias_generators import to_camel
from sqlmodel import SQLModel
from sqlmodel._compat import SQLModelConfig

from app import clock
from app.engine.callbacks import MAX_CALLBACK_URL_LENGTH, callback_url_problem
from app.engine.exceptions import InvalidInput

__all__ = ["CallbackUrl", "Input", "Label", "Name", "Page", "Public", "check_name", "name_problem"]

T = TypeVar("T")


class Public(SQLModel):
    """A shape the API sends: camelCase names on the wire (snake_case accepted too), ISO-8601 UTC times."""

    model_config = SQLModelConfig(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    @field_serializer("*", when_used="json")
    def _times(self, value: Any) -> Any:
        return clock.iso(value) if isinstance(value, datetime) else value


class Input(Public):
    """A shape a client sends: like `Public`, and unknown fields are refused."""

    model_config = SQLModelConfig(extra="forbid")


@dataclass
class Page(Generic[T]):
    """One numbered page of a list (the ordered-steps API's paging)."""

    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.size else 0


def _callback_url(value: str) -> str:
    problem = callback_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


CallbackUrl = Annotated[
    str,
    Field(
        max_length=MAX_CALLBACK_URL_LENGTH,
        description="Where the run's result is POSTed, signed, when it ends (http or https).",
        examples=["https://example.com/hooks/flowyard"],
    ),
    AfterValidator(_callback_url),
]
"""A run's callback URL, checked as the run call checks it."""


# Control characters (C0, DEL, C1) and the marks that change the direction text is shown in: in a name
# they hide or reorder what the name shows ("invoice\u202egpj.exe" shows as "invoiceexe.jpg").
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def name_problem(value: str, *, required: bool = True) -> str | None:
    """Why `value` cannot be a name people give something (a workflow, an agent, a schedule…), or None.

    A name is not only spaces and holds no control characters or text-direction marks; an optional one
    (`required=False`, a step's label) may be empty.
    """
    if not value.strip() and (required or value):
        return "must not be empty or only spaces" if required else "must not be only spaces"
    found = _HIDDEN.search(value)
    if found is not None:
        return f"must not contain control characters or text-direction marks (it has U+{ord(found.group()):04X})"
    return None


def check_name(field: str, value: str, *, required: bool = True) -> str:
    """`value`, or InvalidInput naming `field` when it cannot be a name (for what pages hand the services)."""
    problem = name_problem(value, required=required)
    if problem:
        raise InvalidInput(field, problem)
    return value


def _name(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _label(value: str) -> str:
    problem = name_problem(value, required=False)
    if problem:
        raise ValueError(problem)
    return value


Name = Annotated[str, AfterValidator(_name)]
"""A name someone gives a thing: not blank, no control characters or text-direction marks."""
Label = Annotated[str, AfterValidator(_label)]
"""An optional name (empty is fine), under the same rules as `Name` otherwise."""
