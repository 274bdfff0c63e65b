"""Batch runs: a workflow's batches (`/workflows/{id}/batches`), a new batch from a CSV or JSON-lines file,
and one batch (`/batches/{id}`) with its progress, its rows and the results to download.

Uploading shows the file's columns beside the first step's inputs (paired by name where they match)
and the first rows as the runs will get them, with the rows that cannot run named before anything
starts. A running batch's page keeps its progress bar and counts current and offers a retry of the
failed rows alone once they are known. Starting, retrying and cancelling are for whoever may run workflows;
others see the batches and their results.
"""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui
from nicegui.events import UploadEventArguments

from app.engine.exceptions import FlowyardError, InvalidInput, NotFound
from app.models.batches import BatchItemPublic, BatchPreview, BatchPublic
from app.models.people import Permission
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.dialogs import body, dialog, error_label, show
from app.pages.layout import frame
from app.pages.workflow_tabs import find_workflow, not_found, workflow_page

__all__ = ["register"]

REFRESH_SECONDS = 1.0
PAGE_SIZE = 50
# The order counts are shown in, and how each reads.
COUNTS = [
    ("COMPLETED", "Completed"),
    ("FAILED", "Failed"),
    ("RUNNING", "Running"),
    ("QUEUED", "Queued"),
    ("PAUSED", "Waiting for approval"),
    ("PENDING", "Not started"),
    ("CANCELLED", "Cancelled"),
    ("INVALID", "Invalid rows"),
]
ROW_FILTERS = {"": "All rows", "FAILED": "Failed", "INVALID": "Invalid", "COMPLETED": "Completed"}
NOT_MAPPED = ""


def register() -> None:
    @guard.page("/workflows/{workflow_id}/batches", Permission.VIEW_WORKFLOWS)
    async def workflow_batches_page(workflow_id: str) -> None:
        workflow = await find_workflow(workflow_id)
        if workflow is None:
            return
        with workflow_page(workflow, "Batches"):
            page = BatchList(workflow.id)
            with ui.row().classes("w-full items-center"):
                ui.label("Run this workflow once per row of a CSV or JSON-lines file.").classes("fy-subtitle")
                ui.space()
                if access.principal().can(Permission.RUN):
                    ui.button("New batch", icon="upload_file", on_click=page.open_new).props("unelevated no-caps").mark(
                        "new-batch"
                    )
            await page.build()

    @guard.page("/batches/{batch_id}", Permission.VIEW_RUNS)
    async def batch_page(batch_id: str) -> None:
        try:
            batch = await services().batches.get(batch_id)
        except NotFound:
            not_found("Batch", batch_id, "/workflows", "All workflows")
            return
        with frame(f"Batch · {batch.filename}"):
            await BatchPage(batch).build()


def _count_text(count: int) -> str:
    return f"{count:,}"


def progress_bar(batch: BatchPublic) -> None:
    """The bar: completed green, failed red, invalid grey, active blue, the rest empty; counts underneath."""
    total = max(batch.total, 1)
    with ui.element("div").classes("fy-progress").mark("progress"):
        for key, css in (
            ("COMPLETED", "completed"),
            ("FAILED", "failed"),
            ("CANCELLED", "cancelled"),
            ("INVALID", "skipped"),
            ("RUNNING", "running"),
            ("PAUSED", "waiting"),
        ):
            count = batch.counts.get(key, 0)
            if count:
                ui.element("div").classes(f"fy-progress__part fy-progress__part--{css}").style(
                    f"width: {100 * count / total:.3f}%"
                )


def outcome(batch: BatchPublic) -> tuple[str, str]:
    """(status colour key, words) of a batch: a finished batch with failed rows is not green and says how many."""
    if batch.status == "RUNNING":
        return "running", "Running"
    if batch.status == "CANCELLED":
        return "cancelled", "Cancelled"
    failed = batch.counts.get("FAILED", 0) + batch.counts.get("CANCELLED", 0)
    invalid = batch.counts.get("INVALID", 0)
    if not failed and not invalid:
        return "completed", "Completed"
    words = f"Completed with {_count_text(failed)} of {_count_text(batch.total)} failed" if failed else "Completed"
    if invalid:
        words += f"{',' if failed else ' with'} {_count_text(invalid)} invalid"
    return "failed", words


