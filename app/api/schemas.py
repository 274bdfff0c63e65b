"""Shapes only the API has: the ordered-steps API's numbered pages (`content`, `totalElements`, `totalPages`).

Everything else the API sends or takes is an entity's public, create or update shape (`app.models`).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query

from app.models.base import Page, Public

__all__ = ["PageNumber", "PageOut", "PageSize", "page_out"]

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
