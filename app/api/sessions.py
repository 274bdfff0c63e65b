"""Sessions (`/api/v1/sessions`): the conversations llm steps keep across runs with the same session id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import SessionsDep
from app.api.openapi import not_found
from app.models.sessions import SessionDetail, SessionPage

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["sessions"])


@router.get("/sessions", response_model=SessionPage)
async def list_sessions(
    sessions: SessionsDep,
    after: Annotated[str | None, Query(max_length=200, description="`nextCursor` of the previous page.")] = None,
    size: Annotated[int, Query(ge=1, le=500, description="Sessions per page.")] = 50,
) -> SessionPage:
    """Conversation sessions of llm steps, most recently used first."""
    return await sessions.list(after=after, size=size)


@router.get("/sessions/{session_id}", response_model=SessionDetail, responses=not_found("session"))
async def get_session(session_id: str, sessions: SessionsDep) -> SessionDetail:
    """One session with every message its llm steps exchanged, oldest first."""
    return await sessions.detail(session_id)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=not_found("session"))
async def clear_session(session_id: str, sessions: SessionsDep) -> Response:
    """Forget a session: later runs with its id start a fresh conversation."""
    await sessions.clear(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
