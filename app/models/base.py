"""What every public shape shares: snake_case in Python, camelCase on the wire, times in UTC with a ``Z``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, Field, field_serializer
from pydantic.alias_generators import to_camel
from sqlmodel import SQLModel
from sqlmodel._compat import SQLModelConfig

from app import clock
from app.engine.callbacks import MAX_CALLBACK_URL_LENGTH, callback_url_problem

__all__ = ["CallbackUrl", "Input", "Page", "Public"]

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
