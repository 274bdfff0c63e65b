"""Schedules: every workflow's schedules (`/schedules`) and one workflow's (`/workflows/{id}/schedules`).

A row says when the schedule fires in words and in its own time zone, its next five fire times, the
status of its last runs (dots that open them) and whether it paused itself after failures. The form
previews the description and the next fire times as the cron, interval or time zone is typed, and
refuses what the service refuses (bad cron, unknown zone, an input the first step does not take).
Creating, changing, turning on or off and deleting are for whoever may edit; others see the list read-only.
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Any

from nicegui import ui

from app.engine.exceptions import FlowyardError, InputInvalid, InvalidInput
from app.models.people import Permission
from app.models.schedules import ScheduleCreate, SchedulePublic
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.dialogs import actions, dialog, error_label, show
from app.pages.layout import frame
from app.pages.workflow_tabs import find_workflow, workflow_page
from components.schema_form import SchemaForm

__all__ = ["ScheduleList", "register"]

OVERLAP = {
    "skip": "Skip while a run of it is still going",
    "queue": "Queue: start when the previous run ends",
    "allow": "Allow runs to overlap",
}
CATCHUP = {
    "skip": "Skip fire times missed while Flowyard was down",
    "once": "Run once for the fire times missed",
    "all": "Run each fire time missed",
}
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86_400}
REFRESH_SECONDS = 5.0


def register() -> None:
    @guard.page("/schedules", Permission.VIEW_WORKFLOWS)
    async def schedules_page() -> None:
        with frame("Schedules"):
            with ui.row().classes("fy-page-header"):
                with ui.column().classes("gap-1"):
                    ui.label("Schedules").classes("fy-title")
                    ui.label("Workflows that run on a cron or an interval, in their own time zone.").classes(
                        "fy-subtitle"
                    )
                ui.space()
                page = ScheduleList(None)
                if page.may_edit:
                    ui.button("New schedule", icon="add", on_click=page.open_create).props("unelevated no-caps").mark(
                        "create"
                    )
            await page.build()

    @guard.page("/workflows/{workflow_id}/schedules", Permission.VIEW_WORKFLOWS)
    async def workflow_schedules_page(workflow_id: str) -> None:
        workflow = await find_workflow(workflow_id)
        if workflow is None:
            return
        with workflow_page(workflow, "Schedules"):
            page = ScheduleList(workflow.id)
            with ui.row().classes("w-full items-center"):
                ui.label("Runs of this workflow that start on their own, on a cron or an interval.").classes(
                    "fy-subtitle"
                )
                ui.space()
                if page.may_edit:
                    ui.button("New schedule", icon="add", on_click=page.open_create).props("unelevated no-caps").mark(
                        "create"
                    )
            await page.build()


@cache
def _zones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def fire_time_text(moment: datetime, timezone: str) -> str:
    """A fire time as people read it, in the schedule's zone: "Mon 24 Nov, 08:00 CET"."""
    local = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    return f"{local:%a %d %b, %H:%M}" + (f":{local:%S}" if local.second else "") + f" {local:%Z}"


def interval_text(seconds: float) -> tuple[float, str]:
    """An interval in the largest unit that divides it: (5, "minutes")."""
    for unit, size in reversed(UNITS.items()):
        if seconds >= size and seconds % size == 0:
            return seconds / size, unit
    return seconds, "seconds"