def outcome_chip(batch: BatchPublic) -> ui.element:
    """The batch's status pill, in the status colours runs use, with the words of `outcome`."""
    key, words = outcome(batch)
    with ui.element("span").classes(f"fy-status fy-status--{key}") as chip:
        ui.element("span").classes("fy-status__dot")
        ui.label(words).classes("fy-status__label")
    return chip


def count_chips(batch: BatchPublic) -> None:
    with ui.row().classes("gap-x-4 gap-y-1 items-center").mark("counts"):
        for key, label in COUNTS:
            count = batch.counts.get(key, 0)
            if not count and key not in ("COMPLETED", "FAILED"):
                continue
            css = "skipped" if key == "INVALID" else theme.status_key(key)
            with ui.row().classes(f"fy-count fy-status--{css} items-center gap-1 no-wrap").mark("count", key):
                ui.element("span").classes("fy-status__dot")
                ui.label(f"{_count_text(count)} {label.lower()}")


class BatchList:
    """One workflow's batches, newest first, with their progress."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        self.items: list[BatchPublic] = []

    async def build(self) -> None:
        self.items = await services().batches.list(self.workflow_id)
        self.listing()
        self.host = ui.element("div")
        ui.timer(2.0, self.reload)

    async def reload(self) -> None:
        items = await services().batches.list(self.workflow_id)
        if items != self.items:
            self.items = items
            self.listing.refresh()

    @ui.refreshable_method
    def listing(self) -> None:
        with ui.column().classes("fy-list fy-card fy-batches gap-0").mark("batches"):
            if not self.items:
                with ui.column().classes("fy-empty"):
                    with ui.element("div").classes("fy-empty__icon"):
                        ui.icon("table_view")
                    ui.label("No batches yet").classes("fy-empty__title")
                    ui.label(
                        "Upload a CSV or JSON-lines file: each row becomes one run, its columns mapped to the "
                        "first step's inputs. Download the results as CSV when it is done."
                        if access.principal().can(Permission.RUN)
                        else "Batches run a workflow once per row of a CSV file. None has run for this workflow."
                    ).classes("fy-empty__text")
                return
            with ui.element("div").classes("fy-list__head"), ui.element("div").classes("fy-list__cells"):
                for label in ("File", "Progress", "Started"):
                    ui.label(label)
            for batch in self.items:
                with (
                    ui.element("div").classes("fy-list__row").mark("batch-row", batch.id),
                    ui.link(target=f"/batches/{batch.id}").classes("fy-list__cells"),
                ):
                    with ui.column().classes("fy-col-name gap-0"):
                        ui.label(batch.filename).classes("fy-workflow__name")
                        ui.label(f"{_count_text(batch.total)} rows · {outcome(batch)[1].lower()}").classes(
                            "fy-workflow__description"
                        )
                    with ui.column().classes("gap-1 w-full"):
                        progress_bar(batch)
                        ui.label(f"{_count_text(batch.counts.get('done', 0))} of {_count_text(batch.total)}").classes(
                            "text-xs fy-muted"
                        )
                    with ui.element("div"):
                        theme.time_label(batch.created_at)

    async def open_new(self) -> None:
        if not await access.may(Permission.RUN):
            return
        with self.host, dialog("New batch", wide=True) as box:
            box.props("persistent")
            NewBatch(self.workflow_id, box).build()


class NewBatch:
    """Upload → map columns to inputs (with a preview of the first rows) → start."""

    def __init__(self, workflow_id: str, box: ui.dialog) -> None:
        self.workflow_id = workflow_id
        self.box = box
        self.filename = ""
        self.content = b""
        self.preview: BatchPreview | None = None
        self.mapping: dict[str, str] = {}
        self.mapped_by_hand = False  # until then the preview proposes a mapping (columns paired by name)

    def build(self) -> None:
        with body().mark("batch-body"):  # the preview can be long: Start and Cancel stay in view below it
            ui.label("A CSV with a header row, or JSON lines (one object per line).").classes("fy-subtitle")
            limit = services().settings.max_upload_bytes
            ui.upload(
                label="Choose or drop a file",
                auto_upload=True,
                max_file_size=limit,
                on_upload=self.uploaded,
                on_rejected=lambda: ui.notify(f"The file is over {limit // 1_048_576} MB", type="negative"),
            ).props("accept='.csv,.jsonl,.ndjson,.json,text/csv' flat bordered").classes("w-full fy-upload").mark(
                "file"
            )
            self.error = error_label()
            self.body = ui.column().classes("w-full gap-3")
        with ui.row().classes("fy-dialog__actions"):
            ui.button("Cancel", on_click=self.box.close).props("flat no-caps")
            self.start_button = ui.button("Start batch", icon="play_arrow", on_click=self.start).props(
                "unelevated no-caps"
            )
            self.start_button.mark("start-batch").disable()

    async def uploaded(self, event: UploadEventArguments) -> None:
        if not await access.may(Permission.RUN):
            return
        self.filename = event.file.name
        self.content = await event.file.read()
        self.mapping = {}
        self.mapped_by_hand = False
        await self.refresh_preview()

    async def refresh_preview(self) -> None:
        try:
            self.preview = await services().batches.preview(
                self.workflow_id,
                filename=self.filename,
                content=self.content,
                mapping=self.mapping if self.mapped_by_hand else None,
            )
        except InvalidInput as exc:
            self.preview = None
            show(self.error, f"{self.filename}: {exc.message}")
            self.body.clear()
            self.start_button.disable()
            return
        except FlowyardError as exc:
            self.preview = None
            show(self.error, str(exc))
            self.start_button.disable()
            return
        self.error.set_visibility(False)
        self.mapping = dict(self.preview.mapping)
        self.draw()

    def draw(self) -> None:
        preview = self.preview
        assert preview is not None
        self.body.clear()
        with self.body:
            ready = preview.total - preview.invalid
            summary = f"{self.filename}: {_count_text(preview.total)} rows, {len(preview.columns)} columns"
            ui.label(summary).classes("text-sm font-medium").mark("file-summary")
            ui.label("Map the file's columns to the first step's inputs").classes("fy-section-title")
            with ui.element("div").classes("fy-mapping").mark("mapping"):
                options = {NOT_MAPPED: "— not used —", **{c: c for c in preview.columns}}
                for field in preview.fields:
                    with ui.row().classes("items-center gap-2 no-wrap"):
                        with ui.column().classes("gap-0 fy-mapping__field"):
                            ui.label(field.name + (" *" if field.required else "")).classes("font-mono text-sm")
                            ui.label(field.type or "any").classes("text-xs fy-muted")
                        ui.icon("arrow_back").classes("fy-muted")
                        select = ui.select(options, value=self.mapping.get(field.name, NOT_MAPPED))
                        select.props("outlined dense").classes("grow").mark("map", field.name)
                        select.on_value_change(lambda e, f=field.name: self.remap(f, e.value))
            for problem in preview.mapping_problems:
                ui.label(problem.capitalize()).classes("fy-error text-sm").mark("mapping-problem")
            if preview.cell_errors:
                with ui.column().classes("fy-error w-full gap-0").mark("cell-errors"):
                    ui.label(
                        "These cells are not of their input's type: fix them in the file, nothing starts until then"
                    )
                    for problem in preview.cell_errors:
                        ui.label(problem[:1].upper() + problem[1:]).classes("text-sm font-mono").mark("cell-error")
            ui.label("First rows as the runs will get them").classes("fy-section-title")
            with ui.element("div").classes("fy-preview-rows").mark("preview-rows"):
                for row in preview.rows:
                    with ui.row().classes("fy-preview-row no-wrap items-start gap-3"):
                        ui.label(f"#{row.index + 1}").classes("fy-muted text-xs font-mono w-10")
                        if row.problems:
                            ui.label("; ".join(row.problems)).classes("fy-error text-xs").mark("row-problem")
                        else:
                            ui.label(json.dumps(row.input, ensure_ascii=False, default=str)[:300]).classes(
                                "font-mono text-xs break-all"
                            )
            if preview.invalid and not preview.cell_errors:
                ui.label(
                    f"{_count_text(preview.invalid)} row(s) do not fit the first step's inputs: they will be listed "
                    "as invalid and not run."
                ).classes("text-sm text-amber-700").mark("invalid-note")
            with ui.row().classes("items-center gap-3"):
                self.concurrency = ui.number("Runs at once", value=4, min=1, max=64, format="%d").props(
                    "outlined dense"
                )
                self.concurrency.classes("w-36").mark("concurrency")
                starts = (
                    "Nothing starts until those cells are fixed"
                    if preview.cell_errors
                    else f"{_count_text(ready)} run(s) will start"
                )
                ui.label(starts).classes("text-sm fy-muted").mark("ready")
        if ready and not preview.mapping_problems and not preview.cell_errors:
            self.start_button.enable()
        else:
            self.start_button.disable()

    async def remap(self, field: str, column: str) -> None:
        if column == NOT_MAPPED:
            self.mapping.pop(field, None)
        else:
            self.mapping[field] = column
        self.mapped_by_hand = True
        await self.refresh_preview()

    async def start(self) -> None:
        if self.preview is None or not await access.may(Permission.RUN):
            return
        try:
            batch = await services().batches.create(
                self.workflow_id,
                filename=self.filename,
                content=self.content,
                mapping=self.mapping,
                concurrency=int(self.concurrency.value or 4),
            )
        except InvalidInput as exc:
            show(self.error, f"{exc.field}: {exc.message}")
            return
        except FlowyardError as exc:
            show(self.error, str(exc))
            return
        ui.navigate.to(f"/batches/{batch.id}")
        self.box.close()


class BatchPage:
    """One batch: progress, counts, rows, and what to do next (download, retry failed, cancel)."""

    def __init__(self, batch: BatchPublic) -> None:
        self.batch = batch
        self.status_filter = ""
        self.offset = 0
        self.rows_data: list[BatchItemPublic] = []
        self.may_run = access.principal().can(Permission.RUN)

    async def build(self) -> None:
        batch = self.batch
        with ui.row().classes("fy-page-header w-full items-start"):
            with ui.column().classes("gap-1"):
                with ui.row().classes("items-center gap-2 text-sm fy-muted"):
                    ui.link("Workflows", "/workflows").classes("fy-crumb")
                    ui.icon("chevron_right").classes("text-base")
                    ui.link(batch.workflow_name, f"/workflows/{batch.workflow_id}").classes("fy-crumb")
                    ui.icon("chevron_right").classes("text-base")
                    ui.link("Batches", f"/workflows/{batch.workflow_id}/batches").classes("fy-crumb")
                ui.label(batch.filename).classes("fy-title").mark("batch-name")
        self.summary()
        with ui.row().classes("w-full items-center gap-2"):
            ui.toggle(ROW_FILTERS, value="", on_change=lambda e: self.filter(e.value)).props(
                "no-caps unelevated dense toggle-color=primary"
            ).mark("row-filter")
        self.rows_data = await services().batches.rows(self.batch.id, limit=PAGE_SIZE)
        self.rows()
        self.host = ui.element("div")
        self.timer = ui.timer(REFRESH_SECONDS, self.tick)

    async def tick(self) -> None:
        batch = await services().batches.get(self.batch.id)
        if batch == self.batch:
            return
        self.batch = batch
        self.summary.refresh()
        await self.load_rows()

    @ui.refreshable_method
    def summary(self) -> None:
        batch = self.batch
        done = batch.counts.get("done", 0)
        with ui.column().classes("fy-card p-5 gap-3 w-full").mark("batch-summary"):
            with ui.row().classes("w-full items-center gap-3"):
                ui.label(f"{_count_text(done)} of {_count_text(batch.total)} rows done").classes(
                    "text-lg font-medium"
                ).mark("done")
                outcome_chip(batch).mark("batch-status")
                ui.space()
                failed = batch.counts.get("FAILED", 0) + batch.counts.get("CANCELLED", 0)
                ui.button("Download results", icon="download", on_click=self.ask_download).props(
                    "outline no-caps"
                ).mark("download")
                if failed and batch.status != "RUNNING" and self.may_run:
                    ui.button(f"Retry {failed} failed", icon="replay", on_click=self.retry).props(
                        "unelevated no-caps"
                    ).mark("retry")
                if batch.status == "RUNNING" and self.may_run:
                    ui.button("Cancel", icon="block", on_click=self.cancel).props("flat no-caps").mark("cancel")
            progress_bar(batch)
            count_chips(batch)
            facts = [f"{batch.concurrency} at once", f"started {theme.relative_time(batch.created_at)}"]
            if batch.finished_at:
                seconds = (batch.finished_at - batch.created_at).total_seconds()
                facts.append(f"took {seconds:.1f} s")
            ui.label(" · ".join(facts)).classes("fy-muted text-xs")

    async def filter(self, status: str) -> None:
        self.status_filter = status
        self.offset = 0
        await self.load_rows()

    async def load_rows(self) -> None:
        self.rows_data = await services().batches.rows(
            self.batch.id, status=self.status_filter or None, offset=self.offset, limit=PAGE_SIZE
        )
        self.rows.refresh()

    @ui.refreshable_method
    def rows(self) -> None:
        rows = self.rows_data
        with ui.column().classes("fy-list fy-card fy-batch-rows gap-0 w-full").mark("batch-rows"):
            with ui.element("div").classes("fy-list__head"), ui.element("div").classes("fy-list__cells"):
                for label in ("Row", "Status", "Input", "Output or error"):
                    ui.label(label)
            if not rows:
                ui.label("No rows here.").classes("fy-muted text-sm p-4")
            for row in rows:
                with ui.element("div").classes("fy-list__row").mark("batch-row", str(row.index)):
                    cells = ui.link(target=f"/runs/{row.run_id}") if row.run_id else ui.element("div")
                    with cells.classes("fy-list__cells"):
                        ui.label(f"#{row.index + 1}").classes("font-mono text-xs fy-muted")
                        with ui.element("div"):
                            if row.status == "INVALID":
                                with ui.element("span").classes("fy-status fy-status--skipped"):
                                    ui.element("span").classes("fy-status__dot")
                                    ui.label("Invalid").classes("fy-status__label")
                            else:
                                theme.status_chip(row.status)
                        ui.label(_short(row.input)).classes("font-mono text-xs fy-cell-text")
                        if row.error:
                            ui.label(row.error).classes("fy-run__error")
                        else:
                            ui.label(_short(row.output) if row.output is not None else "—").classes(
                                "font-mono text-xs fy-cell-text"
                            )
            if self.offset or len(rows) == PAGE_SIZE:
                with ui.row().classes("fy-list__footer"):
                    ui.label(f"Rows {self.offset + 1} to {self.offset + len(rows)}")
                    with ui.row().classes("gap-1"):
                        ui.button("Previous", icon="chevron_left", on_click=lambda: self.page(-1)).props(
                            "flat dense no-caps" + ("" if self.offset else " disable")
                        )
                        ui.button("Next", on_click=lambda: self.page(1)).props(
                            "flat dense no-caps icon-right=chevron_right"
                            + ("" if len(rows) == PAGE_SIZE else " disable")
                        )

    async def page(self, step: int) -> None:
        self.offset = max(0, self.offset + step * PAGE_SIZE)
        await self.load_rows()

    async def ask_download(self) -> None:
        options = await services().batches.output_field_options(self.batch.id)
        chosen = list(self.batch.output_fields or options)
        with self.host, dialog("Download results") as box:
            ui.label(
                "One row per input row: its status, run id, the original columns, then the output fields you pick."
            ).classes("fy-subtitle")
            boxes: dict[str, ui.checkbox] = {}
            if options:
                with ui.column().classes("gap-0"):
                    for name in options:
                        boxes[name] = ui.checkbox(name, value=name in chosen).mark("field", name)
            else:
                ui.label("No finished run has an output yet: the output will be one column.").classes(
                    "fy-muted text-sm"
                )

            async def download() -> None:
                fields = [name for name, check in boxes.items() if check.value] or None
                chunks = [chunk async for chunk in services().batches.results_csv(self.batch.id, fields)]
                stem = self.batch.filename.rsplit(".", 1)[0] or "batch"
                ui.download.content("".join(chunks), f"{stem}-results.csv", "text/csv")
                box.close()

            with ui.row().classes("fy-dialog__actions"):
                ui.button("Cancel", on_click=box.close).props("flat no-caps")
                ui.button("Download CSV", icon="download", on_click=download).props("unelevated no-caps").mark(
                    "confirm"
                )

    async def retry(self) -> None:
        if not await access.may(Permission.RUN):
            return
        try:
            self.batch = await services().batches.retry_failed(self.batch.id)
        except FlowyardError as exc:
            ui.notify(str(exc), type="negative")
            return
        ui.notify("Retrying the failed rows", timeout=1500)
        self.summary.refresh()
        await self.load_rows()

    async def cancel(self) -> None:
        if not await access.may(Permission.RUN):
            return
        self.batch = await services().batches.cancel(self.batch.id)
        ui.notify("Batch cancelled: no more rows start", timeout=2000)
        self.summary.refresh()
        await self.load_rows()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 160 else text[:157] + "…"
