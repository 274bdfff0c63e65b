"""Batch runs: a CSV or JSON-lines file run through a workflow once per row.

`preview` shows how the rows map to the workflow's inputs; `create` stores the batch and every row
in one transaction (a row that does not fit the inputs is stored INVALID and never runs) and hands
it to the runner (`runner`), which keeps at most the batch's concurrency of its runs
active. Progress is counted from the rows' runs. `results_csv` streams the results page by page.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from app import ids
from app.engine.exceptions import Conflict, InvalidInput, NotFound, WorkflowInvalid
from app.engine.inference import inferred_schema
from app.engine.inputs import workflow_input_schemas
from app.engine.kinds import Kinds
from app.engine.model import RunRecord, WorkflowDefinition
from app.engine.plan import validate
from app.engine.store import AgentRecord
from app.models.base import check_name
from app.models.batches import (
    ROW_STATUSES,
    BatchItemPublic,
    BatchPreview,
    BatchPublic,
    BatchStatus,
    InputField,
    PreviewRow,
    RowStatus,
)
from app.services.batches.files import ParsedFile, parse_file
from app.services.batches.mapping import (
    MAX_CELL_ERRORS,
    cell_errors,
    check_mapping,
    input_fields,
    missing_required,
    row_input,
    suggest_mapping,
    with_other_columns,
)
from app.services.batches.results import csv_lines, field_options, parse_fields
from app.services.batches.runner import BatchRunner
from app.services.references import reference_problems
from app.services.workflows import find_workflow
from storage import batches as store
from storage import repositories as repo
from storage.db import Database

__all__ = ["BatchService", "RunCanceller"]

MAX_FIELD_LENGTH = 200
MAX_FIELDS = 100
PAGE = 1000


class RunCanceller(Protocol):
    """What batches need of the runs service (`app.services.runs.RunService`)."""

    async def cancel(self, run_id: str) -> RunRecord: ...


@dataclass(frozen=True)
class _Inputs:
    """A workflow's input schemas and fields, and the mapping of a file's columns to them."""

    schemas: list[dict[str, Any]]
    fields: list[InputField] | None
    suggested: dict[str, str]
    mapping: dict[str, str]


class BatchService:
    """The batch use cases, on the database; the runner starts each batch's rows as runs."""

    def __init__(
        self,
        db: Database,
        runner: BatchRunner,
        runs: RunCanceller,
        *,
        kinds: Kinds,
        max_rows: int,
        max_concurrency: int,
        now: Callable[[], datetime],
    ) -> None:
        self._db = db
        self.runner = runner
        self._runs = runs
        self._kinds = kinds
        self._max_rows = max_rows
        self._max_concurrency = max_concurrency
        self._now = now

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()

    # --- files and mappings -----------------------------------------------------------------------

    async def _parse(self, filename: str, content: bytes) -> ParsedFile:
        if not isinstance(content, bytes | bytearray):
            raise InvalidInput("file", "must be the file's bytes")
        max_rows = self._max_rows
        if len(content) > 1_000_000:  # large files are read off the event loop
            return await asyncio.to_thread(parse_file, filename, bytes(content), max_rows=max_rows)
        return parse_file(filename, bytes(content), max_rows=max_rows)

    @staticmethod
    def _definition(session: Session, workflow_id: str) -> tuple[WorkflowDefinition, dict[str, AgentRecord]]:
        """The workflow's current definition and the saved agents its nodes use."""
        definition = repo.get_definition(session, workflow_id=workflow_id)
        agents = {
            a.id: AgentRecord(a.id, a.kind, a.name, a.config)
            for a in repo.get_agents(session, agent_ids={n.agent_id for n in definition.nodes})
        }
        return definition, agents

    def _inputs(
        self, definition: WorkflowDefinition, agents: dict[str, AgentRecord], columns: list[str], mapping: Any
    ) -> _Inputs:
        """The inputs of the definition, and the mapping of `columns` to them (None: the suggested one).

        Without a declared input schema, the fields the templates read are the inputs (typed by their use,
        `app.engine.inference`), and the file's other columns go with them as they are."""
        schemas = workflow_input_schemas(definition, agents, self._kinds)
        fields = input_fields(schemas)
        if fields is None and (inferred := inferred_schema(definition, agents)) is not None:
            schemas = [*schemas, inferred]
            fields = with_other_columns(input_fields([inferred]) or [], columns)
        suggested = suggest_mapping(fields, columns)
        used = suggested if mapping is None else check_mapping(mapping, fields=fields, columns=columns)
        return _Inputs(schemas, fields, suggested, used)

    async def preview(
        self,
        workflow_id: str,
        *,
        filename: str,
        content: bytes,
        mapping: dict[str, str] | None = None,
        limit: int = 5,
    ) -> BatchPreview:
        """How the file's rows map to the workflow's inputs; nothing is stored.

        Raises NotFound (workflow), InvalidInput naming "file" (not a batch file) or "mapping" (an input the
        workflow does not have, a column the file does not have).
        """
        if not 0 <= limit <= 100:
            raise InvalidInput("limit", "between 0 and 100")
        await self._db.tx(lambda s: find_workflow(s, workflow_id))
        parsed = await self._parse(filename, content)
        definition, agents = await self._db.tx(lambda s: self._definition(s, workflow_id))
        inputs = self._inputs(definition, agents, parsed.columns, mapping)
        rows: list[PreviewRow] = []
        invalid = 0
        cells = self._cell_errors(parsed, inputs)
        for row in parsed.rows:
            value, problems = self._row(row, inputs)
            invalid += bool(problems)
            if len(rows) < limit:
                rows.append(PreviewRow(index=row.index, raw=row.raw, input=value, problems=problems))
        missing = missing_required(inputs.mapping, inputs.fields)
        free_form = inputs.fields is None
        fields = (
            inputs.fields
            if inputs.fields is not None
            else [InputField(name=c, type="", required=False) for c in parsed.columns]
        )
        return BatchPreview(
            filename=filename,
            format=parsed.format,
            columns=parsed.columns,
            fields=fields,
            free_form=free_form,
            suggested_mapping=inputs.suggested,
            mapping=inputs.mapping,
            rows=rows,
            total=len(parsed.rows),
            invalid=invalid,
            mapping_problems=[f"the required input '{name}' has no column" for name in missing],
            cell_errors=cells,
        )

    @staticmethod
    def _cell_errors(parsed: ParsedFile, inputs: _Inputs) -> list[str]:
        """The file's cells that are not of their input's type (at most MAX_CELL_ERRORS, then how many more)."""
        found: list[str] = []
        for row in parsed.rows:
            if row.values is not None:
                found.extend(cell_errors(row.index, row.values, inputs.mapping, inputs.fields))
        if len(found) > MAX_CELL_ERRORS:
            return [*found[:MAX_CELL_ERRORS], f"and {len(found) - MAX_CELL_ERRORS} more"]
        return found

    @staticmethod
    def _row(row: Any, inputs: _Inputs) -> tuple[Any, list[str]]:
        if row.values is None:
            return None, [row.problem or "cannot be read"]
        return row_input(row.values, inputs.mapping, inputs.fields, inputs.schemas)

    # --- creating -------------------------------------------------------------------------------------

    def _check_concurrency(self, concurrency: Any) -> int:
        highest = self._max_concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= highest:
            raise InvalidInput("concurrency", f"must be a whole number from 1 to {highest}")
        return concurrency

    @staticmethod
    def _check_fields(fields: list[str] | None) -> list[str] | None:
        if fields is not None and (not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)):
            raise InvalidInput("outputFields", "must be a list of output field names")
        parsed = parse_fields(fields)
        if parsed is None:
            return None
        if len(parsed) > MAX_FIELDS:
            raise InvalidInput("outputFields", f"at most {MAX_FIELDS} fields")
        for name in parsed:
            if len(name) > MAX_FIELD_LENGTH or any(not part for part in name.split(".")):
                raise InvalidInput(
                    "outputFields", f"'{name[:MAX_FIELD_LENGTH]}' is not a field path (like result.score)"
                )
        return parsed or None

    async def create(
        self,
        workflow_id: str,
        *,
        filename: str,
        content: bytes,
        mapping: dict[str, str] | None,
        concurrency: int = 4,
        output_fields: list[str] | None = None,
    ) -> BatchPublic:
        """Store a batch of the file's rows (all of them, or nothing) and start running it.

        `mapping` None takes the suggested one. Rows that do not fit the workflow's inputs are stored INVALID
        with their problems and never run. Raises NotFound, WorkflowInvalid (the workflow cannot run), or
        InvalidInput naming "file", "mapping", "concurrency" or "outputFields".
        """
        concurrency = self._check_concurrency(concurrency)
        fields = self._check_fields(output_fields)
        check_name("file", filename or "", required=False)  # the file's name names the batch
        await self._db.tx(lambda s: find_workflow(s, workflow_id))
        parsed = await self._parse(filename, content)
        batch_id = ids.new_id("bt")
        name = (filename or "").strip()[:255] or "batch"

        def write(session: Session) -> None:
            now = self._now()
            workflow = find_workflow(session, workflow_id)
            definition, agents = self._definition(session, workflow_id)
            problems = validate(definition, agents, self._kinds) + reference_problems(
                session, workflow_id, definition, agents
            )
            if problems:
                raise WorkflowInvalid(problems, workflow_id=workflow_id)
            inputs = self._inputs(definition, agents, parsed.columns, mapping)
            if missing := missing_required(inputs.mapping, inputs.fields):
                names = ", ".join(f"'{n}'" for n in missing)
                raise InvalidInput("mapping", f"the required input(s) {names} have no column")
            if not inputs.mapping:
                raise InvalidInput("mapping", "maps no column to an input")
            if cells := self._cell_errors(parsed, inputs):  # a wrong cell is a wrong file: nothing starts
                raise InvalidInput("file", f"cells that are not of their input's type: {'; '.join(cells)}")
            items = []
            for row in parsed.rows:
                value, row_problems = self._row(row, inputs)
                items.append(
                    {
                        "row_index": row.index,
                        "raw": row.raw,
                        "input": value,
                        "status": RowStatus.INVALID if row_problems else RowStatus.PENDING,
                        "error": "; ".join(row_problems) or None,
                    }
                )
            version = repo.snapshot_version(session, workflow=workflow, definition=definition, now=now)
            session.flush()
            store.insert_batch(
                session.connection(),
                batch={
                    "id": batch_id,
                    "workflow_id": workflow_id,
                    "workflow_version": version,
                    "filename": name,
                    "status": BatchStatus.RUNNING,
                    "total": len(items),
                    "invalid": sum(1 for i in items if i["status"] == RowStatus.INVALID),
                    "concurrency": concurrency,
                    "mapping": inputs.mapping,
                    "output_fields": fields,
                    "columns": parsed.columns,
                    "created_at": now,
                },
                items=items,
            )

        await self._db.tx(write)
        self.runner.drive(batch_id)
        return await self.get(batch_id)

    # --- reading ----------------------------------------------------------------------------------------

    async def get(self, batch_id: str) -> BatchPublic:
        def read(conn: Any) -> BatchPublic:
            batch = store.get_batch(conn, batch_id)
            if batch is None:
                raise NotFound("batch", batch_id)
            return batch.counted(store.counts(conn, [batch_id])[batch_id])

        return await self._db.read(read)

    async def rows(
        self, batch_id: str, *, status: str | None = None, offset: int = 0, limit: int = 50
    ) -> builtins.list[BatchItemPublic]:
        """The batch's rows in file order, of one status if given (a key of COUNT_KEYS but "done")."""
        if status is not None and status not in ROW_STATUSES:
            raise InvalidInput("status", f"one of {', '.join(ROW_STATUSES)}")
        if offset < 0:
            raise InvalidInput("offset", "0 or more")
        if not 1 <= limit <= 500:
            raise InvalidInput("limit", "between 1 and 500")
        await self.get(batch_id)

        return await self._db.read(lambda c: store.list_rows(c, batch_id, status=status, offset=offset, limit=limit))

    async def output_field_options(self, batch_id: str) -> builtins.list[str]:
        """The top-level keys of the first completed runs' outputs (["output"] when they are not objects)."""
        await self.get(batch_id)
        outputs = await self._db.read(lambda c: store.sample_outputs(c, batch_id, limit=20))
        return field_options(outputs)

    async def results_csv(self, batch_id: str, fields: builtins.list[str] | None = None) -> AsyncIterator[str]:
        """The results as CSV text in chunks (an async generator), read from the database a page at a time.

        `fields` overrides the batch's output fields; without either, the fields offered by
        `output_field_options`. Raises NotFound / InvalidInput("outputFields") before the first chunk.
        """
        batch = await self.get(batch_id)
        chosen = self._check_fields(fields) or batch.output_fields or await self.output_field_options(batch_id)
        chosen = chosen or ["output"]
        after = -1
        header = True
        while True:
            page = await self._db.read(functools.partial(store.list_rows, batch_id=batch.id, after=after, limit=PAGE))
            if not page and not header:
                return
            yield csv_lines(batch.columns, chosen, page, header=header)
            header = False
            if len(page) < PAGE:
                return
            after = page[-1].index

    # --- commands -----------------------------------------------------------------------------------------

    async def retry_failed(self, batch_id: str) -> BatchPublic:
        """Run again, with the same inputs, every row whose run failed or was cancelled (each gets a new run).

        The batch is RUNNING again. Raises Conflict when no row failed."""
        await self.get(batch_id)

        if not await self._db.write(lambda c: store.retry_failed(c, batch_id)):
            raise Conflict(f"batch '{batch_id}' has no failed or cancelled rows to retry")
        self.runner.drive(batch_id)
        return await self.get(batch_id)

    async def cancel(self, batch_id: str) -> BatchPublic:
        """Start no more rows and cancel the batch's active runs. Raises Conflict when it is not running."""
        batch = await self.get(batch_id)

        active = await self._db.write(lambda c: store.cancel(c, batch_id, now=self._now()))
        if active is None:
            raise Conflict(f"batch '{batch_id}' is {batch.status}; only a running batch can be cancelled")
        self.runner.wake(batch_id)
        for run_id in active:
            try:
                await self._runs.cancel(run_id)
            except (Conflict, NotFound):
                pass  # it ended meanwhile
        return await self.get(batch_id)

    async def list(self, workflow_id: str | None = None, limit: int = 50) -> builtins.list[BatchPublic]:
        """Batches, newest first (of one workflow, when given)."""
        if not 1 <= limit <= 500:
            raise InvalidInput("limit", "between 1 and 500")

        def read(conn: Any) -> builtins.list[BatchPublic]:
            batches = store.list_batches(conn, workflow_id=workflow_id, limit=limit)
            found = store.counts(conn, [b.id for b in batches])
            return [b.counted(found[b.id]) for b in batches]

        return await self._db.read(read)