class ScheduleList:
    """The schedules of one workflow, or of all; kept current every few seconds (next times, last runs)."""

    def __init__(self, workflow_id: str | None) -> None:
        self.workflow_id = workflow_id
        self.items: list[SchedulePublic] = []
        self.may_edit = access.principal().can(Permission.EDIT)

    async def build(self) -> None:
        self.items = await services().schedules.list(self.workflow_id)
        self.listing()
        self.host = ui.element("div")  # dialogs live here, outside the list that refreshes under them
        ui.timer(REFRESH_SECONDS, self.reload)

    async def reload(self) -> None:
        items = await services().schedules.list(self.workflow_id)
        if items != self.items:
            self.items = items
            self.listing.refresh()

    @ui.refreshable_method
    def listing(self) -> None:
        with ui.column().classes("fy-list fy-card fy-schedules gap-0").mark("schedules"):
            if not self.items:
                with ui.column().classes("fy-empty"):
                    with ui.element("div").classes("fy-empty__icon"):
                        ui.icon("event_repeat")
                    ui.label("No schedules yet").classes("fy-empty__title")
                    ui.label(
                        "A schedule starts a run on a cron (every weekday at 08:00) or an interval (every "
                        "15 minutes), in the time zone you choose."
                    ).classes("fy-empty__text")
                return
            with ui.element("div").classes("fy-list__head"):
                with ui.element("div").classes("fy-list__cells"):
                    for label in ("Schedule", "Next fire times", "Last runs", "On"):
                        ui.label(label)
                ui.element("div").classes("fy-list__actions")
            for item in self.items:
                self.row(item)

    def row(self, item: SchedulePublic) -> None:
        with ui.element("div").classes("fy-list__row").mark("schedule-row", item.id):
            with ui.element("div").classes("fy-list__cells"):
                with ui.column().classes("fy-col-name gap-0"):
                    ui.label(item.name or item.description).classes("fy-workflow__name").mark("schedule-name")
                    parts = [item.cron or "", item.description if item.name else "", item.timezone]
                    detail = " · ".join(p for p in parts if p)
                    ui.label(detail).classes("fy-workflow__description").mark("schedule-description")
                    if self.workflow_id is None:
                        ui.link(item.workflow_name, f"/workflows/{item.workflow_id}/schedules").classes(
                            "fy-schedule__workflow"
                        )
                    if item.paused_reason:
                        with ui.row().classes("fy-schedule__paused items-center gap-1 no-wrap").mark("paused"):
                            ui.icon("pause_circle")
                            ui.label(item.paused_reason)
                with ui.column().classes("gap-0 fy-schedule__next").mark("next-fire-times"):
                    if not item.enabled or item.paused_reason:
                        ui.label("Not scheduled while off").classes("fy-muted text-sm")
                    elif not item.next_fire_times:
                        ui.label("No more fire times").classes("fy-muted text-sm")
                    for index, moment in enumerate(item.next_fire_times[:5]):
                        if not item.enabled or item.paused_reason:
                            break
                        label = ui.label(fire_time_text(moment, item.timezone))
                        label.classes("fy-schedule__time" + (" fy-schedule__time--first" if index == 0 else ""))
                        label.tooltip(theme.exact_time(moment)).mark("fire-time")
                with ui.column().classes("gap-1"):
                    fires = [f for f in item.last_fires if f.run_id or f.error][:10]
                    with ui.row().classes("gap-1 items-center fy-schedule__runs").mark("last-runs"):
                        if not fires:
                            ui.label("None yet").classes("fy-muted text-sm")
                        for fire in reversed(fires):
                            self.fire_dot(fire, item.timezone)
                    if fires:
                        ui.label(f"last {theme.relative_time(fires[0].due_at)}").classes("fy-muted text-xs")
                with ui.element("div"):
                    if self.may_edit:
                        ui.switch(value=item.enabled, on_change=lambda e, s=item: self.toggle(s, e.value)).props(
                            'dense aria-label="Schedule on"'
                        ).mark("enabled").tooltip("Turn this schedule off or on")
                    else:
                        ui.label("On" if item.enabled else "Off").classes("fy-cell-text").mark("enabled-state")
            with (
                ui.element("div").classes("fy-list__actions"),
                ui.button(icon="more_vert", color=None)
                .props('flat round dense aria-label="More actions"')
                .mark("schedule-actions"),
                ui.menu().props("anchor='bottom right' self='top right'"),
            ):
                if self.may_edit:
                    ui.menu_item("Edit", lambda s=item: self.open_edit(s)).mark("edit")
                ui.menu_item("Open workflow", lambda s=item: ui.navigate.to(f"/workflows/{s.workflow_id}"))
                if self.may_edit:
                    ui.separator()
                    ui.menu_item("Delete", lambda s=item: self.open_delete(s)).classes("text-negative").mark("delete")

    @staticmethod
    def fire_dot(fire: Any, timezone: str) -> None:
        status = fire.run_status or ("failed" if fire.error else "skipped")
        key = theme.status_key(status) if status.lower() != "skipped" else "skipped"
        tip = f"{fire_time_text(fire.due_at, timezone)} · {theme.STATUS_LABELS[key]}"
        if fire.error:
            tip += f" · {fire.error}"
        dot = ui.element("span").classes(f"fy-status fy-status--{key} fy-dot-only")
        with dot:
            ui.element("span").classes("fy-status__dot")
        if fire.run_id:
            dot.classes("cursor-pointer").on("click", lambda r=fire.run_id: ui.navigate.to(f"/runs/{r}"))
        dot.tooltip(tip).mark("fire-dot")

    async def toggle(self, item: SchedulePublic, enabled: bool) -> None:
        if not await access.may(Permission.EDIT):
            self.listing.refresh()  # the switch back as it was
            return
        if enabled == item.enabled and not (enabled and item.paused_reason):
            return
        try:
            await services().schedules.set_enabled(item.id, enabled)
        except FlowyardError as exc:
            ui.notify(str(exc), type="negative")
        else:
            ui.notify(f"“{item.name or item.description}” is {'on' if enabled else 'off'}", timeout=1500)
        await self.reload()

    async def open_create(self) -> None:
        if not await access.may(Permission.EDIT):
            return
        zone = await _browser_zone()
        await self.open_editor(None, default_zone=zone)

    async def open_edit(self, item: SchedulePublic) -> None:
        if not await access.may(Permission.EDIT):
            return
        await self.open_editor(item, default_zone=item.timezone)

    async def open_editor(self, item: SchedulePublic | None, *, default_zone: str) -> None:
        workflows = {w.id: w.name for w in (await services().workflows.list(page=0, size=500)).items}
        if not workflows:
            ui.notify("Create a workflow first: a schedule runs one", type="warning")
            return
        workflow_id = item.workflow_id if item else self.workflow_id
        with self.host, dialog("Edit schedule" if item else "New schedule", wide=True) as box:
            box.props("persistent")
            form = ScheduleForm(item, workflows, workflow_id, default_zone)
            await form.build()

            async def save() -> None:
                if not await access.may(Permission.EDIT):
                    return
                spec = form.spec()
                if spec is None:
                    return
                try:
                    if item is None:
                        await services().schedules.create(form.workflow.value, spec)
                    else:
                        await services().schedules.update(item.id, spec)
                except (InvalidInput, InputInvalid) as exc:
                    form.refused(exc)
                    return
                except FlowyardError as exc:
                    show(form.error, str(exc))
                    return
                ui.notify("Schedule saved", type="positive", timeout=1500)
                await self.reload()
                box.close()

            actions(box, "Save", save)

    def open_delete(self, item: SchedulePublic) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, dialog(f"Delete “{item.name or item.description}”?") as box:
            ui.label("It will not start any more runs. Its past runs stay.").classes("fy-subtitle")

            async def delete() -> None:
                if not await access.may(Permission.EDIT):
                    box.close()
                    return
                try:
                    await services().schedules.delete(item.id)
                except FlowyardError as exc:
                    ui.notify(str(exc), type="warning")
                else:
                    ui.notify("Schedule deleted")
                await self.reload()
                box.close()

            actions(box, "Delete", delete, color="negative")


