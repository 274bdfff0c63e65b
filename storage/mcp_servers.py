"""MCP server rows: the servers Flowyard connects to, their secrets sealed by the application before they get here."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import McpServerRow

__all__ = ["find_server", "get_server_by_name", "list_servers"]


def get_server_by_name(session: Session, *, name: str) -> McpServerRow | None:
    return session.exec(select(McpServerRow).where(McpServerRow.name == name)).first()


def find_server(session: Session, *, key: str) -> McpServerRow | None:
    """The server whose id is `key`, else the one named `key`."""
    return session.get(McpServerRow, key) or get_server_by_name(session, name=key)


def list_servers(session: Session) -> list[McpServerRow]:
    return list(session.exec(select(McpServerRow).order_by(col(McpServerRow.name))).all())
