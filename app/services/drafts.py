"""The editor's helpers: checking a draft as it is edited, previewing a step's input, trying one step.

A draft is a definition that may be invalid and is not saved yet. Checking it is instant (the graph and
the saved agents, on every edit); what only the database knows (the workflows its `workflow` steps run)
is checked by `problems`. Previews and trials use the last run's data, or a sample payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
from sqlmodel import Session

from app.engine import mapping
from app.engine.exceptions import Problem
from app.engine.inference import failure_hint
from app.engine.inputs import form_schema, workflow_input_schemas
from app.engine.kinds import AgentKind, AgentServices, Kinds, config_errors
from app.engine.model import WorkflowDefinition
from app.engine.needs import Needs, explain, needs_problems, step_needs
from app.engine.plan import validate
from app.engine.store import AgentRecord
from app.engine.trial import Trial, node_input, preview, try_node
from storage import repositories as repo
from storage.db import Database
from storage.models import NodeRunRow, RunRow, WorkflowVersionRow

__all__ = ["DataSource", "DraftService", "PreviewKind", "RunData"]

PreviewKind = Literal["json", "note", "error"]
CONTEXT_ROOTS = frozenset({"input", "payload", "run.id", "run.sessionId", "run.workflowId"})


@dataclass(frozen=True)
class RunData:
    """A run's payload and its steps' outputs and statuses, for previews against real data."""

    run_id: str
    payload: Any
    outputs: dict[str, Any]
    statuses: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    """The failed steps' errors, by step key."""
    hints: dict[str, str] = field(default_factory=dict)
    """For a failed step whose run's input lacked what it reads: what to add ("enrich needs input.email: …")."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """Each step's input as it arrived (its input mapping applied), by step key."""


@dataclass(frozen=True)
class DataSource:
    """One root a step's templates can read (`input`, `nodes.enrich.output`, `payload`) and its value at hand."""

    reference: str
    title: str
    value: Any


class AgentDirectory(Protocol):
    """What drafts need of the agents service: the saved agents, by id."""

    async def by_id(self) -> dict[str, AgentRecord]: ...


class WorkflowChecker(Protocol):
    """What drafts need of the workflows service: every problem of a definition, the database's included."""

    async def problems(self, workflow_id: str, definition: WorkflowDefinition | None = None) -> list[Problem]: ...


