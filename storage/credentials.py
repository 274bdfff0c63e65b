"""Credential rows: named secrets, encrypted by the application before they get here."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, select

from storage.models import AgentRow, CredentialRow, NodeRow, WorkflowRow

__all__ = ["agents_using_credential", "get_credential", "list_credentials", "workflows_using_credential"]


def get_credential(session: Session, *, name: str) -> CredentialRow | None:
    return session.exec(select(CredentialRow).where(CredentialRow.name == name)).first()


def list_credentials(session: Session) -> list[CredentialRow]:
    return list(session.exec(select(CredentialRow).order_by(col(CredentialRow.name))).all())


def _refers_to(config: object, name: str) -> bool:
    return isinstance(config, Mapping) and config.get("credential") == name


def agents_using_credential(session: Session, *, name: str) -> list[tuple[str, str]]:
    """(agent id, agent name) of every saved agent whose config names credential `name`."""
    rows = session.exec(select(AgentRow).order_by(col(AgentRow.id))).all()
    return [(row.id, row.name) for row in rows if _refers_to(row.config, name)]


def workflows_using_credential(session: Session, *, name: str) -> list[tuple[str, str]]:
    """(workflow id, workflow name) of every workflow with a node whose own config names credential `name`."""
    query = select(WorkflowRow.id, WorkflowRow.name, NodeRow.config).join(
        NodeRow, col(NodeRow.workflow_id) == col(WorkflowRow.id)
    )
    found: dict[str, str] = {}
    for workflow_id, workflow_name, config in session.exec(query).all():
        if _refers_to(config, name):
            found[workflow_id] = workflow_name
    return sorted(found.items())
