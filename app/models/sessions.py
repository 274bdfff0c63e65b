"""Sessions: the conversation memory that llm steps of runs with the same session id share."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import Public

__all__ = ["SessionDetail", "SessionMessageBase", "SessionMessagePublic", "SessionPage", "SessionPublic"]


class SessionPublic(Public):
    id: str
    message_count: int
    created_at: datetime
    updated_at: datetime


class SessionMessageBase(SQLModel):
    run_id: str | None = Field(default=None, max_length=40)
    node_key: str | None = Field(default=None, max_length=64)
    role: str = Field(max_length=16)
    content: str


class SessionMessagePublic(SessionMessageBase, Public):
    created_at: datetime


class SessionDetail(SessionPublic):
    messages: list[SessionMessagePublic]


class SessionPage(Public):
    content: list[SessionPublic]
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null on the last one.")
