"""Sessions: list, read and forget the conversations llm steps keep across runs with the same session id."""

from __future__ import annotations

import builtins

from app.engine.exceptions import InvalidInput, NotFound
from app.models.sessions import SessionDetail, SessionMessagePublic, SessionPage, SessionPublic
from storage import sessions as store
from storage.db import Database

__all__ = ["SessionService"]


class SessionService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, *, after: str | None = None, size: int = 50) -> SessionPage:
        """Sessions with their message count, most recently used first; pass `next_cursor` as `after`."""
        if not 1 <= size <= 500:
            raise InvalidInput("size", "between 1 and 500")
        return await self._db.read(lambda c: store.list_sessions(c, after=after, size=size))

    async def get(self, session_id: str) -> SessionPublic:
        found = await self._db.read(lambda c: store.session_summary(c, session_id))
        if found is None:
            raise NotFound("session", session_id)
        return found

    async def messages(self, session_id: str) -> builtins.list[SessionMessagePublic]:
        """Every message the session's llm steps exchanged, oldest first. Raises NotFound."""
        await self.get(session_id)
        return await self._db.read(lambda c: store.session_messages(c, session_id))

    async def detail(self, session_id: str) -> SessionDetail:
        """One session with every message, oldest first. Raises NotFound."""
        summary = await self.get(session_id)
        messages = await self._db.read(lambda c: store.session_messages(c, session_id))
        return SessionDetail(**summary.model_dump(), messages=messages)

    async def clear(self, session_id: str) -> None:
        """Forget a session and its messages: later runs with its id start a fresh conversation."""
        if not await self._db.write(lambda c: store.clear_session(c, session_id)):
            raise NotFound("session", session_id)