async def _browser_zone() -> str:
    """The browser's IANA time zone (what "in my time zone" means), or the instance's default time zone when it
    does not say."""
    fallback = theme.default_time_zone()
    try:
        zone = await ui.run_javascript("Intl.DateTimeFormat().resolvedOptions().timeZone", timeout=2.0)
    except TimeoutError:
        return fallback
    return zone if isinstance(zone, str) and zone in _zones() else fallback


class ScheduleForm:
    """The fields of a schedule, with a live preview of when it fires."""

    def __init__(
        self, item: SchedulePublic | None, workflows: dict[str, str], workflow_id: str | None, zone: str
    ) -> None:
        self.item = item
        self.workflows = workflows
        self.workflow_id = workflow_id or next(iter(workflows))
        self.zone = zone
        self.input_form: SchemaForm | None = None
        self.input_editor: ui.codemirror | None = None

    async def build(self) -> None:
        item = self.item
        self.workflow = ui.select(self.workflows, label="Workflow", value=self.workflow_id, with_input=True)
        self.workflow.props("outlined dense").classes("w-full").mark("workflow")
        if item is not None:
            self.workflow.disable()
        self.name = ui.input("Name (optional)", value=item.name if item else "").props("outlined dense")
        self.name.classes("w-full").mark("name")
        with ui.row().classes("w-full items-center gap-3 no-wrap"):
            self.kind = (
                ui.toggle(
                    {"cron": "Cron", "interval": "Interval"}, value="interval" if item and not item.cron else "cron"
                )
                .props("no-caps unelevated dense toggle-color=primary")
                .mark("kind")
            )
            self.zone_select = ui.select(_zones(), label="Time zone", value=self.zone, with_input=True)
            self.zone_select.props("outlined dense").classes("grow").mark("timezone")
        self.cron_row = ui.row().classes("w-full items-start gap-2 no-wrap")
        with self.cron_row:
            self.cron = (
                ui.input(
                    "Cron (minute hour day month weekday)", value=item.cron if item and item.cron else "0 8 * * 1-5"
                )
                .props("outlined dense")
                .classes("grow font-mono")
                .mark("cron")
            )
        self.interval_row = ui.row().classes("w-full items-center gap-2 no-wrap")
        amount, unit = interval_text(item.interval_seconds) if item and item.interval_seconds else (15, "minutes")
        with self.interval_row:
            ui.label("Every").classes("text-sm")
            self.amount = ui.number(value=amount, min=1, format="%g").props("outlined dense").classes("w-28")
            self.amount.mark("interval")
            self.unit = ui.select(list(UNITS), value=unit).props("outlined dense").classes("w-36").mark("unit")
        with ui.column().classes("fy-schedule__preview w-full gap-1").mark("preview") as self.preview_box:
            pass
        await self.input_field()
        with ui.expansion("When runs overlap, fail or are missed").classes("w-full fy-expansion").props("dense"):
            self.overlap = ui.select(OVERLAP, label="If the previous run is still going", value=_v(item, "overlap"))
            self.overlap.props("outlined dense").classes("w-full").mark("overlap")
            with ui.row().classes("w-full gap-2 no-wrap"):
                self.catchup = ui.select(CATCHUP, label="After Flowyard was down", value=_v(item, "catchup"))
                self.catchup.props("outlined dense").classes("grow").mark("catchup")
                window = (item.catchup_window_seconds if item else 3600) / 3600
                self.window = ui.number("Within (hours)", value=window, min=0, format="%g").props("outlined dense")
                self.window.classes("w-32").mark("catchup-window")
                self.window.bind_visibility_from(self.catchup, "value", backward=lambda v: v != "skip")
            pause = item.pause_after_failures if item else 3
            self.pause = ui.number("Pause after this many failed runs in a row (0: never)", value=pause, min=0)
            self.pause.props("outlined dense").classes("w-full").mark("pause-after")
        self.enabled = ui.switch("On", value=item.enabled if item else True).mark("enabled")
        self.error = error_label()
        for element in (self.kind, self.zone_select, self.cron, self.amount, self.unit):
            element.on_value_change(lambda _: self.update_preview())
        self.workflow.on_value_change(lambda _: self.input_field.refresh())
        self.update_preview()

    @ui.refreshable_method
    async def input_field(self) -> None:
        workflow_id = self.workflow.value
        definition = await services().workflows.definition(workflow_id)
        agents = await services().agents.by_id()
        schema = services().drafts.input_schema(definition, agents)
        current = self.item.input if self.item and self.item.workflow_id == workflow_id else None
        self.input_form = self.input_editor = None
        if schema is not None:
            ui.label("Input for the first step").classes("text-xs fy-muted")
            self.input_form = SchemaForm(schema, current if isinstance(current, dict) else {}).mark("input-form")
        else:
            ui.label("Input of each run (JSON, or plain text)").classes("text-xs fy-muted")
            text = json.dumps(current, indent=2) if current is not None else "{}"
            self.input_editor = (
                ui.codemirror(text, language="JSON")
                .classes("w-full h-24 border border-(--fy-border) rounded")
                .props('data-label="Input of each run"')
            )
            self.input_editor.mark("input")

    def interval_seconds(self) -> float | None:
        if self.amount.value is None:
            return None
        return float(self.amount.value) * UNITS[self.unit.value]

    def update_preview(self) -> None:
        is_cron = self.kind.value == "cron"
        self.cron_row.set_visibility(is_cron)
        self.interval_row.set_visibility(not is_cron)
        self.preview_box.clear()
        with self.preview_box:
            try:
                preview = services().schedules.preview(
                    cron=(self.cron.value or "").strip() if is_cron else None,
                    interval_seconds=None if is_cron else self.interval_seconds(),
                    timezone=self.zone_select.value or "",
                )
            except InvalidInput as exc:
                ui.label(exc.message).classes("fy-error").mark("preview-error")
                return
            ui.label(preview.description).classes("fy-schedule__description").mark("preview-description")
            ui.label("Next fire times").classes("text-xs fy-muted")
            with ui.row().classes("gap-x-3 gap-y-0"):
                for moment in preview.next_fire_times:
                    ui.label(fire_time_text(moment, self.zone_select.value)).classes("text-sm").mark("preview-time")

    def spec(self) -> ScheduleCreate | None:
        payload: Any
        if self.input_form is not None:
            payload = dict(self.input_form.value)
        else:
            raw = (self.input_editor.value if self.input_editor else "").strip()
            try:
                payload = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                payload = raw
        is_cron = self.kind.value == "cron"
        try:
            return ScheduleCreate(
                name=(self.name.value or "").strip(),
                cron=(self.cron.value or "").strip() if is_cron else None,
                interval_seconds=None if is_cron else self.interval_seconds(),
                timezone=self.zone_select.value or "",
                input=payload,
                enabled=bool(self.enabled.value),
                overlap_policy=self.overlap.value,
                catchup_policy=self.catchup.value,
                catchup_window_seconds=int(float(self.window.value or 0) * 3600),
                pause_after_failures=int(self.pause.value or 0),
            )
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            show(self.error, _first_error(exc))
            return None

    def refused(self, exc: InvalidInput | InputInvalid) -> None:
        if isinstance(exc, InputInvalid):
            if self.input_form is not None:
                self.input_form.show_errors({k.removeprefix("input."): v for k, v in exc.problems})
            show(self.error, f"The input does not fit the first step: {exc}")
        else:
            show(self.error, f"{exc.field}: {exc.message}")


def _v(item: SchedulePublic | None, which: str) -> str:
    if item is None:
        return "skip"
    return str(item.overlap_policy if which == "overlap" else item.catchup_policy)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    return str(exc)
