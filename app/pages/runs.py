"""The runs page (`/runs`): every run of every workflow, newest first, filtered and paged on the server,
updating live as statuses change. A run opens at `/runs/{id}` (`app.pages.run_detail`).

Filters live in the URL (`?status=FAILED&workflow=wf-…&trigger=api&range=24h&q=ada@example.com`), so a filtered
list can be bookmarked and linked to. The search finds a run by its id or session id, or by text in its input or
output. Rows can be selected, and the selected runs re-run from their failed step, cancelled or deleted at once.
Pages are keyset pages (`after` cursors), so the thousandth page of a history
of millions is as quick as the first.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from nicegui import ui

from app import clock
from app.engine.events import Event
from app.engine.exceptions import FlowyardError
from app.engine.model import RunStatus, Trigger
from app.models.people import Permission
from app.models.runs import RunPage, RunQuery, RunSummary
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.dialogs import confirm
from app.pages.layout import frame
from app.pages.live import Throttle, follow, on_reconnect
from components.timeline import duration_text

__all__ = ["RANGES", "register"]

PAGE_SIZE = 50
MAX_SEARCH = 200
RANGES: dict[str, tuple[str, timedelta | None]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(days=1)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("Any time", None),
}
STATUS_OPTIONS = {s.value: s.value.capitalize() for s in RunStatus}
TRIGGER_OPTIONS = {
    t.value: t.value.upper() if t.value in ("ui", "api", "mcp") else t.value.capitalize() for t in Trigger
}


def register() -> None:
    @guard.page("/runs", Permission.VIEW_RUNS)
    async def runs_page(
        status: str | None = None,
        workflow: str | None = None,
        trigger: str | None = None,
        range: str = "all",
        q: str = "",
    ) -> None:
        with frame("Runs"):
            page = RunsPage(
                statuses=[s for s in (status or "").split(",") if s in STATUS_OPTIONS],
                workflow_id=workflow or None,
                triggers=[t for t in (trigger or "").split(",") if t in TRIGGER_OPTIONS],
                time_range=range if range in RANGES else "all",
                text=q.strip()[:MAX_SEARCH],
            )
            await page.build()


class RunsPage:
    """The filters, the current keyset page and the cursors that lead back to the newer pages."""

    def __init__(
        self, *, statuses: list[str], workflow_id: str | None, triggers: list[str], time_range: str, text: str = ""
    ) -> None:
        self.statuses = statuses
        self.workflow_id = workflow_id
        self.triggers = triggers
        self.time_range = time_range
        self.text = text
        self.selected: set[str] = set()
        self.boxes: dict[str, ui.checkbox] = {}  # the rows' selection boxes, by run id
        self.page_box: ui.checkbox | None = None
        self._syncing = False  # setting boxes to match the selection, not a person clicking them
        who = access.principal()
        self.may_run, self.may_delete = who.can(Permission.RUN), who.can(Permission.EDIT)
        self.cursors: list[str | None] = [None]  # the `after` of each page seen so far; the last is the current one
        self.result = RunPage([], None)
        self.error: str | None = None
        self._requests = 0

    @property
    def first_page(self) -> bool:
        return len(self.cursors) == 1

    def query(self) -> RunQuery:
        _, span = RANGES[self.time_range]
        return RunQuery(
            statuses=[RunStatus(s) for s in self.statuses],
            workflow_id=self.workflow_id,
            triggers=[Trigger(t) for t in self.triggers],
            created_from=clock.now() - span if span else None,
            text=self.text or None,
        )

    async def build(self) -> None:
        with ui.row().classes("fy-page-header"):
            with ui.column().classes("gap-1"):
                ui.label("Runs").classes("fy-title")
                ui.label("Every run of every workflow, newest first. Rows update as runs progress.").classes(
                    "fy-subtitle"
                )
        workflows = await services().workflows.list(page=0, size=500)
        names = {w.id: w.name for w in workflows.items}
        if self.workflow_id and self.workflow_id not in names:
            names[self.workflow_id] = self.workflow_id
        with ui.row().classes("fy-toolbar fy-run-filters items-center gap-2"):
            search = ui.input(placeholder="Run id, session id or text", value=self.text).props(
                f'outlined dense clearable debounce=300 maxlength={MAX_SEARCH} aria-label="Search runs"'
            )
            search.classes("w-56 fy-search").mark("search-runs")
            search.on_value_change(lambda e: self.refilter(text=(e.value or "").strip()))
            with search.add_slot("prepend"):
                ui.icon("search")
            ui.select(STATUS_OPTIONS, multiple=True, label="Status", value=self.statuses, clearable=True).props(
                "outlined dense use-chips options-dense"
            ).classes("w-48").on_value_change(lambda e: self.refilter(statuses=e.value or [])).mark("filter-status")
            ui.select(names, label="Workflow", value=self.workflow_id, with_input=True, clearable=True).props(
                "outlined dense options-dense"
            ).classes("w-64").on_value_change(lambda e: self.refilter(workflow_id=e.value or None)).mark(
                "filter-workflow"
            )
            ui.select(TRIGGER_OPTIONS, multiple=True, label="Trigger", value=self.triggers, clearable=True).props(
                "outlined dense use-chips options-dense"
            ).classes("w-52").on_value_change(lambda e: self.refilter(triggers=e.value or [])).mark("filter-trigger")
            ui.select({k: label for k, (label, _) in RANGES.items()}, label="Created", value=self.time_range).props(
                "outlined dense options-dense"
            ).classes("w-44").on_value_change(lambda e: self.refilter(time_range=e.value)).mark("filter-range")
        await self.load()
        self.bulk_bar()
        self.listing()
        throttle = Throttle(self.reload, interval=0.3)
        follow(lambda event: throttle.poke() if self.concerns(event) else None, accept=lambda e: e.node_key is None)
        on_reconnect(self.reload)

    def concerns(self, event: Event) -> bool:
        """Whether a run event may change what is shown: a run on this page, or a new one for the first page."""
        return self.first_page or any(item.id == event.run_id for item in self.result.items)

    async def load(self) -> None:
        self._requests += 1
        request = self._requests
        try:
            result = await services().runs.list_all(self.query(), after=self.cursors[-1], size=PAGE_SIZE)
            error = None
        except FlowyardError as exc:
            result, error = RunPage([], None), str(exc)
        if request == self._requests:  # of overlapping loads, the last one wins
            self.result, self.error = result, error

    async def reload(self) -> None:
        await self.load()
        self.selected &= {item.id for item in self.result.items}
        self.listing.refresh()
        self.bulk_bar.refresh()

    async def refilter(self, **changes: object) -> None:
        """Change filters (`statuses`, `workflow_id`, `triggers`, `time_range`) and go back to the first page."""
        for name, value in changes.items():
            setattr(self, name, value)
        self.cursors = [None]
        self.selected.clear()
        ui.navigate.history.replace(self.url())
        await self.reload()

    def url(self) -> str:
        parts = []
        if self.statuses:
            parts.append("status=" + ",".join(self.statuses))
        if self.workflow_id:
            parts.append(f"workflow={self.workflow_id}")
        if self.triggers:
            parts.append("trigger=" + ",".join(self.triggers))
        if self.time_range != "all":
            parts.append(f"range={self.time_range}")
        if self.text:
            parts.append("q=" + quote(self.text))
        return "/runs" + ("?" + "&".join(parts) if parts else "")

    async def older(self) -> None:
        if self.result.next_cursor:
            self.cursors.append(self.result.next_cursor)
            await self.reload()

    async def newer(self) -> None:
        if len(self.cursors) > 1:
            self.cursors.pop()
            await self.reload()

    @property
    def filtered(self) -> bool:
        return bool(self.statuses or self.workflow_id or self.triggers or self.time_range != "all" or self.text)

    @ui.refreshable_method
    def listing(self) -> None:
        self.boxes, self.page_box = {}, None
        with ui.column().classes("fy-list fy-card fy-runs gap-0").mark("runs"):
            if self.error:
                ui.label(self.error).classes("fy-error m-4")
                return
            if not self.result.items:
                with ui.column().classes("fy-empty"):
                    with ui.element("div").classes("fy-empty__icon"):
                        ui.icon("play_circle")
                    if self.filtered:
                        ui.label("No runs match these filters").classes("fy-empty__title")
                        ui.label("Clear a filter or widen the time range.").classes("fy-empty__text")
                    else:
                        ui.label("No runs yet").classes("fy-empty__title")
                        ui.label(
                            "Runs appear here, live, as soon as a workflow is started: from its editor, "
                            "the API, a webhook or a schedule."
                        ).classes("fy-empty__text")
                        ui.button("Open workflows", on_click=lambda: ui.navigate.to("/workflows")).props(
                            "outline no-caps"
                        ).classes("mt-3")
                return
            with ui.element("div").classes("fy-list__head"):
                if self.selectable:
                    shown = {item.id for item in self.result.items}
                    every = bool(shown) and shown <= self.selected
                    with ui.element("div").classes("fy-list__select"):
                        self.page_box = ui.checkbox(value=every, on_change=lambda e: self.select_page(e.value))
                        self.page_box.props('dense aria-label="Select every run on this page"').mark("select-page")
                with ui.element("div").classes("fy-list__cells"):
                    for label in ("Status", "Workflow", "Trigger", "Created", "Duration"):
                        ui.label(label)
            for item in self.result.items:
                self.row(item)
            if not self.first_page or self.result.next_cursor:
                with ui.row().classes("fy-list__footer"):
                    ui.label(f"Page {len(self.cursors)}")
                    with ui.row().classes("gap-1"):
                        ui.button("Newer", icon="chevron_left", on_click=self.newer).props(
                            "flat dense no-caps" + (" disable" if self.first_page else "")
                        ).mark("newer")
                        ui.button("Older", on_click=self.older).props(
                            "flat dense no-caps icon-right=chevron_right"
                            + ("" if self.result.next_cursor else " disable")
                        ).mark("older")

    def row(self, item: RunSummary) -> None:
        with ui.element("div").classes("fy-list__row").mark("run-row", item.id):
            if self.selectable:
                with ui.element("div").classes("fy-list__select"):
                    box = self.boxes[item.id] = ui.checkbox(value=item.id in self.selected)
                    box.on_value_change(lambda e: self.select(item.id, e.value))
                    box.props(f'dense aria-label="Select run {item.id}"').mark("select-run")
            self.cells(item)

    def cells(self, item: RunSummary) -> None:
        with ui.link(target=f"/runs/{item.id}").classes("fy-list__cells"):
            with ui.element("div"):
                theme.status_chip(item.status.value)
            with ui.column().classes("fy-col-name gap-0"):
                ui.label(item.workflow_name).classes("fy-workflow__name")
                detail = item.id + (f" · v{item.workflow_version}" if item.workflow_version else "")
                ui.label(detail).classes("fy-workflow__description font-mono")
                if item.error:
                    ui.label(item.error).classes("fy-run__error")
            ui.label(TRIGGER_OPTIONS.get(item.trigger.value, item.trigger.value)).classes("fy-cell-text")
            with ui.element("div"):
                theme.time_label(item.created_at)
            if item.duration_seconds is not None:
                ui.label(duration_text(item.duration_seconds)).classes("fy-cell-text")
            elif item.started_at is not None and not item.status.is_terminal:
                ui.label(duration_text((clock.now() - item.started_at).total_seconds()) + "…").classes("fy-cell-text")
            else:
                ui.label("—").classes("fy-cell-text")

    # --- several runs at once ---------------------------------------------------------------------------------

    @property
    def selectable(self) -> bool:
        return self.may_run or self.may_delete

    def select(self, run_id: str, on: bool) -> None:
        if self._syncing:
            return
        (self.selected.add if on else self.selected.discard)(run_id)
        self.sync()

    def select_page(self, on: bool) -> None:
        if self._syncing:
            return
        shown = {item.id for item in self.result.items}
        self.selected = self.selected | shown if on else self.selected - shown
        self.sync()

    def sync(self) -> None:
        """Every box as the selection says, and the bar of what can be done with it."""
        self._syncing = True
        try:
            for run_id, box in self.boxes.items():
                box.set_value(run_id in self.selected)
            if self.page_box is not None:
                shown = set(self.boxes)
                self.page_box.set_value(bool(shown) and shown <= self.selected)
        finally:
            self._syncing = False
        self.bulk_bar.refresh()

    def chosen(self, *statuses: RunStatus) -> list[RunSummary]:
        return [item for item in self.result.items if item.id in self.selected and item.status in statuses]

    @ui.refreshable_method
    def bulk_bar(self) -> None:
        if not self.selected:
            return
        failed = self.chosen(RunStatus.FAILED)
        active = self.chosen(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
        ended = self.chosen(RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
        with ui.row().classes("fy-bulk-bar items-center gap-2").mark("bulk-bar"):
            count = len(self.selected)
            ui.label(f"{count} run{'s' if count != 1 else ''} selected").classes("fy-bulk-bar__count")
            if self.may_run:
                ui.button(f"Re-run failed ({len(failed)})", icon="replay", on_click=self.rerun_selected).props(
                    "flat dense no-caps" + ("" if failed else " disable")
                ).mark("bulk-rerun").tooltip("Each failed run goes on from its failed step, keeping what completed")
                ui.button(f"Cancel ({len(active)})", icon="stop_circle", on_click=self.cancel_selected).props(
                    "flat dense no-caps" + ("" if active else " disable")
                ).mark("bulk-cancel")
            if self.may_delete:
                ui.button(f"Delete ({len(ended)})", icon="delete", on_click=self.ask_delete).props(
                    "flat dense no-caps color=negative" + ("" if ended else " disable")
                ).mark("bulk-delete").tooltip("Runs that have ended, with their steps and approvals")
            ui.button("Clear selection", on_click=lambda: self.select_page(False)).props("flat dense no-caps").mark(
                "bulk-clear"
            )

    async def rerun_selected(self) -> None:
        if not await access.may(Permission.RUN):
            return
        done, problems = 0, []
        for item in self.chosen(RunStatus.FAILED):
            try:
                await services().runs.rerun_failed(item.id)
                done += 1
            except FlowyardError as exc:
                problems.append(f"{item.id}: {exc}")
        self.report(f"Re-running {done} run{'s' if done != 1 else ''} from the failed step", problems)
        await self.reload()

    async def cancel_selected(self) -> None:
        if not await access.may(Permission.RUN):
            return
        done, problems = 0, []
        for item in self.chosen(RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED):
            try:
                await services().runs.cancel(item.id)
                done += 1
            except FlowyardError as exc:
                problems.append(f"{item.id}: {exc}")
        self.report(f"Cancelling {done} run{'s' if done != 1 else ''}", problems)
        await self.reload()

    def ask_delete(self) -> None:
        ended = self.chosen(RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
        count = len(ended)
        confirm(
            f"Delete {count} run{'s' if count != 1 else ''}?",
            "Their steps, outputs and approvals are deleted with them. This can't be undone.",
            "Delete",
            lambda: self.delete_selected([item.id for item in ended]),
        )

    async def delete_selected(self, run_ids: list[str]) -> None:
        if not await access.may(Permission.EDIT):
            return
        try:
            gone = await services().runs.delete(run_ids, by=access.principal())
        except FlowyardError as exc:
            ui.notify(str(exc), type="warning")
            return
        kept = len(run_ids) - gone.runs
        self.report(
            f"Deleted {gone.runs} run{'s' if gone.runs != 1 else ''}",
            [f"{kept} had started again meanwhile and were kept"] if kept else [],
        )
        await self.reload()

    @staticmethod
    def report(done: str, problems: list[str]) -> None:
        if problems:
            ui.notify(f"{done}; {len(problems)} could not: " + "; ".join(problems[:3]), type="warning", multi_line=True)
        else:
            ui.notify(done, type="positive")
