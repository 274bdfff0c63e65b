"""The application's services: what the API, the CLI and the pages call.

`Flowyard` owns the database, the run store, the executor and the shared HTTP client. Each
method is one use case in the user's words (create a workflow, add a step, run it, resume it)
and either does all of its writes in one transaction or none of them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import httpx
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col

from app import clock, ids, keys
from app.agents import registry
from app.agents.base import AgentServices
from app.batches import Batches
from app.credentials import CredentialInfo, StoredCredentials, Vault, check_name, check_type, check_values
from app.engine.callbacks import CallbackDispatcher, CallbackPolicy, callback_url_problem
from app.engine.events import EventBus, InProcessEventBus
from app.engine.exceptions import Conflict, InputInvalid, InvalidInput, NotFound, Problem, WorkflowInvalid
from app.engine.executor import Executor
from app.engine.inputs import input_problems, workflow_input_schemas
from app.engine.model import (
    Approval,
    CallbackDelivery,
    EdgeSpec,
    NodeSpec,
    RunRecord,
    RunStatus,
    Trigger,
    WorkflowDefinition,
)
from app.engine.plan import agents_fingerprint, effective_config, structure_problems, validate
from app.engine.store import AgentRecord
from app.engine.trial import Trial, try_node
from app.json_diff import JsonChange, json_changes, text_diff
from app.scheduling import Schedules
from app.settings import Settings
from app.subworkflows import SubWorkflows, reference_problems
from app.webhooks import Webhooks
from storage import credentials as credential_repo
from storage import history
from storage import repositories as repo
from storage import sessions as session_store
from storage.db import Database, migrate
from storage.history import (
    ActiveCounts,
    ApprovalContext,
    ApprovalItem,
    ApprovalPage,
    PruneResult,
    RunPage,
    RunQuery,
    RunSummary,
)
from storage.models import AgentRow, CredentialRow, NodeRow, NodeRunRow, RunRow, WorkflowRow
from storage.run_store import SqlRunStore
from storage.sessions import SessionMessage, SessionPage, SessionSummary, SqlSessionMemory

__all__ = [
    "EXPORT_FORMAT",
    "ActiveCounts",
    "Activity",
    "AgentSummary",
    "ApprovalContext",
    "ApprovalItem",
    "ApprovalPage",
    "Decision",
    "ExampleWorkflow",
    "Flowyard",
    "JsonChange",
    "Page",
    "PruneResult",
    "RunPage",
    "RunQuery",
    "RunSummary",
    "SessionMessage",
    "SessionPage",
    "SessionSummary",
    "StepCreate",
    "TokenUsage",
    "WorkflowDocument",
    "WorkflowSort",
    "WorkflowSummary",
]

log = logging.getLogger("flowyard")

T = TypeVar("T")
EXPORT_FORMAT = "flowyard.workflow"
EXPORT_VERSION = 1


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.size else 0


class StepCreate(BaseModel):
    """A step (node) added through the ordered-steps API."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str
    action: str
    step_order: int | None = Field(None, ge=1, le=100_000)
    key: str | None = None
    name: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    input_mapping: str | dict[str, Any] | None = None
    needs_approval: bool = False
    retries: int = Field(0, ge=0, le=20)
    retry_backoff_seconds: float = Field(1.0, ge=0, le=3600)
    timeout_seconds: float | None = Field(None, gt=0, le=86_400)
    after: list[str] | None = None


class AgentDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    kind: str
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)


class WorkflowDocument(BaseModel):
    """The versioned JSON document `flowyard export` writes and `flowyard import` reads."""

    model_config = ConfigDict(extra="forbid")

    format: str = EXPORT_FORMAT
    version: int = EXPORT_VERSION
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    definition: WorkflowDefinition
    agents: list[AgentDocument] = Field(default_factory=list)


def new_session_id() -> str:
    return f"session-{secrets.token_hex(6)}"


def _new_node_id() -> str:
    return ids.new_id("st")


def _is_chain(definition: WorkflowDefinition) -> bool:
    """True when the edges are exactly the chain of nodes in step order (or there are none)."""
    if not definition.edges:
        return True
    ordered = _in_step_order(definition.nodes)
    chain = {(a.key, b.key) for a, b in itertools.pairwise(ordered)}
    plain = all(e.source_handle is None and e.condition is None for e in definition.edges)
    return plain and {(e.source, e.target) for e in definition.edges} == chain


def _in_step_order(nodes: list[NodeSpec]) -> list[NodeSpec]:
    return sorted(nodes, key=lambda n: (n.step_order if n.step_order is not None else 1 << 30, n.position.x))


def _chain_edges(nodes: list[NodeSpec]) -> list[EdgeSpec]:
    ordered = _in_step_order(nodes)
    return [EdgeSpec(source=a.key, target=b.key) for a, b in itertools.pairwise(ordered)]


def _renumber(nodes: list[NodeSpec]) -> None:
    for number, node in enumerate(_in_step_order(nodes), start=1):
        node.step_order = number
        node.position.x, node.position.y = (number - 1) * 280.0, node.position.y


DEFAULT_AGENTS = ("transform", "http", "branch", "approval", "delay", "workflow")


@dataclass(frozen=True)
class TokenUsage:
    """Tokens used by llm steps, summed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False

    @classmethod
    def of(cls, usages: list[Any]) -> TokenUsage:
        """The sum of node runs' usage records (None and non-counts ignored)."""
        totals = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        estimated = False
        for usage in usages:
            if not isinstance(usage, dict):
                continue
            for name in totals:
                value = usage.get(name)
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[name] += value
            estimated = estimated or bool(usage.get("estimated"))
        return cls(**totals, estimated=estimated)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime
    name: str
    nodes: int


@dataclass(frozen=True)
class RunData:
    """A run's payload and node outputs, for previews against real data."""

    run_id: str
    payload: Any
    outputs: dict[str, Any]
    statuses: dict[str, str]


