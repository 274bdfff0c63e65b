"""Opening the stores under test, and publishing what a run reads besides itself.

The engine's store protocol only reads workflow versions and agents; the app writes them through
its own tables (SQL) or `put_*` helpers (memory). `seed_for` hides that one difference so the
contract tests read the same for every store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

from sqlmodel import Session

from app.engine.memory import InMemoryRunStore
from app.engine.model import WorkflowDefinition
from app.engine.store import AgentRecord, RunStore
from storage.db import Database, migrate
from storage.models import AgentRow, WorkflowRow, WorkflowVersionRow
from storage.run_store import SqlRunStore

__all__ = ["Seed", "open_sql_store", "seed_for"]

SEEDED_AT = datetime(2030, 1, 1, tzinfo=UTC)


class Seed(Protocol):
    def workflow(self, workflow_id: str, version: int, definition: WorkflowDefinition) -> None:
        """Publish `definition` as `version` of `workflow_id`."""
        ...

    def agent(self, agent: AgentRecord) -> None:
        """Save `agent` so runs can use it."""
        ...


class _MemorySeed:
    def __init__(self, store: InMemoryRunStore) -> None:
        self.store = store

    def workflow(self, workflow_id: str, version: int, definition: WorkflowDefinition) -> None:
        self.store.put_definition(workflow_id, version, definition)

    def agent(self, agent: AgentRecord) -> None:
        self.store.put_agent(agent)


class _SqlSeed:
    def __init__(self, store: SqlRunStore) -> None:
        self.engine = store.engine

    def workflow(self, workflow_id: str, version: int, definition: WorkflowDefinition) -> None:
        with Session(self.engine) as session:
            if session.get(WorkflowRow, workflow_id) is None:
                session.add(
                    WorkflowRow(
                        id=workflow_id, name=workflow_id, version=version, created_at=SEEDED_AT, updated_at=SEEDED_AT
                    )
                )
                session.flush()
            session.add(
                WorkflowVersionRow(
                    workflow_id=workflow_id,
                    version=version,
                    definition=definition.model_dump(mode="json"),
                    created_at=SEEDED_AT,
                )
            )
            session.commit()

    def agent(self, agent: AgentRecord) -> None:
        with Session(self.engine) as session:
            session.add(
                AgentRow(
                    id=agent.id,
                    name=agent.name,
                    kind=agent.kind,
                    description=agent.description,
                    config=agent.config or {},
                    created_at=SEEDED_AT,
                    updated_at=SEEDED_AT,
                )
            )
            session.commit()


def seed_for(store: RunStore) -> Seed:
    if isinstance(store, InMemoryRunStore):
        return _MemorySeed(store)
    if isinstance(store, SqlRunStore):
        return _SqlSeed(store)
    raise TypeError(f"no seeding for {type(store).__name__}")


@contextmanager
def open_sql_store(url: str) -> Iterator[SqlRunStore]:
    """A `SqlRunStore` on a freshly migrated database at `url`, disposed of afterwards."""
    db = Database.from_url(url)
    try:
        migrate(db.engine)
        yield SqlRunStore(db)
    finally:
        db.dispose()
