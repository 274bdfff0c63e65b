"""Workflows: create, rename, clone, delete; their graph, its saved versions and its steps; export and import.

Each method is one use case in the user's words and does all of its writes in one transaction or none.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from app import ids
from app.engine.exceptions import Conflict, InvalidInput, NotFound, Problem
from app.engine.kinds import Kinds, config_errors
from app.engine.model import WorkflowDefinition
from app.engine.plan import validate
from app.engine.store import RunStore
from app.models.base import Page, check_name
from app.models.people import SYSTEM, Principal
from app.models.samples import check_samples
from app.models.workflows import (
    AgentDocument,
    EdgePublic,
    StepCreate,
    StepPublic,
    VersionPublic,
    WorkflowDetail,
    WorkflowDocument,
    WorkflowPublic,
    WorkflowSort,
    WorkflowSummary,
    check_tags,
)
from app.services import documents, steps
from app.services.audit import AuditService
from app.services.references import reference_problems
from app.services.version_diff import VersionDiff, compare_definitions
from storage import repositories as repo
from storage import samples
from storage.db import Database
from storage.models import AgentRow, NodeRow, WorkflowRow

__all__ = ["WorkflowService", "find_workflow"]


def find_workflow(session: Session, workflow_id: str) -> WorkflowRow:
    """The workflow `workflow_id`, or NotFound."""
    workflow = repo.get_workflow(session, workflow_id=workflow_id)
    if workflow is None:
        raise NotFound("workflow", workflow_id)
    return workflow


def _editable(session: Session, workflow_id: str) -> WorkflowRow:
    """The workflow `workflow_id`, or NotFound; Conflict for an agent's own one-step workflow, which follows its
    agent (`app.services.agent_runs`) and is neither edited, cloned, exported nor deleted as a workflow."""
    workflow = find_workflow(session, workflow_id)
    if workflow.for_agent is not None:
        raise Conflict(
            f"workflow '{workflow_id}' runs the agent '{workflow.for_agent}' when it is called directly"
            f" (POST /api/v2/agents/{workflow.for_agent}/run); it changes with the agent: edit the agent instead"
        )
    return workflow


def _public(row: WorkflowRow) -> WorkflowPublic:
    return WorkflowPublic.model_validate(row)


def _check_step_names(definition: WorkflowDefinition | None) -> None:
    """Refuse a step label with control characters or text-direction marks, or only spaces (InvalidInput)."""
    for node in definition.nodes if definition else []:
        check_name(f"nodes.{node.key}.name", node.name, required=False)


def _new_node_id() -> str:
    return ids.new_id("st")


class WorkflowService:
    """Workflows and their graphs, on the database; the run store reads frozen versions and agents."""

    def __init__(
        self,
        db: Database,
        store: RunStore,
        audit: AuditService,
        *,
        kinds: Kinds,
        max_import_bytes: int,
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._audit = audit
        self._store = store
        self._kinds = kinds
        self._max_import_bytes = max_import_bytes
        self._now = now

    # --- workflows ------------------------------------------------------------------------------------

    async def list(
        self, *, page: int, size: int, search: str | None = None, tag: str | None = None
    ) -> Page[WorkflowPublic]:
        rows, total = await self._db.tx(
            lambda s: repo.list_workflows(s, offset=page * size, limit=size, search=search, tag=tag)
        )
        return Page([_public(r) for r in rows], total, page, size)

    async def summaries(
        self,
        *,
        page: int,
        size: int,
        search: str | None = None,
        sort: WorkflowSort = "updated",
        descending: bool | None = None,
        tag: str | None = None,
    ) -> Page[WorkflowSummary]:
        """Workflows with their step count and last run, searched by name or description, filed under `tag`.

        `descending` defaults to what each sort is for: latest edits first, names A to Z, and runs
        that need attention (failed, waiting) first.
        """
        reverse = sort == "updated" if descending is None else descending

        def read(session: Session) -> tuple[builtins.list[repo.WorkflowSummaryRow], int]:
            return repo.list_workflow_summaries(
                session,
                offset=page * size,
                limit=size,
                search=search or None,
                sort=sort,
                descending=reverse,
                tag=tag or None,
            )

        rows, total = await self._db.tx(read)
        items = [
            WorkflowSummary.model_validate(
                {**_public(row).model_dump(), "steps": count, "last_run_status": status, "last_run_at": last_run_at}
            )
            for row, count, status, last_run_at in rows
        ]
        return Page(items, total, page, size)

    async def get(self, workflow_id: str) -> WorkflowPublic:
        return _public(await self._db.tx(lambda s: find_workflow(s, workflow_id)))

    async def detail(self, workflow_id: str) -> WorkflowDetail:
        """The workflow with its steps in step order and the edges between them."""

        def read(session: Session) -> WorkflowDetail:
            row = find_workflow(session, workflow_id)
            definition = repo.get_definition(session, workflow_id=workflow_id)
            return WorkflowDetail.model_validate(
                {
                    **_public(row).model_dump(),
                    "steps": [StepPublic.model_validate(n) for n in repo.node_rows(session, workflow_id=workflow_id)],
                    "edges": [EdgePublic.model_validate(e.model_dump()) for e in definition.edges],
                }
            )

        return await self._db.tx(read)

    async def tags(self) -> builtins.list[str]:
        """Every tag some workflow has, A to Z (in any case), each once."""
        found: dict[str, str] = {}
        for tags in await self._db.tx(repo.workflow_tags):
            for tag in tags:
                found.setdefault(tag.casefold(), tag)
        return sorted(found.values(), key=str.casefold)

    async def create(
        self,
        *,
        name: str,
        description: str = "",
        definition: WorkflowDefinition | None = None,
        tags: builtins.list[str] | None = None,
        by: Principal = SYSTEM,
    ) -> WorkflowPublic:
        check_name("name", name)
        _check_step_names(definition)
        filed = check_tags("tags", tags or [])

        def create(session: Session) -> WorkflowRow:
            now = self._now()
            workflow = WorkflowRow(
                id=ids.new_workflow_id(),
                name=name,
                description=description,
                tags=filed or None,
                version=0,
                created_at=now,
                updated_at=now,
            )
            session.add(workflow)
            session.flush()
            repo.replace_definition(
                session,
                workflow=workflow,
                definition=definition or WorkflowDefinition(),
                now=now,
                new_node_id=_new_node_id,
            )
            self._audit.add(session, by, "workflow.create", target=workflow.id, detail=name)
            return workflow

        return _public(await self._db.tx(create))

    async def update(
        self,
        workflow_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: builtins.list[str] | None = None,
        offer_as_tool: bool | None = None,
        by: Principal = SYSTEM,
    ) -> WorkflowPublic:
        """Change what is given (None keeps it): its name, description, tags (the list replaces the old one),
        whether it is offered to MCP clients as a tool."""
        if name is not None:
            check_name("name", name)
        filed = check_tags("tags", tags) if tags is not None else None

        def update(session: Session) -> WorkflowRow:
            workflow = _editable(session, workflow_id)
            if name is not None:
                workflow.name = name
            if description is not None:
                workflow.description = description
            if filed is not None:
                workflow.tags = filed or None
            if offer_as_tool is not None:
                workflow.offer_as_tool = offer_as_tool
            workflow.updated_at = self._now()
            session.add(workflow)
            self._audit.add(session, by, "workflow.update", target=workflow_id, detail=workflow.name)
            return workflow

        return _public(await self._db.tx(update))

    async def delete(self, workflow_id: str, *, by: Principal = SYSTEM) -> None:
        def delete(session: Session) -> None:
            workflow = _editable(session, workflow_id)
            active = repo.count_active_runs(session, workflow_id=workflow_id)
            if active:
                raise Conflict(f"workflow '{workflow_id}' has {active} active run(s); cancel them before deleting it")
            self._audit.add(session, by, "workflow.delete", target=workflow_id, detail=workflow.name)
            repo.delete_workflow(session, workflow=workflow)

        await self._db.tx(delete)

    async def clone(self, workflow_id: str, *, by: Principal = SYSTEM) -> WorkflowPublic:
        def read(session: Session) -> tuple[WorkflowRow, WorkflowDefinition]:
            workflow = _editable(session, workflow_id)
            return workflow, repo.get_definition(session, workflow_id=workflow_id)

        original, definition = await self._db.tx(read)
        copy = await self.create(
            name=f"{original.name} (Copy)",
            description=original.description,
            definition=definition,
            tags=original.tags,
            by=by,
        )
        kept = list(original.samples or [])
        if kept:
            await self._db.tx(lambda s: samples.set_samples(s, workflow_id=copy.id, samples=kept))
        return copy

    # --- the graph and its versions ----------------------------------------------------------------------

    async def definition(self, workflow_id: str) -> WorkflowDefinition:
        def read(session: Session) -> WorkflowDefinition:
            find_workflow(session, workflow_id)
            return repo.get_definition(session, workflow_id=workflow_id)

        return await self._db.tx(read)

    async def save_definition(
        self, workflow_id: str, definition: WorkflowDefinition, *, name: str | None = None, by: Principal = SYSTEM
    ) -> WorkflowPublic:
        """Replace the workflow's graph and keep it as a new numbered version (a draft may be invalid;
        running it is what refuses)."""
        if name is not None:
            check_name("name", name)
        _check_step_names(definition)

        def save(session: Session) -> WorkflowRow:
            workflow = _editable(session, workflow_id)
            keys = [n.key for n in definition.nodes]
            if len(keys) != len(set(keys)):
                raise InvalidInput("nodes", "two steps share a key")
            now = self._now()
            if name is not None:
                workflow.name = name.strip()
            repo.replace_definition(
                session, workflow=workflow, definition=definition, now=now, new_node_id=_new_node_id
            )
            session.flush()
            repo.snapshot_version(session, workflow=workflow, definition=definition, now=now)
            self._audit.add(session, by, "workflow.save", target=workflow_id, detail=f"version {workflow.version}")
            return workflow

        return _public(await self._db.tx(save))

    async def versions(self, workflow_id: str) -> builtins.list[VersionPublic]:
        """Every kept version of a workflow, newest first: each save, and each version a run was started on."""

        def read(session: Session) -> builtins.list[VersionPublic]:
            find_workflow(session, workflow_id)
            return [
                VersionPublic(
                    version=row.version,
                    created_at=row.created_at,
                    name=row.name,
                    nodes=len(row.definition.get("nodes", [])),
                )
                for row in repo.list_versions(session, workflow_id=workflow_id)
            ]

        return await self._db.tx(read)

    async def version_definition(self, workflow_id: str, version: int) -> WorkflowDefinition:
        definition = await self._store.get_definition(workflow_id, version)
        if definition is None:
            raise NotFound("version", f"{workflow_id} v{version}")
        return definition

    async def compare_versions(self, workflow_id: str, before: int, after: int) -> VersionDiff:
        """What changed from version `before` to version `after` (NotFound naming a version that isn't kept)."""
        old = await self.version_definition(workflow_id, before)
        new = await self.version_definition(workflow_id, after)
        return compare_definitions(old, new, versions=(before, after))

    async def restore_version(self, workflow_id: str, version: int, *, by: Principal = SYSTEM) -> WorkflowPublic:
        """Make an older version current again, as a new version (history is never rewritten)."""
        return await self.save_definition(workflow_id, await self.version_definition(workflow_id, version), by=by)

    async def problems(self, workflow_id: str, definition: WorkflowDefinition | None = None) -> builtins.list[Problem]:
        """Every reason the workflow (its saved definition, or `definition` when given) cannot run, including
        `workflow` steps that run a missing workflow or make it run itself."""
        if definition is None:
            definition = await self.definition(workflow_id)
        agents = await self._store.get_agents({n.agent_id for n in definition.nodes})
        found = validate(definition, agents, self._kinds)
        checked = definition

        def references(session: Session) -> builtins.list[Problem]:
            return reference_problems(session, workflow_id, checked, agents)

        return found + await self._db.tx(references)

    # --- steps (the ordered-steps view of a graph) --------------------------------------------------------

    async def steps(self, workflow_id: str) -> builtins.list[StepPublic]:
        def read(session: Session) -> builtins.list[NodeRow]:
            find_workflow(session, workflow_id)
            return repo.node_rows(session, workflow_id=workflow_id)

        return [StepPublic.model_validate(row) for row in await self._db.tx(read)]

    async def add_step(self, workflow_id: str, step: StepCreate, *, by: Principal = SYSTEM) -> StepPublic:
        """Add a step. Without `after`, it joins the sequence at `stepOrder` (default: the end)."""

        def add(session: Session) -> NodeRow:
            workflow = _editable(session, workflow_id)
            agent = repo.get_agent(session, agent_id=step.agent_id)
            if agent is None:
                raise InvalidInput("agentId", f"no agent with id '{step.agent_id}'; create it under /api/v1/agents")
            errors = config_errors(self._kinds, agent.kind, {**agent.config, **step.config})
            if errors:
                raise InvalidInput("config", "; ".join(errors))
            definition = repo.get_definition(session, workflow_id=workflow_id)
            key = steps.add_step(definition, step)
            ids_by_key = repo.replace_definition(
                session, workflow=workflow, definition=definition, now=self._now(), new_node_id=_new_node_id
            )
            session.flush()
            row = session.get(NodeRow, ids_by_key[key])
            assert row is not None
            self._audit.add(session, by, "workflow.step.add", target=workflow_id, detail=f"step {key}")
            return row

        return StepPublic.model_validate(await self._db.tx(add))

    async def delete_step(self, workflow_id: str, step_id: str, *, by: Principal = SYSTEM) -> None:
        def delete(session: Session) -> None:
            workflow = _editable(session, workflow_id)
            row = session.get(NodeRow, step_id)
            if row is None or row.workflow_id != workflow_id:
                raise NotFound("step", step_id)
            definition = repo.get_definition(session, workflow_id=workflow_id)
            steps.remove_step(definition, row.key)
            repo.replace_definition(
                session, workflow=workflow, definition=definition, now=self._now(), new_node_id=_new_node_id
            )
            self._audit.add(session, by, "workflow.step.delete", target=workflow_id, detail=f"step {row.key}")

        await self._db.tx(delete)

    # --- export / import ----------------------------------------------------------------------------------

    async def export(self, workflow_id: str) -> WorkflowDocument:
        def read(session: Session) -> WorkflowDocument:
            workflow = _editable(session, workflow_id)
            definition = repo.get_definition(session, workflow_id=workflow_id)
            agent_ids = sorted({n.agent_id for n in definition.nodes})
            agents = [repo.get_agent(session, agent_id=a) for a in agent_ids]
            return WorkflowDocument(
                name=workflow.name,
                description=workflow.description,
                tags=workflow.tags or [],
                offer_as_tool=workflow.offer_as_tool,
                definition=definition,
                samples=workflow.samples or [],
                agents=[
                    AgentDocument(id=a.id, name=a.name, kind=a.kind, description=a.description, config=a.config)
                    for a in agents
                    if a is not None
                ],
            )

        return await self._db.tx(read)

    async def import_document(self, document: dict[str, Any], *, by: Principal = SYSTEM) -> WorkflowPublic:
        """Create a workflow (and any saved agents it needs that are missing) from an exported document."""
        doc = documents.parse_document(document, self._kinds)

        def create(session: Session) -> WorkflowRow:
            used = {n.agent_id for n in doc.definition.nodes}
            known = {a.id for a in repo.get_agents(session, agent_ids=used)} | {a.id for a in doc.agents}
            unknown = sorted(used - known)
            if unknown:
                raise InvalidInput("definition.nodes", f"unknown agent(s) {', '.join(unknown)}, not in the document")
            now = self._now()
            for agent in doc.agents:
                if repo.get_agent(session, agent_id=agent.id) is None:
                    session.add(AgentRow(**agent.model_dump(), created_at=now, updated_at=now))
            workflow = WorkflowRow(
                id=ids.new_workflow_id(),
                name=doc.name,
                description=doc.description,
                tags=check_tags("tags", doc.tags) or None,
                samples=[s.model_dump(mode="json") for s in check_samples(doc.samples)] or None,
                offer_as_tool=doc.offer_as_tool,
                version=0,
                created_at=now,
                updated_at=now,
            )
            session.add(workflow)
            session.flush()
            repo.replace_definition(
                session, workflow=workflow, definition=doc.definition, now=now, new_node_id=_new_node_id
            )
            self._audit.add(session, by, "workflow.import", target=workflow.id, detail=doc.name)
            return workflow

        return _public(await self._db.tx(create))

    async def import_file(self, content: bytes, *, by: Principal = SYSTEM) -> WorkflowPublic:
        """Create a workflow from the bytes of an uploaded export file, or refuse it and create nothing.

        On top of `import_document`'s checks: the file's size (the API's body limit), that it is UTF-8
        JSON without NaN or Infinity, and that names and descriptions are plain text, not markup.
        """
        return await self.import_document(documents.parse_file(content, limit=self._max_import_bytes), by=by)
