"""The runs page (`/runs`): every run of every workflow, newest first, filtered and paged on the server,
updating live as statuses change. A run opens at `/runs/{id}` (`app.pages.run_detail`).

Filters live in the URL (`?status=FAILED&workflow=wf-…&trigger=api&range=24h`), so a filtered list can be
bookmarked and linked to. Pages are keyset pages (`after` cursors), so the thousandth page of a history
of millions is as quick as the first.
"""

from __future__ import annotations

from datetime import timedelta

from nicegui import ui

from app import clock
from app.engine.events import Event
from app.engine.exceptions import FlowyardError
from app.engine.model import RunStatus, Trigger
from app.models.people import Permission
from app.models.runs import RunPage, RunQuery, RunSummary
from app.pages import guard, theme
from app.pages.context import services
from app.pages.layout import frame
from app.pages.live import Throttle, follow, on_reconnect
from components.timeline import duration_text

__all__ = ["RANGES", "register"]

PAGE_SIZE = 50
RANGES: dict[str, tuple[str, timedelta | None]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(days=1)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("Any time", None),
}
STATUS_OPTIONS = {s.value: s.value.capitalize() for s in RunStatus}
TRIGGER_OPTIONS = {t.value: t.value.upper() if t.value in ("ui", "api") else t.value.capitalize() for t in Trigger}


def register() -> None:
    @guard.page("/runs", Permission.VIEW_RUNS)
    async def runs_page(
        status: str | None = None, workflow: str | None = None, trigger: str | None = None, range: str = "all"
    ) -> None:
        with frame("Runs"):
            page = RunsPage(
                statuses=[s for s in (status or "").split(",") if s in STATUS_OPTIONS],
                workflow_id=workflow or None,
                triggers=[t for t in (trigger or "").split(",") if t in TRIGGER_OPTIONS],
                time_range=range if range in RANGES else "all",
            )
            await page.build()


class RunsPage:
    """The filters, the current keyset page and the cursors that lead back to the newer pages."""

    def __init__(self, *, statuses: list[str], workflow_id: str | None, triggers: list[str], time_range: str) -> None:
        self.statuses = statuses
        self.workflow_id = workflow_id
        self.triggers = triggers
        self.time_range = time_range
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
            ui.select(STATUS_OPTIONS, multiple=True, label="Status", value=self.statuses, clearable=True).props(
                "outlined dense use-chips options-dense"
            ).classes("w-64").on_value_change(lambda e: self.refilter(statuses=e.value or [])).mark("filter-status")
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
        self.listing.refresh()

    async def refilter(self, **changes: object) -> None:
        """Change filters (`statuses`, `workflow_id`, `triggers`, `time_range`) and go back to the first page."""
        for name, value in changes.items():
            setattr(self, name, value)
        self.cursors = [None]
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
        return bool(self.statuses or self.workflow_id or self.triggers or self.time_range != "all")

    @ui.refreshable_method
    def listing(self) -> None:
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
            with ui.element("div").classes("fy-list__head"), ui.element("div").classes("fy-list__cells"):
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
        with (
            ui.element("div").classes("fy-list__row").mark("run-row", item.id),
            ui.link(target=f"/runs/{item.id}").classes("fy-list__cells"),
        ):
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
