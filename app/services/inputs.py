"""What a workflow's runs take, and why a run failed in words a person can act on.

- `input` / `schema`: the run's input schema (declared by the first step, else inferred from the templates,
  `app.engine.inputs.run_input_schema`) and the workflow's named sample inputs;
- `samples`, `save_samples`, `keep_sample`: the sample inputs ("Run with sample" in the Run dialog, Try);
- `failure`: the failed step of a run, its error, and a fix hint ("enrich needs input.email: add it to the run's
  input") when the run's input lacks what the step's templates read.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from app.engine.exceptions import InvalidInput
from app.engine.inference import failure_hint
from app.engine.inputs import INFERRED, run_input_schema
from app.engine.kinds import Kinds
from app.engine.model import NodeStatus, RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord, RunStore
from app.models.people import SYSTEM, Principal
from app.models.samples import SampleInput, WorkflowInput, check_samples
from app.services.audit import AuditService
from app.services.workflows import find_workflow
from storage import repositories as repo
from storage import samples as store
from storage.db import Database

__all__ = ["Failure", "InputService"]


@dataclass(frozen=True)
class Failure:
    """Why a run failed: the step, its error, and what to change in the run's input (if that is the reason)."""

    node_key: str | None
    title: str
    error: str
    hint: str | None

    def summary(self, limit: int = 300) -> str:
        """One line for a toast: the step and its error (shortened), then the hint."""
        error = self.error if len(self.error) <= limit else self.error[: limit - 1] + "…"
        where = f"“{self.title}” failed: " if self.node_key else ""
        return f"{where}{error}" + (f" — {self.hint}" if self.hint else "")


class InputService:
    """A workflow's input schema and sample inputs; the reasons of failed runs."""

    def __init__(self, db: Database, store_: RunStore, audit: AuditService, *, kinds: Kinds) -> None:
        self._db = db
        self._store = store_
        self._audit = audit
        self._kinds = kinds

    # --- schema and samples ----------------------------------------------------------------------------------

    @staticmethod
    def _definition(session: Session, workflow_id: str) -> tuple[WorkflowDefinition, dict[str, AgentRecord]]:
        find_workflow(session, workflow_id)
        definition = repo.get_definition(session, workflow_id=workflow_id)
        agents = {
            a.id: AgentRecord(a.id, a.kind, a.name, a.config)
            for a in repo.get_agents(session, agent_ids={n.agent_id for n in definition.nodes})
        }
        return definition, agents

    def schema(self, definition: WorkflowDefinition, agents: Mapping[str, AgentRecord]) -> dict[str, Any] | None:
        """The run's input schema for a (possibly unsaved) definition: declared, else inferred, else None."""
        return run_input_schema(definition, agents, self._kinds)

    async def input(self, workflow_id: str) -> WorkflowInput:
        """The saved workflow's input schema and samples. Raises NotFound."""

        def read(session: Session) -> WorkflowInput:
            definition, agents = self._definition(session, workflow_id)
            schema = self.schema(definition, agents)
            inferred = bool(schema and schema.get(INFERRED))
            shown = {k: v for k, v in schema.items() if k != INFERRED} if schema else None
            return WorkflowInput(
                input_schema=shown,
                inferred=inferred,
                samples=_samples(store.get_samples(session, workflow_id=workflow_id)),
            )

        return await self._db.tx(read)

    async def samples(self, workflow_id: str) -> builtins.list[SampleInput]:
        """The workflow's sample inputs, in order (none for a workflow that does not exist)."""
        return _samples(await self._db.tx(lambda s: store.get_samples(s, workflow_id=workflow_id)))

    async def first_sample(self, workflow_id: str) -> Any:
        """The input of the workflow's first sample, or None when it has none: what Try runs a step with when
        there is no run to take data from."""
        kept = await self.samples(workflow_id)
        return kept[0].input if kept else None

    async def save_samples(
        self, workflow_id: str, samples: builtins.list[SampleInput], *, by: Principal = SYSTEM
    ) -> builtins.list[SampleInput]:
        """Replace the workflow's samples. Raises NotFound, or InvalidInput("samples") naming the sample: two with
        one name, more than `MAX_SAMPLES`, an input over 64 KiB of JSON."""
        checked = check_samples(samples)

        def write(session: Session) -> None:
            find_workflow(session, workflow_id)
            store.set_samples(session, workflow_id=workflow_id, samples=[s.model_dump(mode="json") for s in checked])

        await self._db.tx(write)
        names = ", ".join(s.name for s in checked) or "none"
        await self._audit.record(by, "workflow.samples", target=workflow_id, detail=names)
        return checked

    async def keep_sample(
        self, workflow_id: str, name: str, value: Any, *, by: Principal = SYSTEM
    ) -> builtins.list[SampleInput]:
        """Add a sample (or replace the one of that name, in any case), keeping the others. Raises as save_samples."""
        try:
            sample = SampleInput(name=name, input=value)
        except ValidationError as exc:
            raise InvalidInput("name", _first_message(exc)) from None
        kept = [s for s in await self.samples(workflow_id) if s.name.casefold() != sample.name.casefold()]
        return await self.save_samples(workflow_id, [*kept, sample], by=by)

    # --- failures ----------------------------------------------------------------------------------------------

    @staticmethod
    def hint(definition: WorkflowDefinition, key: str, payload: Any, agents: Mapping[str, AgentRecord]) -> str | None:
        """What to change in a run's input so that step `key` gets what its templates read (None: nothing)."""
        return failure_hint(definition, key, payload, agents)

    async def failure(self, run_id: str) -> Failure | None:
        """Why run `run_id` failed (its first failed step, else the run's own error); None unless it FAILED."""
        run = await self._store.get_run(run_id)
        if run is None or run.status != RunStatus.FAILED:
            return None
        nodes = await self._store.get_node_runs(run_id)
        failed = next((n for n in nodes if n.status == NodeStatus.FAILED), None)
        if failed is None:
            return Failure(None, "", run.error or "failed", None)
        definition = await self._store.get_definition(run.workflow_id, run.workflow_version)
        title, hint = failed.node_key, None
        if definition is not None:
            agents = await self._store.get_agents({n.agent_id for n in definition.nodes})
            node = next((n for n in definition.nodes if n.key == failed.node_key), None)
            if node is not None:
                agent = agents.get(node.agent_id)
                title = node.name or (agent.name if agent else node.key)
            hint = failure_hint(definition, failed.node_key, run.input, agents)
        return Failure(failed.node_key, title, failed.error or "failed", hint)


def _samples(stored: builtins.list[dict[str, Any]]) -> builtins.list[SampleInput]:
    kept = []
    for item in stored:
        try:
            kept.append(SampleInput.model_validate(item))
        except ValidationError:
            continue  # (written by hand in the database): not offered rather than breaking the page
    return kept


def _first_message(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")
