"""The static check of sub-workflow steps: every workflow they run exists, and none runs itself.

A `workflow` step names another workflow (`config.workflow_id`). Validation lists a step that runs a
missing workflow, and recursion: a workflow that runs itself, directly or through others, or runs one
that does. The other workflows are read as they are saved now, so this is checked again at every start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from app.agents.workflow import SubWorkflow
from app.engine.exceptions import Problem
from app.engine.model import WorkflowDefinition
from app.engine.plan import effective_config
from app.engine.store import AgentRecord
from storage import repositories as repo

__all__ = ["reference_problems"]


def _targets(definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]) -> list[tuple[str, str]]:
    """(node key, workflow id) of every `workflow` step in `definition`."""
    found: list[tuple[str, str]] = []
    for node in definition.nodes:
        agent = agents.get(node.agent_id)
        if agent is not None and agent.kind == SubWorkflow.kind:
            target = effective_config(node, agent).get("workflow_id")
            if isinstance(target, str) and target:
                found.append((node.key, target))
    return found


def reference_problems(
    session: Session, workflow_id: str, definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]
) -> list[Problem]:
    """Problems of the `workflow` steps of `definition` (the definition of `workflow_id`, saved or not):
    a workflow that does not exist, and recursion — a workflow that runs itself, directly or through others,
    or runs one that does. The other workflows are read as they are saved now."""
    steps = _targets(definition, agents)
    if not steps:
        return []
    calls: dict[str, list[str] | None] = {workflow_id: [target for _, target in steps]}
    names: dict[str, str] = {}

    def called_by(current: str) -> list[str] | None:
        """The workflows `current` runs; None when it does not exist."""
        if current not in calls:
            row = repo.get_workflow(session, workflow_id=current)
            if row is None:
                calls[current] = None
            else:
                names[current] = row.name
                saved = repo.get_definition(session, workflow_id=current)
                used = {
                    a.id: AgentRecord(a.id, a.kind, a.name, a.config)
                    for a in repo.get_agents(session, agent_ids={n.agent_id for n in saved.nodes})
                }
                calls[current] = [target for _, target in _targets(saved, used)]
        return calls[current]

    problems: list[Problem] = []
    for key, target in steps:
        if target == workflow_id:
            problems.append(Problem(f"step '{key}' runs this workflow itself; a workflow cannot run itself", node=key))
            continue
        if called_by(target) is None:
            problems.append(
                Problem(f"step '{key}' runs workflow '{target}', which does not exist", node=key, field="config")
            )
            continue
        cycle = _cycle_from(target, workflow_id, called_by)
        if cycle is not None:
            label = f"'{names.get(target, target)}' ({target})"
            path = " → ".join(cycle)
            how = "runs this workflow again" if cycle[-1] == workflow_id else "runs itself"
            problems.append(
                Problem(
                    f"step '{key}' runs workflow {label}, which {how}: {path}; a workflow cannot run itself", node=key
                )
            )
    return problems


def _cycle_from(start: str, root: str, called_by: Any) -> list[str] | None:
    """A path from `start` back to `root`, else one into a cycle among the workflows `start` reaches, else None."""
    path: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()
    found: list[str] | None = None

    def visit(current: str) -> list[str] | None:
        nonlocal found
        path.append(current)
        on_path.add(current)
        for nxt in called_by(current) or []:
            if nxt == root:
                return [root, *path, root]
            if nxt in on_path and found is None:
                found = [*path, nxt]
            elif nxt not in done and nxt not in on_path:
                back = visit(nxt)
                if back is not None:
                    return back
        path.pop()
        on_path.discard(current)
        done.add(current)
        return None

    return visit(start) or found
