"""Batches: a CSV or JSON-lines file run through a workflow once per row."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.models.base import Public

__all__ = [
    "COUNT_KEYS",
    "DONE",
    "ROW_STATUSES",
    "BatchBase",
    "BatchItemBase",
    "BatchItemPublic",
    "BatchPreview",
    "BatchPublic",
    "BatchStatus",
    "InputField",
    "PreviewRow",
    "RowStatus",
]


class BatchStatus(enum.StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CANCELLED = "CANCELLED"


class RowStatus(enum.StrEnum):
    """Where a row stands: its run's status once it has one; before that PENDING, INVALID or CANCELLED."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INVALID = "INVALID"
    STARTED = "STARTED"
    """Stored on a row that has a run (the run's status is the row's); never shown."""


ROW_STATUSES = tuple(s.value for s in RowStatus if s is not RowStatus.STARTED)
COUNT_KEYS = (*ROW_STATUSES, "done")
DONE = (RowStatus.COMPLETED.value, RowStatus.FAILED.value, RowStatus.CANCELLED.value, RowStatus.INVALID.value)


class BatchBase(SQLModel):
    workflow_id: str = Field(foreign_key="workflows.id", ondelete="CASCADE", max_length=40)
    workflow_version: int
    filename: str = Field(default="", max_length=255)
    status: str = Field(default=BatchStatus.RUNNING.value, max_length=16, description="RUNNING, FINISHED or CANCELLED.")
    total: int = 0
    concurrency: int = 4
    mapping: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    output_fields: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    columns: Any = Field(default=None, sa_type=sa.JSON, nullable=True)


class BatchPublic(BatchBase, Public):
    """A batch and its progress. `counts` has every key of COUNT_KEYS; "done" is rows that ended
    (completed, failed, cancelled or invalid)."""

    id: str
    workflow_name: str
    mapping: dict[str, str]
    output_fields: list[str] | None
    columns: list[str]
    counts: dict[str, int] = Field(
        default_factory=dict, description=f"Rows per status: {', '.join(COUNT_KEYS)} (rows that ended)."
    )
    created_at: datetime
    finished_at: datetime | None

    def counted(self, found: dict[str, int]) -> BatchPublic:
        """This batch with its rows counted per status (`found`: rows per status, from their runs)."""
        counts = {key: found.get(key, 0) for key in ROW_STATUSES}
        counts["done"] = sum(counts[key] for key in DONE)
        return self.model_copy(update={"counts": counts})


class BatchItemBase(SQLModel):
    raw: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    input: Any = Field(default=None, sa_type=sa.JSON, nullable=True)
    run_id: str | None = Field(default=None, max_length=40)
    status: str = Field(default=RowStatus.PENDING.value, max_length=16)
    error: str | None = None


class BatchItemPublic(BatchItemBase, Public):
    """One row: its file values, its input, its run (if it has one), status, error and the run's output."""

    index: int = Field(description="The row's position in the file's rows, from 0.")
    output: Any = None


class InputField(Public):
    """An input of the workflow: its name, its JSON type(s) ("string", "integer or null"; "" for any)."""

    name: str
    type: str
    required: bool
    types: tuple[str, ...] = Field(default=(), exclude=True)


class PreviewRow(Public):
    """A row as its run would get it: `index` counts from 0; `problems` say why it would not run."""

    index: int
    raw: Any
    input: Any
    problems: list[str]


class BatchPreview(Public):
    """What a file would become. `fields` are the workflow's inputs (without an input schema: one per
    column, `free_form` True); `mapping` is the one in force ({input: column}), `suggested_mapping` the
    one pairing names; `mapping_problems` are what `create` would refuse the mapping for."""

    filename: str
    format: str
    columns: list[str]
    fields: list[InputField]
    free_form: bool
    suggested_mapping: dict[str, str]
    mapping: dict[str, str]
    rows: list[PreviewRow]
    total: int
    invalid: int
    mapping_problems: list[str]
    cell_errors: list[str] = Field(
        default_factory=list,
        description="Cells that are not of their input's type (row, column, value, expected type): while there is "
        "one, `create` refuses the file and starts nothing.",
    )
