"""Batch runs over HTTP (`/api/v1`): upload a CSV or JSON-lines file to run a workflow once per row.

Uploads are multipart forms: `file`, and optionally `mapping` (JSON text: {input: column}),
`concurrency` and `outputFields` (comma-separated). They may be up to FLOWYARD_MAX_UPLOAD_BYTES.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from app.api.deps import BatchesDep
from app.api.openapi import CANNOT_RUN, conflict, not_found
from app.engine.exceptions import InvalidInput
from app.models.batches import BatchItemPublic, BatchPreview, BatchPublic

__all__ = ["router"]

FileField = Annotated[UploadFile, File(description="The CSV (header row first) or JSON-lines file.")]
MappingField = Annotated[
    str | None, Form(description='JSON object of input name to column name, e.g. {"email": "E-mail"}.')
]

router = APIRouter(prefix="/api/v1", tags=["batches"])

BATCH_NOT_FOUND = not_found("batch")


def _mapping(text: str | None) -> dict[str, str] | None:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("mapping", f"is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise InvalidInput("mapping", "must be a JSON object of input names to column names")
    return value


def _fields(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


@router.post(
    "/workflows/{workflow_id}/batches",
    response_model=BatchPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=not_found("workflow") | CANNOT_RUN,
)
async def create_batch(
    workflow_id: str,
    batches: BatchesDep,
    file: FileField,
    mapping: MappingField = None,
    concurrency: Annotated[int, Form(description="Runs of the batch active at once.")] = 4,
    output_fields: Annotated[
        str | None, Form(alias="outputFields", description="Output fields for the results CSV, comma-separated.")
    ] = None,
) -> BatchPublic:
    """Run the workflow once per row of the file. Rows that do not fit its inputs are kept as INVALID."""
    batch = await batches.create(
        workflow_id,
        filename=file.filename or "",
        content=await file.read(),
        mapping=_mapping(mapping),
        concurrency=concurrency,
        output_fields=_fields(output_fields),
    )
    return batch


@router.post("/workflows/{workflow_id}/batches/preview", response_model=BatchPreview, responses=not_found("workflow"))
async def preview_batch(
    workflow_id: str,
    batches: BatchesDep,
    file: FileField,
    mapping: MappingField = None,
    limit: Annotated[int, Query(ge=0, le=100, description="How many first rows to show.")] = 5,
) -> BatchPreview:
    """How the file's rows would map to the workflow's inputs (nothing is stored)."""
    preview = await batches.preview(
        workflow_id, filename=file.filename or "", content=await file.read(), mapping=_mapping(mapping), limit=limit
    )
    return preview


@router.get("/batches", response_model=list[BatchPublic])
async def list_batches(
    batches: BatchesDep,
    workflow_id: Annotated[str | None, Query(alias="workflowId")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[BatchPublic]:
    """Batches, newest first."""
    return await batches.list(workflow_id, limit=limit)


@router.get("/batches/{batch_id}", response_model=BatchPublic, responses=BATCH_NOT_FOUND)
async def get_batch(batch_id: str, batches: BatchesDep) -> BatchPublic:
    """A batch with its rows counted per status."""
    return await batches.get(batch_id)


@router.get("/batches/{batch_id}/rows", response_model=list[BatchItemPublic], responses=BATCH_NOT_FOUND)
async def batch_rows(
    batch_id: str,
    batches: BatchesDep,
    row_status: Annotated[str | None, Query(alias="status", description="Only rows of this status.")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[BatchItemPublic]:
    """The batch's rows in file order, with their runs' status, output and error."""
    return await batches.rows(batch_id, status=row_status or None, offset=offset, limit=limit)


@router.get(
    "/batches/{batch_id}/results.csv",
    response_class=StreamingResponse,
    responses=BATCH_NOT_FOUND
    | {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The results, as CSV."}},
)
async def batch_results(
    batch_id: str,
    batches: BatchesDep,
    fields: Annotated[str | None, Query(description="Output fields, comma-separated (default: the batch's).")] = None,
) -> StreamingResponse:
    """The results as CSV: row, status, run_id, the file's columns, one column per output field, error."""
    chunks = batches.results_csv(batch_id, _fields(fields))
    first = await anext(chunks)  # a missing batch or a bad field is refused before the response starts
    batch = await batches.get(batch_id)

    async def body() -> AsyncIterator[str]:
        yield first
        async for chunk in chunks:
            yield chunk

    stem = batch.filename.rsplit(".", 1)[0] or "batch"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}-results.csv"'},
    )


@router.post(
    "/batches/{batch_id}/retry",
    response_model=BatchPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=BATCH_NOT_FOUND | conflict("The batch has no failed or cancelled rows to retry."),
)
async def retry_batch(batch_id: str, batches: BatchesDep) -> BatchPublic:
    """Run again every row whose run failed or was cancelled, with the same input."""
    return await batches.retry_failed(batch_id)


@router.post(
    "/batches/{batch_id}/cancel",
    response_model=BatchPublic,
    responses=BATCH_NOT_FOUND | conflict("Only a running batch can be cancelled."),
)
async def cancel_batch(batch_id: str, batches: BatchesDep) -> BatchPublic:
    """Start no more rows, and cancel the rows' runs that are active."""
    return await batches.cancel(batch_id)