class DraftService:
    """What the editor asks while someone edits a workflow; nothing here writes anything."""

    def __init__(
        self,
        db: Database,
        *,
        kinds: Kinds,
        http: httpx.AsyncClient,
        agent_services: Callable[[], AgentServices],
        agents: AgentDirectory,
        workflows: WorkflowChecker,
    ) -> None:
        self._db = db
        self._kinds = kinds
        self._http = http
        self._agent_services = agent_services
        self._agents = agents
        self._workflows = workflows

    # --- checking ----------------------------------------------------------------------------------------

    def check(self, definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]) -> list[Problem]:
        """Every reason the draft cannot run that the graph and the saved agents tell (instant)."""
        problems = validate(definition, agents, self._kinds)
        if problems:  # (fields a step lacks matter once the graph itself holds together)
            return problems
        return needs_problems(definition, agents, self._kinds)

    def needs(self, definition: WorkflowDefinition, key: str, agents: Mapping[str, AgentRecord]) -> Needs:
        """The fields step `key` reads from its input and the run's input, and where its input comes from."""
        return step_needs(definition, key, agents, self._kinds)

    @staticmethod
    def runs_workflows(definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]) -> bool:
        """Whether the draft has `workflow` steps, whose targets only `problems` can check."""
        return any(agents[n.agent_id].kind == "workflow" for n in definition.nodes if n.agent_id in agents)

    async def problems(self, workflow_id: str, definition: WorkflowDefinition) -> list[Problem]:
        """Every reason the draft cannot run, including what the workflows its steps run allow."""
        return await self._workflows.problems(workflow_id, definition)

    def kind(self, name: str) -> type[AgentKind] | None:
        return self._kinds.get(name)

    def config_errors(self, kind: str, config: dict[str, Any]) -> list[str]:
        return config_errors(self._kinds, kind, config)

    def input_schema(self, definition: WorkflowDefinition | None, agents: Mapping[str, AgentRecord]) -> Any:
        """The form the run dialog shows for the workflow's input, or None when it takes any JSON."""
        return form_schema(workflow_input_schemas(definition, agents, self._kinds) if definition else [])

    # --- data to preview with --------------------------------------------------------------------------------

    async def last_run(self, workflow_id: str) -> RunData | None:
        """The newest run's payload and its steps' outputs: what previews and completions are shown against."""

        def read(session: Session) -> tuple[RunRow, list[NodeRunRow], dict[str, str]] | None:
            rows, _ = repo.list_runs(session, workflow_id=workflow_id, offset=0, limit=1)
            if not rows:
                return None
            nodes = repo.list_node_runs(session, run_id=rows[0].id)
            return rows[0], nodes, self._hints(session, rows[0], nodes)

        found = await self._db.tx(read)
        if found is None:
            return None
        run, nodes, hints = found
        outputs = {n.node_key: n.output for n in nodes if n.status == "COMPLETED"}
        errors = {n.node_key: n.error or "failed" for n in nodes if n.status == "FAILED"}
        statuses = {n.node_key: n.status for n in nodes}
        inputs = {n.node_key: n.input for n in nodes if n.status not in ("QUEUED", "SKIPPED")}
        return RunData(run.id, run.input, outputs, statuses, errors, hints, inputs=inputs)

    @staticmethod
    def _hints(session: Session, run: RunRow, nodes: list[NodeRunRow]) -> dict[str, str]:
        """Fix hints of the run's failed steps, from the version it ran (`app.engine.inference.failure_hint`)."""
        failed = [n.node_key for n in nodes if n.status == "FAILED"]
        version = session.get(WorkflowVersionRow, (run.workflow_id, run.workflow_version)) if failed else None
        if version is None:
            return {}
        definition = WorkflowDefinition.model_validate(version.definition)
        agents = {
            a.id: AgentRecord(a.id, a.kind, a.name, a.config)
            for a in repo.get_agents(session, agent_ids={n.agent_id for n in definition.nodes})
        }
        found = {key: failure_hint(definition, key, run.input, agents) for key in failed}
        return {key: hint for key, hint in found.items() if hint}

    def preview_input(
        self, definition: WorkflowDefinition, key: str, *, payload: Any, outputs: Mapping[str, Any], workflow_id: str
    ) -> tuple[str, PreviewKind]:
        """The step's rendered input as JSON, or why it cannot be shown (yet)."""
        shown = preview(definition, key, payload=payload, outputs=outputs, workflow_id=workflow_id)
        node = definition.node(key)
        if node.input_mapping is None:  # the previous steps' output
            used = {edge.source for edge in definition.edges if edge.target == key}
        else:
            used = mapping.referenced_nodes(node.input_mapping)
        unseen = sorted((used & {n.key for n in definition.nodes}) - set(outputs))  # unknown names are errors
        if unseen and (shown.error is not None or node.input_mapping is None):
            names = ", ".join(f"'{name}'" for name in unseen)  # not wrong: those steps have not run yet
            return f"No output from {names} yet: run the workflow once to preview with its data.", "note"
        if shown.error is None:
            return json.dumps(shown.input, indent=2, default=str), "json"
        return explain(shown.error), "error"

    @staticmethod
    def completions(
        definition: WorkflowDefinition | None, key: str, payload: Any, outputs: Mapping[str, Any]
    ) -> set[str]:
        """Names a template of step `key` can use: the context roots, payload fields and upstream outputs' fields."""
        names = set(CONTEXT_ROOTS)
        if isinstance(payload, dict):
            names |= {f"payload.{k}" for k in payload}
        if definition is None:
            return names
        upstream = {e.source for e in definition.edges if e.target == key}
        frontier = set(upstream)
        while frontier:
            current = frontier.pop()
            for edge in definition.edges:
                if edge.target == current and edge.source not in upstream:
                    upstream.add(edge.source)
                    frontier.add(edge.source)
        for source in upstream:
            names.add(f"nodes.{source}.output")
            value = outputs.get(source)
            if isinstance(value, dict):
                names |= {f"nodes.{source}.output.{k}" for k in value if str(k).isidentifier()}
        return names

    @staticmethod
    def data_sources(
        definition: WorkflowDefinition | None, key: str, *, payload: Any, outputs: Mapping[str, Any]
    ) -> list[DataSource]:
        """What a template of step `key` can refer to, with the values at hand: `input` (what flows in), the
        outputs of the steps before it (nearest first) and, unless it is the entry step, `payload`."""
        if definition is None or key not in {n.key for n in definition.nodes}:
            return [DataSource("input", "input", payload)]
        incoming = [e.source for e in definition.edges if e.target == key]
        if not incoming:
            return [DataSource("input", "input · the run's input", payload)]
        flowing = node_input(definition, key, payload=payload, outputs=outputs)
        sources = [DataSource("input", "input · what flows in", flowing)]
        seen, frontier = set(incoming), list(dict.fromkeys(incoming))
        while frontier:  # breadth first: the nearest steps first
            current = frontier.pop(0)
            if current in outputs:
                sources.append(DataSource(f"nodes.{current}.output", f"{current} · output", outputs[current]))
            for edge in definition.edges:
                if edge.target == current and edge.source not in seen:
                    seen.add(edge.source)
                    frontier.append(edge.source)
        sources.append(DataSource("payload", "payload · the run's input", payload))
        return sources

    def sample_input(
        self,
        definition: WorkflowDefinition,
        key: str,
        agents: Mapping[str, AgentRecord],
        *,
        payload: Any,
        outputs: Mapping[str, Any],
    ) -> Any:
        """What Try offers as the step's input: what the data at hand gives it, else the fields it reads, to fill in.

        For an entry step that is the run's input, with the workflow's input fields; for another step, what flows
        into it from the steps before.
        """
        given = node_input(definition, key, payload=payload, outputs=outputs)
        needs = step_needs(definition, key, agents, self._kinds)
        if given not in (None, {}) and not (isinstance(given, dict) and set(needs.fields) - set(given)):
            return given
        sample: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
        if needs.entry:
            schema = self.input_schema(definition, agents) or {}
            for name, field in (schema.get("properties") or {}).items():
                sample.setdefault(name, field.get("default", _EMPTY.get(str(field.get("type")), "")))
        for name in needs.fields:
            sample.setdefault(name, "")
        return sample

    async def try_step(
        self,
        workflow_id: str,
        definition: WorkflowDefinition,
        key: str,
        *,
        payload: Any,
        outputs: dict[str, Any],
        step_input: Any = None,
        given: bool = False,
    ) -> Trial:
        """Run one step of a (possibly unsaved) definition alone; nothing is stored.

        `given`: `step_input` is what flows into the step (the run's input for an entry step), instead of what
        `payload` and `outputs` give it. A template error comes back as a sentence naming what is missing.
        """
        if given:
            sources = list(dict.fromkeys(e.source for e in definition.edges if e.target == key))
            if not sources:
                payload = step_input
            elif len(sources) == 1:
                outputs = {**outputs, sources[0]: step_input}
            elif isinstance(step_input, dict):
                outputs = {**outputs, **{k: v for k, v in step_input.items() if k in sources}}
        trial = await try_node(
            definition,
            key,
            await self._agents.by_id(),
            kinds=self._kinds,
            http=self._http,
            payload=payload,
            outputs=outputs,
            workflow_id=workflow_id,
            services=self._agent_services(),
        )
        if trial.error is not None:
            trial.error = explain(trial.error)
        return trial


_EMPTY: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
