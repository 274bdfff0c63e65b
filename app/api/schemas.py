"""Shapes only the API has: the ordered-steps API's numbered pages (`content`, `totalElements`, `totalPages`),
the bodies of its refusals and the health check.

Everything else the API sends or takes is an entity's public, create or update shape (`app.models`).
Every refusal is JSON with a `detail` sentence (`ErrorOut`); a request that does not validate names each
field (`ValidationErrorOut`), a workflow that cannot run lists its problems (`WorkflowInvalidOut`).
`app.api.errors` builds its bodies from these, and `app.api.openapi` documents them.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from app.models.base import Page, Public

__all__ = [
    "ErrorOut",
    "FieldErrorOut",
    "Health",
    "PageNumber",
    "PageOut",
    "PageSize",
    "ProblemOut",
    "ValidationErrorOut",
    "WorkflowInvalidOut",
    "page_out",
]

T = TypeVar("T")

PageNumber = Annotated[int, Query(ge=0, le=10_000_000, description="Zero-based page number.")]
PageSize = Annotated[int, Query(ge=1, le=200, description="Items per page.")]


class PageOut(Public, Generic[T]):
    content: list[T]
    total_elements: int
    total_pages: int
    page: int
    size: int


def page_out(page: Page[Any]) -> dict[str, Any]:
    return {
        "content": page.items,
        "totalElements": page.total,
        "totalPages": page.pages,
        "page": page.page,
        "size": page.size,
    }


class ErrorOut(BaseModel):
    """A refusal: what went wrong, in one sentence."""

    detail: str


class FieldErrorOut(BaseModel):
    field: str = Field(description="The field, dotted as sent (`body` for the body as a whole).")
    message: str


class ValidationErrorOut(ErrorOut):
    """A request that does not validate: every field that cannot be accepted, and why."""

    errors: list[FieldErrorOut]


class ProblemOut(BaseModel):
    message: str
    node: str | None = Field(description="The step the problem concerns, if one.")
    edge: str | None = Field(description="The edge the problem concerns, if one.")
    field: str | None = Field(description="The step's field the problem concerns, if one.")


class WorkflowInvalidOut(ErrorOut):
    """A workflow that cannot run: every reason, tied to its step or edge."""

    problems: list[ProblemOut]


class Health(BaseModel):
    status: str = Field(description="`ok` once the app is ready; `starting` before.")
