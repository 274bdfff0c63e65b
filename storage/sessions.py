"""Sessions: the conversation memory llm steps share across runs with the same session id.

`SqlSessionMemory` satisfies the agents' `SessionMemory` protocol (without importing it) over the
`sessions` and `session_messages` tables; the functions below it list, read and clear sessions
for the application's services.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app import clock
from app.models.sessions import SessionMessagePublic, SessionPage, SessionPublic
from storage.db import Database
from storage.models import messages, sessions

__all__ = [
    "SqlSessionMemory",
    "clear_session",
    "list_sessions",
    "session_messages",
    "session_summary",
]


class SqlSessionMemory:
    """Session memory on SQL. `window` is how many earlier messages `history` gives when not told."""

    def __init__(self, db: Database, *, window: int = 20, now: Callable[[], datetime] = clock.now) -> None:
        self.db = db
        self.window = window
        self._now = now

    async def history(self, session_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The last `limit` messages ({"role", "content"}), oldest first; None: the configured window."""
        count = self.window if limit is None else limit
        if count <= 0:
            return []
        return await self.db.run(self._history, session_id, count)

    def _history(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        query = (
            sa.select(messages.c.role, messages.c.content)
            .where(messages.c.session_id == session_id)
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        with self.db.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_message(row.role, row.content) for row in reversed(rows)]

    async def append(self, session_id: str, messages: list[dict[str, Any]], *, run_id: str, node_key: str) -> None:
        """Keep `messages` after the session's earlier ones, creating the session on its first message."""
        await self.db.run(self._append, session_id, messages, run_id, node_key)

    def _append(self, session_id: str, new: list[dict[str, Any]], run_id: str, node_key: str) -> None:
        now = self._now()
        with self.db.engine.begin() as conn:
            touched = conn.execute(sessions.update().where(sessions.c.id == session_id).values(updated_at=now))
            if touched.rowcount == 0:
                conn.execute(sessions.insert().values(id=session_id, created_at=now, updated_at=now))
            if new:
                conn.execute(
                    messages.insert(),
                    [
                        {
                            "session_id": session_id,
                            "run_id": run_id,
                            "node_key": node_key,
                            **_row(m),
                            "created_at": now,
                        }
                        for m in new
                    ],
                )


TOOL_CALLS = "tool_calls"
"""The role an assistant message that calls tools is kept under (its content: JSON of its text and calls)."""


def _row(message: dict[str, Any]) -> dict[str, str]:
    """A message as a row: tool calls and tool results keep their structure as JSON in the content."""
    if message.get("tool_calls"):
        content = {"content": message.get("content"), "tool_calls": message["tool_calls"]}
        return {"role": TOOL_CALLS, "content": json.dumps(content, ensure_ascii=False)}
    if message.get("role") == "tool":
        content = {"tool_call_id": message.get("tool_call_id"), "content": message.get("content")}
        return {"role": "tool", "content": json.dumps(content, ensure_ascii=False)}
    return {"role": str(message["role"]), "content": str(message.get("content") or "")}


def _message(role: str, content: str) -> dict[str, Any]:
    if role not in (TOOL_CALLS, "tool"):
        return {"role": role, "content": content}
    try:
        data = json.loads(content)
    except ValueError:
        return {"role": "assistant" if role == TOOL_CALLS else "tool", "content": content}
    if role == TOOL_CALLS:
        return {"role": "assistant", "content": data.get("content"), "tool_calls": data.get("tool_calls") or []}
    return {"role": "tool", "tool_call_id": data.get("tool_call_id"), "content": data.get("content") or ""}


def _summaries(conn: sa.Connection, where: Any, limit: int) -> list[SessionPublic]:
    count = (
        sa.select(sa.func.count()).select_from(messages).where(messages.c.session_id == sessions.c.id).scalar_subquery()
    )
    query = (
        sa.select(sessions.c.id, count.label("messages"), sessions.c.created_at, sessions.c.updated_at)
        .where(where)
        .order_by(sessions.c.updated_at.desc(), sessions.c.id.desc())
        .limit(limit)
    )
    return [
        SessionPublic(id=r.id, message_count=int(r.messages), created_at=r.created_at, updated_at=r.updated_at)
        for r in conn.execute(query).all()
    ]


def list_sessions(conn: sa.Connection, *, after: str | None, size: int) -> SessionPage:
    """Sessions, most recently used first. `after` is the id of the last session of the previous page."""
    where: Any = sa.true()
    if after is not None:
        last = conn.execute(sa.select(sessions.c.updated_at).where(sessions.c.id == after)).first()
        if last is None:
            return SessionPage(content=[], next_cursor=None)
        where = sa.or_(
            sessions.c.updated_at < last.updated_at,
            sa.and_(sessions.c.updated_at == last.updated_at, sessions.c.id < after),
        )
    items = _summaries(conn, where, size + 1)
    more = len(items) > size
    items = items[:size]
    return SessionPage(content=items, next_cursor=items[-1].id if more and items else None)


def session_summary(conn: sa.Connection, session_id: str) -> SessionPublic | None:
    found = _summaries(conn, sessions.c.id == session_id, 1)
    return found[0] if found else None


def session_messages(conn: sa.Connection, session_id: str) -> list[SessionMessagePublic]:
    """Every message of the session, oldest first."""
    query = sa.select(messages).where(messages.c.session_id == session_id).order_by(messages.c.id)
    return [SessionMessagePublic.model_validate(r._mapping) for r in conn.execute(query).all()]


def clear_session(conn: sa.Connection, session_id: str) -> bool:
    """Forget the session and its messages; False when there was none."""
    conn.execute(messages.delete().where(messages.c.session_id == session_id))
    return conn.execute(sessions.delete().where(sessions.c.id == session_id)).rowcount > 0