class Flowyard:
    """The application: storage, executor and use cases, wired from `Settings`."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        http: httpx.AsyncClient,
        bus: EventBus | None = None,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = SqlRunStore(db)
        self.bus: EventBus = bus or InProcessEventBus()
        self.http = http
        self._now = now
        self._definitions: dict[tuple[str, int], WorkflowDefinition] = {}
        self._validated: dict[tuple[str, int], str] = {}
        self._titles: dict[tuple[str, int], dict[str, str]] = {}  # node names of frozen versions, for the inbox
        self.vault = Vault(keys.secret_key(settings))
        self.credentials = StoredCredentials(db, self.vault)
        self.sessions = SqlSessionMemory(db, window=settings.session_window, now=now)
        self.executor = Executor(
            self.store,
            http=http,
            bus=self.bus,
            lease_seconds=settings.lease_seconds,
            run_concurrency=settings.run_concurrency,
            global_concurrency=settings.global_concurrency,
            recovery_interval=settings.recovery_interval_seconds,
            now=now,
            services=AgentServices(credentials=self.credentials, sessions=self.sessions, workflows=SubWorkflows(self)),
        )
        self.webhooks = Webhooks(self, now=now)
        self.batches = Batches(self, now=now)
        self.schedules = Schedules(self)
        self.callbacks = CallbackDispatcher(
            self.store,
            http=http,
            secret=keys.callback_secret(settings),
            owner=self.executor.owner,
            policy=CallbackPolicy(
                max_attempts=settings.callback_max_attempts,
                base_delay=settings.callback_base_delay_seconds,
                max_delay=settings.callback_max_delay_seconds,
                timeout=settings.callback_timeout_seconds,
                concurrency=settings.callback_concurrency,
                sweep_interval=settings.callback_sweep_interval_seconds,
            ),
            bus=self.bus,
            now=now,
        )

    @classmethod
    def open(cls, settings: Settings, *, http: httpx.AsyncClient | None = None) -> Flowyard:
        """Connect, migrate and seed the default agents. Call `start()` to begin executing runs."""
        db = Database.from_url(settings.resolved_database_url)
        migrate(db.engine)
        client = http or httpx.AsyncClient(
            timeout=settings.http_timeout_seconds, follow_redirects=True, headers={"User-Agent": "Flowyard"}
        )
        app = cls(settings, db, http=client)
        app._seed_agents()
        return app

    async def start(self) -> None:
        await self.executor.start()
        await self.batches.start()
        await self.callbacks.start()
        await self.schedules.start()

    async def close(self) -> None:
        await self.schedules.close()
        await self.batches.stop()
        await self.callbacks.stop()
        await self.executor.stop()
        await self.http.aclose()
        await self.db.drain()  # work a stopped task left in a thread still holds a connection
        self.db.dispose()

    def _tx(self, fn: Callable[[Session], T]) -> T:
        with Session(self.db.engine, expire_on_commit=False) as session:
            result = fn(session)
            session.commit()
            return result

    async def _run(self, fn: Callable[[Session], T]) -> T:
        return await self.db.run(self._tx, fn)

    def _seed_agents(self) -> None:
        def seed(session: Session) -> None:
            now = self._now()
            for kind_name in (*DEFAULT_AGENTS, *registry.PLUGIN_KINDS):
                if repo.get_agent(session, agent_id=kind_name) is None:
                    kind = registry.KINDS[kind_name]
                    session.add(
                        AgentRow(
                            id=kind_name,
                            name=kind.title,
                            kind=kind_name,
                            description=kind.description,
                            config={},
                            created_at=now,
                            updated_at=now,
                        )
                    )

        self._tx(seed)

    # --- workflows --------------------------------------------------------------------------------

    async def list_workflows(self, *, page: int, size: int, search: str | None = None) -> Page[WorkflowRow]:
        rows, total = await self._run(lambda s: repo.list_workflows(s, offset=page * size, limit=size, search=search))
        return Page(rows, total, page, size)

    @staticmethod
    def _workflow(session: Session, workflow_id: str) -> WorkflowRow:
        workflow = repo.get_workflow(session, workflow_id=workflow_id)
        if workflow is None:
            raise NotFound("workflow", workflow_id)
        return workflow

    async def get_workflow(self, workflow_id: str) -> WorkflowRow:
        return await self._run(lambda s: self._workflow(s, workflow_id))

    async def create_workflow(
        self, *, name: str, description: str = "", definition: WorkflowDefinition | None = None
    ) -> WorkflowRow:
        def create(session: Session) -> WorkflowRow:
            now = self._now()
            workflow = WorkflowRow(
                id=ids.new_workflow_id(), name=name, description=description, version=0, created_at=now, updated_at=now
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
            return workflow

        return await self._run(create)

    async def update_workflow(
        self, workflow_id: str, *, name: str | None = None, description: str | None = None
    ) -> WorkflowRow:
        def update(session: Session) -> WorkflowRow:
            workflow = self._workflow(session, workflow_id)
            if name is not None:
                workflow.name = name
            if description is not None:
                workflow.description = description
            workflow.updated_at = self._now()
            session.add(workflow)
            return workflow

        return await self._run(update)

    async def delete_workflow(self, workflow_id: str) -> None:
        def delete(session: Session) -> None:
            workflow = self._workflow(session, workflow_id)
            active = repo.count_active_runs(session, workflow_id=workflow_id)
            if active:
                raise Conflict(f"workflow '{workflow_id}' has {active} active run(s); cancel them before deleting it")
            repo.delete_workflow(session, workflow=workflow)

        await self._run(delete)

    async def clone_workflow(self, workflow_id: str) -> WorkflowRow:
        def read(session: Session) -> tuple[WorkflowRow, WorkflowDefinition]:
            workflow = self._workflow(session, workflow_id)
            return workflow, repo.get_definition(session, workflow_id=workflow_id)

        original, definition = await self._run(read)
        name = f"{original.name} (Copy)"
        return await self.create_workflow(name=name, description=original.description, definition=definition)

    async def definition(self, workflow_id: str) -> WorkflowDefinition:
        def read(session: Session) -> WorkflowDefinition:
            self._workflow(session, workflow_id)
            return repo.get_definition(session, workflow_id=workflow_id)

        return await self._run(read)

    async def save_definition(
        self, workflow_id: str, definition: WorkflowDefinition, *, name: str | None = None
    ) -> WorkflowRow:
        """Replace the workflow's graph and keep it as a new numbered version (a draft may be invalid;
        running it is what refuses)."""
        if name is not None and not name.strip():
            raise InvalidInput("name", "a workflow needs a name")

        def save(session: Session) -> WorkflowRow:
            workflow = self._workflow(session, workflow_id)
            keys = [n.key for n in definition.nodes]
            if len(keys) != len(set(keys)):
                raise InvalidInput("nodes", "two nodes share a key")
            now = self._now()
            if name is not None:
                workflow.name = name.strip()
            repo.replace_definition(
                session, workflow=workflow, definition=definition, now=now, new_node_id=_new_node_id
            )
            session.flush()
            repo.snapshot_version(session, workflow=workflow, definition=definition, now=now)
            return workflow

        return await self._run(save)

    # --- versions and the editor's helpers --------------------------------------------------------------

    async def versions(self, workflow_id: str) -> list[VersionInfo]:
        """Every kept version of a workflow, newest first: each save, and each version a run was started on."""

        def read(session: Session) -> list[VersionInfo]:
            self._workflow(session, workflow_id)
            return [
                VersionInfo(row.version, row.created_at, row.name, len(row.definition.get("nodes", [])))
                for row in repo.list_versions(session, workflow_id=workflow_id)
            ]

        return await self._run(read)

    async def version_definition(self, workflow_id: str, version: int) -> WorkflowDefinition:
        definition = await self.store.get_definition(workflow_id, version)
        if definition is None:
            raise NotFound("version", f"{workflow_id} v{version}")
        return definition

    async def restore_version(self, workflow_id: str, version: int) -> WorkflowRow:
        """Make an older version current again, as a new version (history is never rewritten)."""
        return await self.save_definition(workflow_id, await self.version_definition(workflow_id, version))

    async def agents_by_id(self) -> dict[str, AgentRecord]:
        rows, _ = await self._run(lambda s: repo.list_agents(s, offset=0, limit=10_000))
        return {a.id: AgentRecord(a.id, a.kind, a.name, a.config, a.description) for a in rows}

    async def last_run_data(self, workflow_id: str) -> RunData | None:
        """The newest run's payload and its nodes' outputs: what previews and completions are shown against."""

        def read(session: Session) -> tuple[RunRow, list[NodeRunRow]] | None:
            rows, _ = repo.list_runs(session, workflow_id=workflow_id, offset=0, limit=1)
            if not rows:
                return None
            return rows[0], repo.list_node_runs(session, run_id=rows[0].id)

        found = await self._run(read)
        if found is None:
            return None
        run, nodes = found
        outputs = {n.node_key: n.output for n in nodes if n.status == "COMPLETED"}
        return RunData(run.id, run.input, outputs, {n.node_key: n.status for n in nodes})

    async def try_node(
        self, workflow_id: str, definition: WorkflowDefinition, key: str, *, payload: Any, outputs: dict[str, Any]
    ) -> Trial:
        """Run one node of a (possibly unsaved) definition alone; nothing is stored."""
        agents = await self.agents_by_id()
        return await try_node(
            definition,
            key,
            agents,
            http=self.http,
            payload=payload,
            outputs=outputs,
            workflow_id=workflow_id,
            services=self.executor.services,
        )

    async def test_agent(self, agent_id: str, *, input: Any, action: str = "") -> Trial:
        """Run a saved agent once on a sample input (the Agents page's Test); nothing is stored."""
        agent = await self.get_agent(agent_id)
        definition = WorkflowDefinition(nodes=[NodeSpec(key="test", agent_id=agent.id, action=action)])
        return await self.try_node("", definition, "test", payload=input, outputs={})

    async def problems(self, workflow_id: str, definition: WorkflowDefinition | None = None) -> list[Problem]:
        """Every reason the workflow (its saved definition, or `definition` when given) cannot run, including
        `workflow` steps that run a missing workflow or make it run itself."""
        if definition is None:
            definition = await self.definition(workflow_id)
        agents = await self.store.get_agents({n.agent_id for n in definition.nodes})
        found = validate(definition, agents)

        def references(session: Session) -> list[Problem]:
            return reference_problems(session, workflow_id, definition, agents)

        return found + await self._run(references)

    # --- steps (the ordered-steps view of a graph) -----------------------------------------------------

    async def steps(self, workflow_id: str) -> list[NodeRow]:
        def read(session: Session) -> list[NodeRow]:
            self._workflow(session, workflow_id)
            return repo.node_rows(session, workflow_id=workflow_id)

        return await self._run(read)

    async def add_step(self, workflow_id: str, step: StepCreate) -> NodeRow:
        """Add a node. Without `after`, it joins the sequence at `stepOrder` (default: the end)."""

        def add(session: Session) -> NodeRow:
            workflow = self._workflow(session, workflow_id)
            agent = repo.get_agent(session, agent_id=step.agent_id)
            if agent is None:
                raise InvalidInput("agentId", f"no agent with id '{step.agent_id}'; create it under /api/v1/agents")
            errors = registry.config_errors(agent.kind, {**agent.config, **step.config})
            if errors:
                raise InvalidInput("config", "; ".join(errors))
            definition = repo.get_definition(session, workflow_id=workflow_id)
            keys = {n.key for n in definition.nodes}
            key = step.key or _free_key(keys)
            if key in keys:
                raise InvalidInput("key", f"the workflow already has a step with key '{key}'")
            if step.after is not None:
                unknown = [k for k in step.after if k not in keys]
                if unknown:
                    raise InvalidInput("after", f"no step with key {', '.join(map(repr, unknown))}")
            was_chain = _is_chain(definition)
            last = max((n.step_order or 0 for n in definition.nodes), default=0)
            order = step.step_order if step.step_order is not None else last + 1
            for node in definition.nodes:
                if node.step_order is not None and node.step_order >= order:
                    node.step_order += 1
            try:
                node = NodeSpec(
                    key=key,
                    agent_id=step.agent_id,
                    name=step.name,
                    action=step.action,
                    config=step.config,
                    input_mapping=step.input_mapping,
                    step_order=order,
                    needs_approval=step.needs_approval,
                    retries=step.retries,
                    retry_backoff_seconds=step.retry_backoff_seconds,
                    timeout_seconds=step.timeout_seconds,
                )
            except ValidationError as exc:
                err = exc.errors()[0]
                raise InvalidInput(str(err["loc"][0]) if err["loc"] else "step", err["msg"]) from None
            definition.nodes.append(node)
            if step.after is not None:
                definition.edges.extend(EdgeSpec(source=k, target=key) for k in dict.fromkeys(step.after))
            elif was_chain:
                _renumber(definition.nodes)
                definition.edges = _chain_edges(definition.nodes)
            else:
                before = [n for n in definition.nodes if n.key != key and (n.step_order or 0) < order]
                if before:
                    previous = max(before, key=lambda n: n.step_order or 0)
                    definition.edges.append(EdgeSpec(source=previous.key, target=key))
            ids_by_key = repo.replace_definition(
                session, workflow=workflow, definition=definition, now=self._now(), new_node_id=_new_node_id
            )
            session.flush()
            row = session.get(NodeRow, ids_by_key[key])
            assert row is not None
            return row

        return await self._run(add)

    async def delete_step(self, workflow_id: str, step_id: str) -> None:
        def delete(session: Session) -> None:
            workflow = self._workflow(session, workflow_id)
            row = session.get(NodeRow, step_id)
            if row is None or row.workflow_id != workflow_id:
                raise NotFound("step", step_id)
            definition = repo.get_definition(session, workflow_id=workflow_id)
            was_chain = _is_chain(definition)
            definition.nodes = [n for n in definition.nodes if n.key != row.key]
            if was_chain:
                _renumber(definition.nodes)
                definition.edges = _chain_edges(definition.nodes)
            else:
                incoming = [e for e in definition.edges if e.target == row.key]
                outgoing = [e for e in definition.edges if e.source == row.key]
                definition.edges = [e for e in definition.edges if row.key not in (e.source, e.target)]
                existing = {e.id for e in definition.edges}
                for into in incoming:
                    for out in outgoing:
                        bridge = EdgeSpec(
                            source=into.source,
                            target=out.target,
                            source_handle=into.source_handle,
                            condition=into.condition,
                        )
                        if bridge.id not in existing:
                            definition.edges.append(bridge)
                            existing.add(bridge.id)
            repo.replace_definition(
                session, workflow=workflow, definition=definition, now=self._now(), new_node_id=_new_node_id
            )

        await self._run(delete)

    # --- export / import ------------------------------------------------------------------------------------

    async def export_workflow(self, workflow_id: str) -> WorkflowDocument:
        def read(session: Session) -> WorkflowDocument:
            workflow = self._workflow(session, workflow_id)
            definition = repo.get_definition(session, workflow_id=workflow_id)
            agent_ids = sorted({n.agent_id for n in definition.nodes})
            agents = [repo.get_agent(session, agent_id=a) for a in agent_ids]
            return WorkflowDocument(
                name=workflow.name,
                description=workflow.description,
                definition=definition,
                agents=[
                    AgentDocument(id=a.id, name=a.name, kind=a.kind, description=a.description, config=a.config)
                    for a in agents
                    if a is not None
                ],
            )

        return await self._run(read)

    async def import_workflow(self, document: dict[str, Any]) -> WorkflowRow:
        """Create a workflow (and any saved agents it needs that are missing) from an exported document."""
        if not isinstance(document, dict):
            raise InvalidInput("document", "a workflow document is a JSON object")
        if document.get("format") != EXPORT_FORMAT:
            raise InvalidInput("format", f"not a Flowyard workflow document (expected format '{EXPORT_FORMAT}')")
        if document.get("version") != EXPORT_VERSION:
            raise InvalidInput(
                "version", f"document version {document.get('version')!r} is not supported (expected {EXPORT_VERSION})"
            )
        try:
            doc = WorkflowDocument.model_validate(document)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InvalidInput(".".join(str(p) for p in err["loc"]) or "document", err["msg"]) from None
        for agent in doc.agents:
            errors = registry.config_errors(agent.kind, agent.config)
            if errors:
                raise InvalidInput(f"agents.{agent.id}", "; ".join(errors))
        keys = [n.key for n in doc.definition.nodes]
        if len(keys) != len(set(keys)):
            raise InvalidInput("definition.nodes", "two nodes share a key")
        structure = structure_problems(doc.definition) if doc.definition.nodes else []
        if structure:
            raise InvalidInput("definition", "; ".join(p.message for p in structure))
        known = set(await self.agents_by_id()) | {a.id for a in doc.agents}
        unknown = sorted({n.agent_id for n in doc.definition.nodes} - known)
        if unknown:
            raise InvalidInput("definition.nodes", f"unknown agent(s) {', '.join(unknown)}, not in the document")

        def create(session: Session) -> WorkflowRow:
            now = self._now()
            for agent in doc.agents:
                if repo.get_agent(session, agent_id=agent.id) is None:
                    session.add(AgentRow(**agent.model_dump(), created_at=now, updated_at=now))
            workflow = WorkflowRow(
                id=ids.new_workflow_id(),
                name=doc.name,
                description=doc.description,
                version=0,
                created_at=now,
                updated_at=now,
            )
            session.add(workflow)
            session.flush()
            repo.replace_definition(
                session, workflow=workflow, definition=doc.definition, now=now, new_node_id=_new_node_id
            )
            return workflow

        return await self._run(create)

    # --- runs -------------------------------------------------------------------------------------------------

    async def start_run(
        self,
        workflow_id: str,
        *,
        input: Any,
        session_id: str | None = None,
        trigger: Trigger = Trigger.API,
        callback_url: str | None = None,
        input_field: str = "input",
        parent_run_id: str | None = None,
        parent_node_key: str | None = None,
        chain: tuple[str, ...] = (),
    ) -> RunRecord:
        """Validate the workflow and the input, freeze the version, store a QUEUED run and start executing it.

        The input must fit the workflow's input schema (its entry nodes'); `input_field` is where the caller
        sent it, to name bad fields the caller's way ("" when the input's fields are the body's own).
        When the run ends, its result is POSTed to `callback_url`. A sub-workflow's run names the run and
        step that start it and the workflows it is nested in (`app.subworkflows`).
        """
        if callback_url is not None and (problem := callback_url_problem(callback_url)):
            raise InvalidInput("callbackUrl", problem)
        now = self._now()

        def prepare(session: Session) -> int:
            workflow = self._workflow(session, workflow_id)
            version = (workflow_id, workflow.version)
            definition = self._definitions.get(version)
            if definition is None:
                definition = repo.get_definition(session, workflow_id=workflow_id)
            agents = {
                a.id: AgentRecord(a.id, a.kind, a.name, a.config)
                for a in repo.get_agents(session, agent_ids={n.agent_id for n in definition.nodes})
            }
            fingerprint = agents_fingerprint(agents)
            if self._validated.get(version) != fingerprint:
                problems = validate(definition, agents)
                if problems:
                    raise WorkflowInvalid(problems, workflow_id=workflow_id)
            # Not cached: the workflows this one runs may have changed since.
            if problems := reference_problems(session, workflow_id, definition, agents):
                raise WorkflowInvalid(problems, workflow_id=workflow_id)
            bad_input = input_problems(workflow_input_schemas(definition, agents), input, path=input_field)
            if bad_input:
                raise InputInvalid(bad_input)
            if version not in self._definitions:
                repo.snapshot_version(session, workflow=workflow, definition=definition, now=now)
            self._remember(version, definition, fingerprint)
            return workflow.version

        version = await self._run(prepare)
        run = RunRecord(
            id=ids.new_run_id(),
            workflow_id=workflow_id,
            workflow_version=version,
            status=RunStatus.QUEUED,
            input=input,
            session_id=session_id or new_session_id(),
            trigger=trigger,
            callback_url=callback_url,
            created_at=now,
            updated_at=now,
            parent_run_id=parent_run_id,
            parent_node_key=parent_node_key,
            chain=chain,
        )
        await self.store.create_run(run)
        self.executor.submit(run.id)
        return run

    def _remember(self, version: tuple[str, int], definition: WorkflowDefinition, fingerprint: str) -> None:
        """Cache a frozen, validated version (a version's definition never changes)."""
        self._definitions[version] = definition
        self._validated[version] = fingerprint
        while len(self._definitions) > 256:
            oldest = next(iter(self._definitions))
            del self._definitions[oldest]
            self._validated.pop(oldest, None)

    async def list_runs(self, workflow_id: str, *, page: int, size: int) -> Page[RunRow]:
        def read(session: Session) -> tuple[list[RunRow], int]:
            self._workflow(session, workflow_id)
            return repo.list_runs(session, workflow_id=workflow_id, offset=page * size, limit=size)

        rows, total = await self._run(read)
        return Page(rows, total, page, size)

    async def get_run(self, run_id: str) -> RunRow:
        def read(session: Session) -> RunRow:
            run = repo.get_run(session, run_id=run_id)
            if run is None:
                raise NotFound("run", run_id)
            return run

        return await self._run(read)

    async def child_run(self, run_id: str, node_key: str) -> RunRow | None:
        """The run that the `workflow` step `node_key` of run `run_id` started (a sub-workflow), if any."""
        return await self._run(lambda s: repo.find_child_run(s, parent_run_id=run_id, parent_node_key=node_key))

    async def run_detail(
        self, run_id: str
    ) -> tuple[RunRow, list[NodeRunRow], list[Approval], WorkflowDefinition | None]:
        run = await self.get_run(run_id)
        nodes = await self._run(lambda s: repo.list_node_runs(s, run_id=run_id))
        approvals = await self.store.get_approvals(run_id)
        definition = await self.store.get_definition(run.workflow_id, run.workflow_version)
        return run, nodes, approvals, definition

    async def resume(
        self, run_id: str, *, output: Any, node_key: str | None = None, decided_by: str | None = None
    ) -> Approval:
        return await self.executor.decide(run_id, node_key, approved=True, output=output, decided_by=decided_by)

    async def reject(
        self, run_id: str, *, reason: str, node_key: str | None = None, decided_by: str | None = None
    ) -> Approval:
        return await self.executor.decide(run_id, node_key, approved=False, reason=reason, decided_by=decided_by)

    async def cancel(self, run_id: str) -> RunRecord:
        return await self.executor.cancel(run_id)

    async def rerun_failed(self, run_id: str) -> RunRecord:
        return await self.executor.rerun_failed(run_id)

    async def callback_deliveries(self, run_id: str) -> list[CallbackDelivery]:
        """Every attempt at the run's callback, oldest first."""
        return await self.store.get_callback_deliveries(run_id)

    # --- token usage and sessions ----------------------------------------------------------------------------

    async def token_usage(self, *, run_id: str | None = None, workflow_id: str | None = None) -> TokenUsage:
        """Tokens the llm steps used: of one run (summed over its node runs), or of every run of a workflow.

        Give exactly one of the two. `estimated` says (for a run) that some step's server reported no usage,
        so its count is an estimate. Raises NotFound for an unknown run or workflow.
        """
        if (run_id is None) == (workflow_id is None):
            raise InvalidInput("run_id", "give a run id or a workflow id, not both or neither")

        def read(session: Session) -> TokenUsage:
            if run_id is not None:
                if repo.get_run(session, run_id=run_id) is None:
                    raise NotFound("run", run_id)
                return TokenUsage.of([n.usage for n in repo.list_node_runs(session, run_id=run_id)])
            assert workflow_id is not None
            self._workflow(session, workflow_id)
            columns = (RunRow.prompt_tokens, RunRow.completion_tokens, RunRow.total_tokens)
            query = sa.select(*(sa.func.coalesce(sa.func.sum(c), 0) for c in columns)).where(
                col(RunRow.workflow_id) == workflow_id
            )
            prompt, completion, total = session.execute(query).one()
            return TokenUsage(int(prompt), int(completion), int(total))

        return await self._run(read)

    async def list_sessions(self, *, after: str | None = None, size: int = 50) -> SessionPage:
        """Sessions with their message count, most recently used first; pass `next_cursor` as `after`."""
        if not 1 <= size <= 500:
            raise InvalidInput("size", "between 1 and 500")
        return await self.db.run(self._connected, lambda c: session_store.list_sessions(c, after=after, size=size))

    async def get_session(self, session_id: str) -> SessionSummary:
        found = await self.db.run(self._connected, lambda c: session_store.session_summary(c, session_id))
        if found is None:
            raise NotFound("session", session_id)
        return found

    async def session_messages(self, session_id: str) -> list[SessionMessage]:
        """Every message the session's llm steps exchanged, oldest first. Raises NotFound."""
        await self.get_session(session_id)
        return await self.db.run(self._connected, lambda c: session_store.session_messages(c, session_id))

    async def clear_session(self, session_id: str) -> None:
        """Forget a session and its messages: later runs with its id start a fresh conversation."""

        def clear() -> bool:
            with self.db.engine.begin() as conn:
                return session_store.clear_session(conn, session_id)

        if not await self.db.run(clear):
            raise NotFound("session", session_id)

    # --- run history, the approval inbox and pruning -------------------------------------------------------

    def _connected(self, fn: Callable[[sa.Connection], T]) -> T:
        with self.db.engine.connect() as conn:
            return fn(conn)

    async def list_all_runs(
        self, query: RunQuery | None = None, *, after: str | None = None, size: int = 50
    ) -> RunPage:
        """Runs of every workflow matching `query`, newest first (by created_at, then id).

        Pass the page's `next_cursor` as `after` for the next one. Raises InvalidInput naming "after" for
        a cursor this method did not give out, or "size" outside 1..500.
        """
        wanted = query or RunQuery()
        return await self.db.run(self._connected, lambda c: history.list_runs(c, wanted, after=after, size=size))

    async def active_counts(self) -> ActiveCounts:
        """Queued, running and paused runs, and pending approvals: the header badge (indexed counts)."""
        return await self.db.run(self._connected, history.active_counts)

    async def pending_approvals(self, *, after: str | None = None, size: int = 50) -> ApprovalPage:
        """Approvals waiting for a person across all workflows, newest first; `after` as in `list_all_runs`."""
        if len(self._titles) > 1024:
            self._titles.clear()
        return await self.db.run(
            self._connected, lambda c: history.pending_approvals(c, after=after, size=size, titles=self._titles)
        )

    async def approval_context(self, approval_id: str) -> ApprovalContext:
        """One approval with the run's input, the outputs of the nodes it depends on, and its decision."""
        record = await self.db.run(self._connected, lambda c: history.find_approval(c, approval_id))
        if record is None:
            raise NotFound("approval", approval_id)
        definition = await self.store.get_definition(record.workflow_id, record.workflow_version)
        nodes = await self.store.get_node_runs(record.run_id)
        spec = None
        ancestors: set[str] = set()
        if definition is not None:
            spec = next((n for n in definition.nodes if n.key == record.node_key), None)
            ancestors = _ancestors(definition, record.node_key)
        instructions = ""
        if spec is not None:
            agents = await self.store.get_agents([spec.agent_id])
            saved = agents.get(spec.agent_id)
            config = effective_config(spec, saved) if saved is not None else spec.config
            instructions = str(config.get("instructions") or "")
        return ApprovalContext(
            id=record.id,
            status=record.status,
            run_id=record.run_id,
            run_status=record.run_status,
            workflow_id=record.workflow_id,
            workflow_name=record.workflow_name,
            workflow_version=record.workflow_version,
            node_key=record.node_key,
            node_title=(spec.name if spec is not None else "") or record.node_key,
            instructions=instructions,
            proposal=record.proposal,
            output=record.output,
            run_input=record.run_input,
            upstream={n.node_key: n.output for n in nodes if n.node_key in ancestors and n.status.value == "COMPLETED"},
            waiting_since=record.created_at,
            deadline_at=record.deadline_at,
            on_deadline=record.on_deadline,
            decided_by=record.decided_by,
            decided_at=record.decided_at,
            reason=record.reason,
        )

    async def decide_approval(
        self,
        approval_id: str,
        decision: Decision,
        *,
        output: Any = None,
        reason: str | None = None,
        decided_by: str | None = None,
    ) -> Approval:
        """Decide one approval and carry its run on, through the executor's own decide path.

        "approve" takes the proposal as it stands (`output` must be None), "approve_edited" takes `output`
        instead, "reject" fails the node with `reason`. Who, when, the reason and the approved output are kept
        on the approval. Raises NotFound for an unknown id, Conflict when it was decided already (or its run
        is busy this instant, carrying on from another decision: try again), InvalidInput for a bad decision.
        """
        if decision not in ("approve", "approve_edited", "reject"):
            raise InvalidInput("decision", "one of approve, approve_edited, reject")
        if decision == "approve" and output is not None:
            raise InvalidInput("output", "approve takes the proposal as it is; use approve_edited to change it")
        if decision == "approve_edited" and output is None:
            raise InvalidInput("output", "approve_edited needs the edited output")
        if reason is not None and len(reason) > 5000:
            raise InvalidInput("reason", "at most 5000 characters")
        if decided_by is not None and len(decided_by) > 200:
            raise InvalidInput("decided_by", "at most 200 characters")
        record = await self.db.run(self._connected, lambda c: history.find_approval(c, approval_id))
        if record is None:
            raise NotFound("approval", approval_id)
        if record.status != "PENDING":
            by = f" by {record.decided_by}" if record.decided_by else ""
            raise Conflict(f"approval '{approval_id}' is {record.status.lower()} already{by}")
        approved = decision != "reject"
        decided = await self.executor.decide(
            record.run_id,
            record.node_key,
            approved=approved,
            output=(record.proposal if decision == "approve" else output) if approved else None,
            decided_by=decided_by,
            reason=reason,
        )
        return decided

    @staticmethod
    def approval_changes(proposal: Any, output: Any) -> list[JsonChange]:
        """What an edit changed: each JSON path with its value before and after (see `app.json_diff`)."""
        return json_changes(proposal, output)

    @staticmethod
    def approval_text_diff(proposal: Any, output: Any) -> str:
        """The same as a unified diff of the pretty-printed JSON ("" when nothing changed)."""
        return text_diff(proposal, output)

    async def prune_runs(
        self,
        *,
        older_than: timedelta | None = None,
        keep_per_workflow: int | None = None,
        workflow_id: str | None = None,
    ) -> PruneResult:
        """Delete finished runs with their node runs, approvals and callback deliveries, in short batches.

        A run goes when it has ended, was created more than `older_than` ago (when given) and is not among
        the `keep_per_workflow` newest runs of its workflow (when given); give at least one. Queued, running
        and paused runs are never deleted. Runs in a worker thread so the event loop stays free.
        """
        if workflow_id is not None:
            await self.get_workflow(workflow_id)
        now = self._now()

        def prune() -> PruneResult:
            total = PruneResult()
            for batch in history.prune_batches(
                self.db.engine,
                now=now,
                older_than=older_than,
                keep_per_workflow=keep_per_workflow,
                workflow_id=workflow_id,
            ):
                total += batch
            return total

        return await asyncio.to_thread(prune)

    # --- agents --------------------------------------------------------------------------------------------------

    async def list_agents(self, *, page: int, size: int) -> Page[AgentRow]:
        rows, total = await self._run(lambda s: repo.list_agents(s, offset=page * size, limit=size))
        return Page(rows, total, page, size)

    async def agent_summaries(self) -> list[AgentSummary]:
        """Every saved agent (by name) with the workflows that use it: the Agents page."""

        def read(session: Session) -> list[AgentSummary]:
            used = repo.workflows_by_agent(session)
            rows, _ = repo.list_agents(session, offset=0, limit=10_000)
            return [
                AgentSummary(
                    id=row.id,
                    name=row.name,
                    kind=row.kind,
                    description=row.description,
                    config=dict(row.config or {}),
                    updated_at=row.updated_at,
                    used_by=used.get(row.id, []),
                )
                for row in sorted(rows, key=lambda r: (r.name or r.id).lower())
            ]

        return await self._run(read)

    @staticmethod
    def _agent(session: Session, agent_id: str) -> AgentRow:
        agent = repo.get_agent(session, agent_id=agent_id)
        if agent is None:
            raise NotFound("agent", agent_id)
        return agent

    async def get_agent(self, agent_id: str) -> AgentRow:
        return await self._run(lambda s: self._agent(s, agent_id))

    async def create_agent(
        self, *, id: str | None, name: str, kind: str, description: str = "", config: dict[str, Any] | None = None
    ) -> AgentRow:
        config = config or {}
        if registry.get_kind(kind) is None:
            raise InvalidInput("kind", f"unknown kind '{kind}'; one of {', '.join(sorted(registry.KINDS))}")
        errors = registry.config_errors(kind, config)
        if errors:
            raise InvalidInput("config", "; ".join(errors))

        def create(session: Session) -> AgentRow:
            agent_id = id or ids.new_id("ag")
            if repo.get_agent(session, agent_id=agent_id) is not None:
                raise Conflict(f"an agent with id '{agent_id}' exists already")
            now = self._now()
            row = AgentRow(
                id=agent_id,
                name=name,
                kind=kind,
                description=description,
                config=config,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            return row

        return await self._run(create)

    async def update_agent(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> AgentRow:
        def update(session: Session) -> AgentRow:
            agent = self._agent(session, agent_id)
            if config is not None:
                errors = registry.config_errors(agent.kind, config)
                if errors:
                    raise InvalidInput("config", "; ".join(errors))
                agent.config = config
            if name is not None:
                agent.name = name
            if description is not None:
                agent.description = description
            agent.updated_at = self._now()
            session.add(agent)
            return agent

        return await self._run(update)

    async def delete_agent(self, agent_id: str) -> None:
        def delete(session: Session) -> None:
            agent = self._agent(session, agent_id)
            users = repo.agents_in_use(session, agent_id=agent_id)
            if users:
                names = ", ".join(f"'{name}' ({wid})" for wid, name in users[:10])
                raise Conflict(f"agent '{agent_id}' is used by workflow(s) {names}; remove those steps first")
            runs = repo.active_runs_using_agent(session, agent_id=agent_id)
            if runs:
                listed = ", ".join(runs)
                raise Conflict(
                    f"agent '{agent_id}' is used by active run(s) {listed}; let them finish or cancel them first"
                )
            session.delete(agent)

        await self._run(delete)

    # --- credentials ----------------------------------------------------------------------------------------------

    async def list_credentials(self) -> list[CredentialInfo]:
        """Every credential's name, type and timestamps, by name; never its values."""
        rows = await self._run(credential_repo.list_credentials)
        return [CredentialInfo.of(row) for row in rows]

    async def create_credential(self, name: str, type: str, values: dict[str, str]) -> CredentialInfo:
        """Store a new credential, encrypted; Conflict when the name is taken."""
        check_name(name)
        sealed = self.vault.seal(check_values(check_type(type), values))

        def create(session: Session) -> CredentialInfo:
            if credential_repo.get_credential(session, name=name) is not None:
                raise Conflict(f"a credential named '{name}' exists already")
            now = self._now()
            row = CredentialRow(name=name, type=type, secret=sealed, created_at=now, updated_at=now)
            session.add(row)
            return CredentialInfo.of(row)

        return await self._run(create)

    async def update_credential(self, name: str, values: dict[str, str]) -> CredentialInfo:
        """Replace a credential's values (its name and type stay); the old values cannot be read back."""

        def update(session: Session) -> CredentialInfo:
            row = credential_repo.get_credential(session, name=name)
            if row is None:
                raise NotFound("credential", name)
            row.secret = self.vault.seal(check_values(row.type, values))
            row.updated_at = self._now()
            session.add(row)
            return CredentialInfo.of(row)

        return await self._run(update)

    async def delete_credential(self, name: str) -> None:
        """Delete a credential; Conflict, listing them, while saved agents or workflow steps refer to it."""

        def delete(session: Session) -> None:
            row = credential_repo.get_credential(session, name=name)
            if row is None:
                raise NotFound("credential", name)
            agents = credential_repo.agents_using_credential(session, name=name)
            workflows = credential_repo.workflows_using_credential(session, name=name)
            if agents or workflows:
                users = [f"agent '{agent_name}' ({agent_id})" for agent_id, agent_name in agents]
                users += [f"workflow '{wf_name}' ({wf_id})" for wf_id, wf_name in workflows]
                raise Conflict(
                    f"credential '{name}' is used by {', '.join(users[:10])}; point them at another credential first"
                )
            session.delete(row)

        await self._run(delete)

    # --- the workflows page and the shell -------------------------------------------------------------------

    async def list_workflow_summaries(
        self,
        *,
        page: int,
        size: int,
        search: str | None = None,
        sort: WorkflowSort = "updated",
        descending: bool | None = None,
    ) -> Page[WorkflowSummary]:
        """Workflows with their step count and last run, searched by name or description.

        `descending` defaults to what each sort is for: latest edits first, names A to Z, and runs
        that need attention (failed, waiting) first.
        """
        reverse = sort == "updated" if descending is None else descending

        def read(session: Session) -> tuple[list[repo.WorkflowSummaryRow], int]:
            return repo.list_workflow_summaries(
                session, offset=page * size, limit=size, search=search or None, sort=sort, descending=reverse
            )

        rows, total = await self._run(read)
        items = [
            WorkflowSummary(
                id=workflow.id,
                name=workflow.name,
                description=workflow.description,
                steps=steps,
                updated_at=workflow.updated_at,
                last_run_status=status,
                last_run_at=last_run_at,
            )
            for workflow, steps, status, last_run_at in rows
        ]
        return Page(items, total, page, size)

    async def activity(self) -> Activity:
        """What the shell shows live: runs queued or running, and approvals waiting for a person."""

        def read(session: Session) -> Activity:
            return Activity(
                active_runs=repo.count_runs(session, statuses=(RunStatus.QUEUED, RunStatus.RUNNING)),
                pending_approvals=repo.count_pending_approvals(session),
            )

        return await self._run(read)

    async def examples(self) -> list[ExampleWorkflow]:
        """The example workflows shipped in `assets/examples/` (id: the file name without `.json`)."""
        documents = await asyncio.to_thread(_example_documents, EXAMPLES_DIR)
        return [
            ExampleWorkflow(
                id=example_id,
                name=str(document.get("name", example_id)),
                description=str(document.get("description", "")),
                steps=len((document.get("definition") or {}).get("nodes") or []),
            )
            for example_id, document in documents.items()
        ]

    async def import_example(self, example_id: str) -> WorkflowRow:
        """Create a workflow (and the agents it needs) from one of the shipped examples."""
        documents = await asyncio.to_thread(_example_documents, EXAMPLES_DIR)
        if example_id not in documents:
            raise NotFound("example", example_id)
        return await self.import_workflow(documents[example_id])

    async def import_workflow_file(self, content: bytes) -> WorkflowRow:
        """Create a workflow from the bytes of an uploaded export file, or refuse it and create nothing.

        On top of `import_workflow`'s checks: the file's size (the API's body limit), that it is UTF-8
        JSON without NaN or Infinity, and that names and descriptions are plain text, not markup.
        """
        limit = self.settings.max_body_bytes
        if len(content) > limit:
            size, most = _human_bytes(len(content)), _human_bytes(limit)
            raise InvalidInput("file", f"the file is {size}; Flowyard imports files of up to {most}")
        try:
            document = json.loads(content.decode("utf-8-sig"), parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise InvalidInput("file", "the file is not text; choose a .json file exported from Flowyard") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                "file", f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        except ValueError as exc:
            raise InvalidInput("file", str(exc)) from None
        except RecursionError:
            raise InvalidInput("file", "the JSON is nested too deeply") from None
        # Markup is looked for only in what claims to be a document of this version: anything else gets
        # `import_workflow`'s message about the format or version, which says more.
        ours = isinstance(document, dict) and document.get("format") == EXPORT_FORMAT
        if ours and document.get("version") == EXPORT_VERSION:
            for field, text in _document_texts(document):
                if _MARKUP.search(text):
                    raise InvalidInput(field, "contains HTML markup; names and descriptions are plain text")
        return await self.import_workflow(document)


Decision = Literal["approve", "approve_edited", "reject"]


def _ancestors(definition: WorkflowDefinition, key: str) -> set[str]:
    """The keys of every node `key` depends on, directly or through others."""
    sources: dict[str, list[str]] = {}
    for edge in definition.edges:
        sources.setdefault(edge.target, []).append(edge.source)
    found: set[str] = set()
    todo = list(sources.get(key, []))
    while todo:
        node = todo.pop()
        if node not in found:
            found.add(node)
            todo.extend(sources.get(node, []))
    return found


def _free_key(taken: set[str]) -> str:
    number = len(taken) + 1
    while f"step_{number}" in taken:
        number += 1
    return f"step_{number}"


# --- what the workflows page and the shell show -----------------------------------------------------------

WorkflowSort = Literal["name", "updated", "last_run"]
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "examples"
# An HTML tag, comment or script opener: refused in imported names, which are plain text everywhere.
_MARKUP = re.compile(r"<\s*/?\s*[a-z][\w:-]*(\s[^<>]*)?/?\s*>|<!--|<\s*script", re.IGNORECASE)


@dataclass(frozen=True)
class AgentSummary:
    id: str
    name: str
    kind: str
    description: str
    config: dict[str, Any]
    updated_at: datetime
    used_by: list[tuple[str, str]]
    """(workflow id, name) of the workflows with a step using this agent."""


@dataclass(frozen=True)
class WorkflowSummary:
    """One workflow as the workflows page lists it."""

    id: str
    name: str
    description: str
    steps: int
    updated_at: datetime
    last_run_status: str | None
    last_run_at: datetime | None


@dataclass(frozen=True)
class Activity:
    active_runs: int
    pending_approvals: int


@dataclass(frozen=True)
class ExampleWorkflow:
    id: str
    name: str
    description: str
    steps: int


def _example_documents(directory: Path) -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("skipping example %s: %s", path, exc)
            continue
        if isinstance(document, dict):
            documents[path.stem] = document
    return documents


def _document_texts(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The names and descriptions of a not yet validated document, with the field each sits in."""
    texts = [(field, document.get(field)) for field in ("name", "description")]
    definition = document.get("definition")
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if isinstance(node, dict):
            texts.append((f"definition.nodes.{node.get('key', index)}.name", node.get("name")))
    agents = document.get("agents")
    for index, agent in enumerate(agents if isinstance(agents, list) else []):
        if isinstance(agent, dict):
            for field in ("name", "description"):
                texts.append((f"agents.{agent.get('id', index)}.{field}", agent.get(field)))
    return [(field, text) for field, text in texts if isinstance(text, str)]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the file contains {name}, which JSON does not allow")


def _human_bytes(size: int) -> str:
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f} MB"
    return f"{max(1, round(size / 1024))} KB"
