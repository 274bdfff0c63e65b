"""What the inspector, the Run dialog and the history ask of the open editor (`page.Editor`)."""

from __future__ import annotations

from typing import Any, Protocol

from app.engine.model import WorkflowDefinition
from app.engine.store import AgentRecord
from app.services.drafts import RunData
from components.graph_editor import GraphEditor

__all__ = ["Draft", "Panel"]


class Panel(Protocol):
    """The inspector, as the Run dialog uses it."""

    def apply_pending(self) -> None: ...


class Draft(Protocol):
    """One open editor: its workflow, the draft on its canvas and what it knows about it."""

    workflow_id: str
    name: str
    dirty: bool
    may_edit: bool
    """Whether the page's person may change the workflow (else the editor is read-only)."""
    may_run: bool
    """Whether the page's person may run it (Run, “Run up to here”)."""
    agents: dict[str, AgentRecord]
    last: RunData | None
    sample_payload: Any
    canvas: GraphEditor
    problems: dict[str, list[str]]
    problem_list: list[str]

    @property
    def panel(self) -> Panel: ...

    def definition(self, graph: dict[str, Any] | None = None) -> WorkflowDefinition | None: ...

    def mark_dirty(self) -> None: ...

    def revalidate(self, graph: dict[str, Any]) -> None: ...

    def show_problem_list(self) -> None: ...

    async def save(self) -> bool: ...

    def watch(self, run_id: str) -> None: ...

    def replace(self, definition: WorkflowDefinition, *, version: int) -> None: ...
