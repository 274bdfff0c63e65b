"""Repository functions for workflows, agents and run history.

Keyword-only functions that take a `Session` and return models (or None). They neither commit
nor decide policy: the caller (a service) owns the transaction and the rules.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.engine.model import EdgeSpec, NodeSpec, Note, Position, WorkflowDefinition
from storage.models import (
    AgentRow,
    ApprovalRow,
    CallbackDeliveryRow,
    EdgeRow,
    NodeRow,
    NodeRunRow,
    RunRow,
    WorkflowRow,
    WorkflowVersionRow,
)

__all__ = [
    "active_runs_using_agent",
    "agents_in_use",
    "count_active_runs",
    "count_pending_approvals",
    "count_runs",
    "delete_workflow",
    "find_child_run",
    "get_agent",
    "get_agents",
    "get_definition",
    "get_run",
    "get_workflow",
    "list_agents",
    "list_node_runs",
    "list_runs",
    "list_versions",
    "list_workflow_summaries",
    "list_workflows",
    "node_rows",
    "replace_definition",
    "snapshot_version",
    "workflow_tags",
]

ACTIVE_STATUSES = ("QUEUED", "RUNNING", "PAUSED")


def _page(session: Session, query: Any, *, offset: int, limit: int, order: Sequence[Any]) -> tuple[list[Any], int]:
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(*order).offset(offset).limit(limit)).all()
    return list(rows), int(total)


# --- workflows ---------------------------------------------------------------------------------


def list_workflows(
    session: Session, *, offset: int, limit: int, search: str | None = None, tag: str | None = None
) -> tuple[list[WorkflowRow], int]:
    query = select(WorkflowRow).where(_made_by_people())
    if search:
        query = query.where(col(WorkflowRow.name).icontains(search))
    if tag:
        query = query.where(_tagged(tag))
    return _page(
        session, query, offset=offset, limit=limit, order=[col(WorkflowRow.created_at).desc(), col(WorkflowRow.id)]
    )


# How "last run status" sorts, ascending: what needs attention first, never-run workflows last.
RUN_STATUS_RANK = {"FAILED": 0, "PAUSED": 1, "RUNNING": 2, "QUEUED": 3, "CANCELLED": 4, "COMPLETED": 5}
WorkflowSummaryRow = tuple[WorkflowRow, int, str | None, datetime | None]


def list_workflow_summaries(
    session: Session,
    *,
    offset: int,
    limit: int,
    search: str | None = None,
    sort: Literal["name", "updated", "last_run"] = "updated",
    descending: bool = False,
    tag: str | None = None,
) -> tuple[list[WorkflowSummaryRow], int]:
    """Workflows with their step count and last run (status, time), searched by name or description, and
    filed under `tag` (in any case) when given.

    `sort` orders by name (case-insensitive), by last edit, or by last run status (in the order of
    `RUN_STATUS_RANK`, never-run last); `descending` reverses it. Ties go by name, then id.
    """
    steps = (
        select(sa.func.count())
        .select_from(NodeRow)
        .where(col(NodeRow.workflow_id) == col(WorkflowRow.id))
        .correlate(WorkflowRow)
        .scalar_subquery()
    )
    latest = (
        select(RunRow.status, RunRow.created_at)
        .where(col(RunRow.workflow_id) == col(WorkflowRow.id))
        .order_by(col(RunRow.created_at).desc(), col(RunRow.id).desc())
        .limit(1)
        .correlate(WorkflowRow)
    )
    last_status = latest.with_only_columns(col(RunRow.status)).scalar_subquery()
    last_at = latest.with_only_columns(col(RunRow.created_at)).scalar_subquery()
    where = [_made_by_people()]
    if search:
        where.append(
            sa.or_(
                col(WorkflowRow.name).icontains(search, autoescape=True),
                col(WorkflowRow.description).icontains(search, autoescape=True),
            )
        )
    if tag:
        where.append(_tagged(tag))
    name = sa.func.lower(col(WorkflowRow.name))
    if sort == "name":
        order: list[Any] = [name.desc() if descending else name.asc()]
    elif sort == "last_run":
        rank = sa.case(RUN_STATUS_RANK, value=last_status, else_=len(RUN_STATUS_RANK))
        order = [rank.desc() if descending else rank.asc(), last_at.desc(), name.asc()]
    else:
        updated = col(WorkflowRow.updated_at)
        order = [updated.desc() if descending else updated.asc(), name.asc()]
    order.append(col(WorkflowRow.id).asc())
    total = session.exec(select(sa.func.count()).select_from(WorkflowRow).where(*where)).one()
    query = select(WorkflowRow, steps, last_status, last_at).where(*where).order_by(*order).offset(offset).limit(limit)
    rows: list[WorkflowSummaryRow] = [(row[0], int(row[1]), row[2], row[3]) for row in session.exec(query).all()]
    return rows, int(total)


def _made_by_people() -> sa.ColumnElement[bool]:
    """Not the one-step workflow of an agent called directly (`WorkflowRow.for_agent`): what workflow lists show."""
    return col(WorkflowRow.for_agent).is_(None)


def _tagged(tag: str) -> sa.ColumnElement[bool]:
    """Workflows filed under `tag` (in any case). The tags are a JSON list of strings, so the tag as JSON writes
    it, between quotes, is one of them."""
    quoted = '"' + json.dumps(tag.strip())[1:-1] + '"'
    return sa.cast(col(WorkflowRow.tags), sa.Text).icontains(quoted, autoescape=True)


def workflow_tags(session: Session) -> list[list[str]]:
    """The tags of every workflow that has some."""
    query = select(WorkflowRow.tags).where(col(WorkflowRow.tags).is_not(None), _made_by_people())
    return [list(tags) for tags in session.exec(query).all() if tags]


def get_workflow(session: Session, *, workflow_id: str) -> WorkflowRow | None:
    return session.get(WorkflowRow, workflow_id)


def node_rows(session: Session, *, workflow_id: str) -> list[NodeRow]:
    query = select(NodeRow).where(NodeRow.workflow_id == workflow_id)
    rows = session.exec(query).all()
    return sorted(rows, key=lambda r: (r.step_order if r.step_order is not None else 1 << 30, r.position_x, r.key))


def get_definition(session: Session, *, workflow_id: str) -> WorkflowDefinition:
    nodes = [
        NodeSpec(
            key=r.key,
            agent_id=r.agent_id,
            name=r.name,
            action=r.action,
            config=r.config or {},
            input_mapping=r.input_mapping,
            position=Position(x=r.position_x, y=r.position_y),
            step_order=r.step_order,
            needs_approval=r.needs_approval,
            retries=r.retries,
            retry_backoff_seconds=r.retry_backoff_seconds,
            timeout_seconds=r.timeout_seconds,
            approval_deadline_seconds=r.approval_deadline_seconds,
            on_deadline=r.on_deadline,
            disabled=r.disabled,
        )
        for r in node_rows(session, workflow_id=workflow_id)
    ]
    edge_rows = session.exec(select(EdgeRow).where(EdgeRow.workflow_id == workflow_id).order_by(col(EdgeRow.id))).all()
    edges = [
        EdgeSpec(source=e.source, target=e.target, source_handle=e.source_handle, condition=e.condition)
        for e in edge_rows
    ]
    workflow = session.get(WorkflowRow, workflow_id)
    notes = [Note.model_validate(n) for n in (workflow.notes if workflow is not None else None) or []]
    return WorkflowDefinition(nodes=nodes, edges=edges, notes=notes)


def replace_definition(
    session: Session,
    *,
    workflow: WorkflowRow,
    definition: WorkflowDefinition,
    now: datetime,
    new_node_id: Any,
) -> dict[str, str]:
    """Store `definition` as the workflow's current graph and bump its version.

    Nodes keep their ids (the API's step ids) by key; new keys get ids from `new_node_id()`.
    Returns the node ids by key.
    """
    # Whole-graph replacement in bulk: deleting and re-inserting 300 rows costs a few milliseconds,
    # updating them one ORM object at a time costs fifty.
    known = select(NodeRow.key, NodeRow.id).where(NodeRow.workflow_id == workflow.id)
    existing: dict[str, str] = {key: node_id for key, node_id in session.exec(known).all()}
    ids = {node.key: existing.get(node.key) or new_node_id() for node in definition.nodes}
    session.execute(sa.delete(EdgeRow).where(col(EdgeRow.workflow_id) == workflow.id))
    session.execute(sa.delete(NodeRow).where(col(NodeRow.workflow_id) == workflow.id))
    if definition.nodes:
        session.execute(
            sa.insert(NodeRow),
            [
                {
                    "id": ids[node.key],
                    "workflow_id": workflow.id,
                    "key": node.key,
                    "agent_id": node.agent_id,
                    "name": node.name,
                    "action": node.action,
                    "config": dict(node.config),
                    "input_mapping": node.input_mapping,
                    "position_x": node.position.x,
                    "position_y": node.position.y,
                    "step_order": node.step_order,
                    "needs_approval": node.needs_approval,
                    "retries": node.retries,
                    "retry_backoff_seconds": node.retry_backoff_seconds,
                    "timeout_seconds": node.timeout_seconds,
                    "approval_deadline_seconds": node.approval_deadline_seconds,
                    "on_deadline": node.on_deadline,
                    "disabled": node.disabled,
                }
                for node in definition.nodes
            ],
        )
    if definition.edges:
        session.execute(
            sa.insert(EdgeRow),
            [
                {
                    "workflow_id": workflow.id,
                    "source": edge.source,
                    "target": edge.target,
                    "source_handle": edge.source_handle,
                    "condition": edge.condition,
                }
                for edge in definition.edges
            ],
        )
    session.expire_all()  # rows loaded before the bulk statements are stale now
    workflow.notes = [note.model_dump(mode="json") for note in definition.notes] or None
    workflow.version += 1
    workflow.updated_at = now
    session.add(workflow)
    return ids


def snapshot_version(session: Session, *, workflow: WorkflowRow, definition: WorkflowDefinition, now: datetime) -> int:
    """Freeze the current definition as the workflow's current version (once per version)."""
    if session.get(WorkflowVersionRow, (workflow.id, workflow.version)) is None:
        session.add(
            WorkflowVersionRow(
                workflow_id=workflow.id,
                version=workflow.version,
                name=workflow.name,
                definition=definition.model_dump(mode="json"),
                created_at=now,
            )
        )
    return workflow.version


def list_versions(session: Session, *, workflow_id: str) -> list[WorkflowVersionRow]:
    query = select(WorkflowVersionRow).where(WorkflowVersionRow.workflow_id == workflow_id)
    return list(session.exec(query.order_by(col(WorkflowVersionRow.version).desc())).all())


def count_active_runs(session: Session, *, workflow_id: str) -> int:
    query = (
        select(sa.func.count())
        .select_from(RunRow)
        .where(RunRow.workflow_id == workflow_id, col(RunRow.status).in_(ACTIVE_STATUSES))
    )
    return int(session.exec(query).one())


def count_runs(session: Session, *, statuses: Collection[str]) -> int:
    """Runs of any workflow whose status is one of `statuses`."""
    query = select(sa.func.count()).select_from(RunRow).where(col(RunRow.status).in_(list(statuses)))
    return int(session.exec(query).one())


def count_pending_approvals(session: Session) -> int:
    query = select(sa.func.count()).select_from(ApprovalRow).where(ApprovalRow.status == "PENDING")
    return int(session.exec(query).one())


def delete_workflow(session: Session, *, workflow: WorkflowRow) -> None:
    """Delete a workflow with its graph, versions and run history."""
    run_ids = select(RunRow.id).where(RunRow.workflow_id == workflow.id)
    for run_table in (NodeRunRow, ApprovalRow, CallbackDeliveryRow):
        session.execute(sa.delete(run_table).where(col(run_table.run_id).in_(run_ids)))
    session.execute(sa.delete(RunRow).where(col(RunRow.workflow_id) == workflow.id))
    for graph_table in (EdgeRow, NodeRow, WorkflowVersionRow):
        session.execute(sa.delete(graph_table).where(col(graph_table.workflow_id) == workflow.id))
    session.delete(workflow)


# --- agents ---------------------------------------------------------------------------------------


def list_agents(session: Session, *, offset: int, limit: int) -> tuple[list[AgentRow], int]:
    return _page(session, select(AgentRow), offset=offset, limit=limit, order=[col(AgentRow.id)])


def get_agent(session: Session, *, agent_id: str) -> AgentRow | None:
    return session.get(AgentRow, agent_id)


def get_agents(session: Session, *, agent_ids: Collection[str]) -> list[AgentRow]:
    return list(session.exec(select(AgentRow).where(col(AgentRow.id).in_(list(agent_ids)))).all())


def agents_in_use(session: Session, *, agent_id: str) -> list[tuple[str, str]]:
    """(workflow id, workflow name) of every workflow with a node using `agent_id` (an agent's own one-step
    workflow aside)."""
    query = (
        select(WorkflowRow.id, WorkflowRow.name)
        .join(NodeRow, col(NodeRow.workflow_id) == col(WorkflowRow.id))
        .where(NodeRow.agent_id == agent_id, _made_by_people())
        .distinct()
    )
    return [(row[0], row[1]) for row in session.exec(query).all()]


def agents_calling(session: Session, *, agent_id: str) -> list[tuple[str, str]]:
    """(agent id, agent name) of every agent whose tools include the saved agent `agent_id`."""
    found = []
    for row in session.exec(select(AgentRow).where(AgentRow.kind == "agent")).all():
        tools = (row.config or {}).get("tools") or []
        if any(isinstance(t, dict) and t.get("type") == "agent" and t.get("agent_id") == agent_id for t in tools):
            found.append((row.id, row.name))
    return found


def workflows_by_agent(session: Session) -> dict[str, list[tuple[str, str]]]:
    """For every agent used by some workflow: (workflow id, workflow name) of those workflows, by name (agents' own
    one-step workflows aside)."""
    query = (
        select(NodeRow.agent_id, WorkflowRow.id, WorkflowRow.name)
        .join(WorkflowRow, col(NodeRow.workflow_id) == col(WorkflowRow.id))
        .where(_made_by_people())
        .distinct()
        .order_by(col(WorkflowRow.name))
    )
    used: dict[str, list[tuple[str, str]]] = {}
    for agent_id, workflow_id, name in session.exec(query).all():
        used.setdefault(agent_id, []).append((workflow_id, name))
    return used


def active_runs_using_agent(session: Session, *, agent_id: str, limit: int = 10) -> list[str]:
    """Ids of queued, running or paused runs whose frozen workflow version has a node using `agent_id`."""
    versions = session.exec(
        select(RunRow.workflow_id, RunRow.workflow_version).where(col(RunRow.status).in_(ACTIVE_STATUSES)).distinct()
    ).all()
    using: list[tuple[str, int]] = []
    for workflow_id, version in versions:
        row = session.get(WorkflowVersionRow, (workflow_id, version))
        nodes = (row.definition or {}).get("nodes", []) if row else []
        if any(node.get("agent_id") == agent_id for node in nodes):
            using.append((workflow_id, version))
    run_ids: list[str] = []
    for workflow_id, version in using:
        query = select(RunRow.id).where(
            RunRow.workflow_id == workflow_id,
            RunRow.workflow_version == version,
            col(RunRow.status).in_(ACTIVE_STATUSES),
        )
        run_ids.extend(session.exec(query.limit(limit - len(run_ids))).all())
        if len(run_ids) >= limit:
            break
    return run_ids


# --- runs -----------------------------------------------------------------------------------------


def list_runs(session: Session, *, workflow_id: str, offset: int, limit: int) -> tuple[list[RunRow], int]:
    query = select(RunRow).where(RunRow.workflow_id == workflow_id)
    return _page(
        session, query, offset=offset, limit=limit, order=[col(RunRow.created_at).desc(), col(RunRow.id).desc()]
    )


def get_run(session: Session, *, run_id: str) -> RunRow | None:
    return session.get(RunRow, run_id)


def find_child_run(session: Session, *, parent_run_id: str, parent_node_key: str) -> RunRow | None:
    """The newest run that the `workflow` step `parent_node_key` of run `parent_run_id` started, if any."""
    query = (
        select(RunRow)
        .where(RunRow.parent_run_id == parent_run_id, RunRow.parent_node_key == parent_node_key)
        .order_by(col(RunRow.created_at).desc(), col(RunRow.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def list_node_runs(session: Session, *, run_id: str) -> list[NodeRunRow]:
    return list(session.exec(select(NodeRunRow).where(NodeRunRow.run_id == run_id)).all())


def list_approvals(session: Session, *, run_id: str) -> list[ApprovalRow]:
    query = select(ApprovalRow).where(ApprovalRow.run_id == run_id).order_by(col(ApprovalRow.created_at))
    return list(session.exec(query).all())
