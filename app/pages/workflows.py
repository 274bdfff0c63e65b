"""The workflows page (`/workflows`): every workflow, searched, filtered by tag and sorted, the actions on each,
and the examples to start from. A workflow opens in the editor at `/workflows/{id}`.

The tag filter lives in the URL (`/workflows?tag=sales`), so a filtered list can be bookmarked and linked to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from nicegui import events, ui

from app.engine.exceptions import Conflict, FlowyardError, InvalidInput, NotFound
from app.models.base import Page
from app.models.people import Permission
from app.models.workflows import MAX_TAGS, TAG_MAX, WorkflowSort, WorkflowSummary
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.dialogs import actions as _actions
from app.pages.dialogs import dialog as _dialog
from app.pages.dialogs import error_label as _error_label
from app.pages.dialogs import show as _show
from app.pages.layout import frame
from app.services.examples import ExampleWorkflow

__all__ = ["register"]

PAGE_SIZE = 50
NAME_MAX = 200
DESCRIPTION_MAX = 5000
EXAMPLE_ICONS = ("alt_route", "mark_email_unread", "bolt", "hub", "auto_awesome")


def register() -> None:
    @guard.page("/workflows", Permission.VIEW_WORKFLOWS)
    async def workflows_page(tag: str = "") -> None:
        with frame("Workflows"):
            page = WorkflowsPage(await services().examples.list(), tag=tag.strip()[:TAG_MAX])
            await page.build()


class WorkflowsPage:
    """The page's state (search, sort, page) and what it draws."""

    def __init__(self, examples: list[ExampleWorkflow], *, tag: str = "") -> None:
        self.examples = examples
        self.search = ""
        self.tag = tag
        self.tags: list[str] = []  # every tag some workflow has: the filter's choices
        self.sort: WorkflowSort = "updated"
        self.descending: bool | None = None  # None: the sort's natural direction (see list_workflow_summaries)
        self.page = 0
        self.result: Page[WorkflowSummary] = Page([], 0, 0, PAGE_SIZE)
        self._requests = 0
        self.may_edit = access.principal().can(Permission.EDIT)  # what is offered; each action checks again

    async def build(self) -> None:
        with ui.row().classes("fy-page-header"):
            with ui.column().classes("gap-1"):
                ui.label("Workflows").classes("fy-title")
                ui.label("Chains of agents that run on their own, pause for approval and survive restarts.").classes(
                    "fy-subtitle"
                )
            ui.space()
            if self.may_edit:
                ui.button("Import", icon="file_upload", on_click=self.open_import).props("outline no-caps").mark(
                    "import"
                )
                ui.button("New workflow", icon="add", on_click=self.open_create).props("unelevated no-caps").mark(
                    "create"
                )
        with ui.row().classes("fy-toolbar") as self.toolbar:
            search = ui.input(placeholder="Search by name or description", on_change=self.on_search)
            search.props("outlined dense clearable debounce=250").classes("fy-search").mark("search")
            with search.add_slot("prepend"):
                ui.icon("search", size="20px").classes("fy-muted")
            self.tag_filter()
            ui.space()
            self.count = ui.label().classes("fy-muted text-sm")
        self.result = await self.fetch()
        self.tag_filter.refresh()  # drawn empty above, before the tags in use were known
        self.listing()
        self.gallery()
        self.host = ui.element("div")  # dialogs live here, outside the list that refreshes under them

    # --- the list ------------------------------------------------------------------------------------------

    async def fetch(self) -> Page[WorkflowSummary]:
        self.tags = await services().workflows.tags()
        return await services().workflows.summaries(
            page=self.page,
            size=PAGE_SIZE,
            search=self.search,
            sort=self.sort,
            descending=self.descending,
            tag=self.tag or None,
        )

    async def reload(self) -> None:
        """Fetch the list as searched, sorted and paged now, and redraw it; of overlapping reloads the last wins."""
        self._requests += 1
        request = self._requests
        result = await self.fetch()
        if not result.items and self.page > 0:  # the last row of the last page went away: show the page before
            self.page = max(0, result.pages - 1)
            result = await self.fetch()
        if request == self._requests:
            self.result = result
            self.listing.refresh()
            self.tag_filter.refresh()

    @ui.refreshable_method
    def tag_filter(self) -> None:
        if not self.tags and not self.tag:
            return
        choices = {"": "Any tag", **{tag: tag for tag in self.tags}}
        if self.tag and self.tag not in choices:
            choices[self.tag] = self.tag
        ui.select(choices, label="Tag", value=self.tag, on_change=lambda e: self.filter_tag(e.value or "")).props(
            "outlined dense options-dense"
        ).classes("w-44").mark("filter-tag")

    async def filter_tag(self, tag: str) -> None:
        if tag == self.tag:
            return
        self.tag, self.page = tag, 0
        ui.navigate.history.replace("/workflows?tag=" + quote(tag) if tag else "/workflows")
        await self.reload()

    @ui.refreshable_method
    def listing(self) -> None:
        result = self.result
        self.toolbar.set_visibility(result.total > 0 or bool(self.search or self.tag))
        self.count.set_text(_plural(result.total, "workflow"))
        with ui.column().classes("fy-list fy-card gap-0"):
            if result.total == 0 and not (self.search or self.tag):
                self.empty_state()
                return
            self.head()
            if not result.items:
                with ui.column().classes("fy-empty"):
                    matching = " and ".join(
                        part
                        for part in (f"“{self.search}”" if self.search else "", f"tag {self.tag}" if self.tag else "")
                        if part
                    )
                    ui.label(f"No workflows match {matching}").classes("fy-empty__title")
                    ui.label("Try another word or tag, or clear them to see every workflow.").classes("fy-empty__text")
            for summary in result.items:
                self.row(summary)
            if result.pages > 1:
                with ui.row().classes("fy-list__footer"):
                    first = result.page * result.size + 1
                    ui.label(f"Showing {first}-{first + len(result.items) - 1} of {result.total}")
                    ui.pagination(1, result.pages, direction_links=True, value=result.page + 1).props(
                        "dense flat"
                    ).on_value_change(lambda e: self.go_to_page(e.value - 1))

    def head(self) -> None:
        with ui.element("div").classes("fy-list__head"):
            with ui.element("div").classes("fy-list__cells"):
                self.sort_control("Name", "name")
                ui.label("Steps").classes("fy-col-steps")
                self.sort_control("Last run", "last_run", "fy-col-run")
                self.sort_control("Last edited", "updated", "fy-col-edited")
            ui.element("div").classes("fy-list__actions")

    def sort_control(self, label: str, sort: WorkflowSort, classes: str = "") -> None:
        active = self.sort == sort
        with (
            ui.element("div")
            .classes(f"fy-sort {classes}" + (" fy-sort--active" if active else ""))
            .props(f'tabindex=0 role=button aria-label="Sort by {label.lower()}"')
            .on("click", lambda: self.sort_by(sort))
            .on("keydown.enter", lambda: self.sort_by(sort))
            .mark(f"sort-{sort}")
        ):
            ui.label(label)
            if active:
                ui.icon("arrow_downward" if self.is_descending else "arrow_upward").classes("fy-sort__icon")

    def row(self, summary: WorkflowSummary) -> None:
        with ui.element("div").classes("fy-list__row").mark("workflow-row", summary.id):
            with ui.link(target=f"/workflows/{summary.id}").classes("fy-list__cells").mark("open-workflow"):
                with ui.column().classes("fy-col-name gap-0"):
                    ui.label(summary.name).classes("fy-workflow__name").mark("workflow-name")
                    if summary.description:
                        ui.label(summary.description).classes("fy-workflow__description")
                    else:
                        ui.label("No description").classes("fy-workflow__description fy-workflow__description--none")
                    if summary.tags:
                        with ui.row().classes("fy-tags gap-1").mark("workflow-tags"):
                            for tag in summary.tags:
                                ui.label(tag).classes("fy-tag")
                ui.label(_plural(summary.steps, "step")).classes("fy-cell-text fy-col-steps")
                with ui.element("div").classes("fy-col-run"):
                    if summary.last_run_status and summary.last_run_at:
                        chip = theme.status_chip(summary.last_run_status)
                        chip.tooltip(f"Last run {theme.relative_time(summary.last_run_at)}")
                    else:
                        ui.label("Never run").classes("fy-never")
                with ui.element("div").classes("fy-col-edited"):
                    theme.time_label(summary.updated_at)
            with ui.element("div").classes("fy-list__actions"):
                with (
                    ui.button(icon="more_vert", color=None)
                    .props('flat round dense aria-label="More actions"')
                    .mark("workflow-actions")
                ):
                    with ui.menu().props("anchor='bottom right' self='top right'"):
                        if self.may_edit:
                            ui.menu_item("Rename and tag", lambda: self.open_rename(summary)).mark("rename")
                            ui.menu_item("Clone", lambda: self.clone(summary)).mark("clone")
                        ui.menu_item("Export JSON", lambda: self.export(summary)).mark("export")
                        if self.may_edit:
                            ui.separator()
                            ui.menu_item("Delete", lambda: self.open_delete(summary)).classes("text-negative").mark(
                                "delete"
                            )

    def empty_state(self) -> None:
        with ui.column().classes("fy-empty"):
            with ui.element("div").classes("fy-empty__icon"):
                ui.icon("account_tree")
            if not self.may_edit:
                ui.label("No workflows yet").classes("fy-empty__title")
                ui.label("Workflows appear here once an editor creates one.").classes("fy-empty__text")
                return
            ui.label("No workflows yet — start from an example").classes("fy-empty__title")
            ui.label(
                "A workflow chains agents into steps that run on their own, wait for your approval where you ask, "
                "and pick up where they left off after a restart. Pick an example below, create one from scratch, "
                "or import a file exported from Flowyard."
            ).classes("fy-empty__text")
            with ui.row().classes("gap-2 mt-3"):
                ui.button("Create a blank workflow", icon="add", on_click=self.open_create).props("outline no-caps")
                ui.button("Import a file", icon="file_upload", on_click=self.open_import).props("flat no-caps")

    def gallery(self) -> None:
        if not self.examples or not self.may_edit:  # (using an example creates a workflow)
            return
        with ui.column().classes("w-full gap-3 mt-2"):
            with ui.column().classes("gap-1"):
                ui.label("Start from an example").classes("fy-section-title")
                ui.label("Ready-made workflows that run offline: open one, press Run, then make it yours.").classes(
                    "fy-subtitle"
                )
            with ui.element("div").classes("fy-gallery"):
                for index, example in enumerate(self.examples):
                    with ui.column().classes("fy-card fy-example").mark("example", f"example-{example.id}"):
                        with ui.element("div").classes("fy-example__icon"):
                            ui.icon(EXAMPLE_ICONS[index % len(EXAMPLE_ICONS)])
                        ui.label(example.name).classes("fy-example__name")
                        ui.label(example.description).classes("fy-example__description")
                        with ui.row().classes("fy-example__footer"):
                            ui.label(_plural(example.steps, "step")).classes("fy-cell-text")
                            ui.button("Use this example", on_click=lambda e=example: self.use(e)).props(
                                "flat no-caps dense icon-right=arrow_forward"
                            )

    # --- what the controls do ----------------------------------------------------------------------------------

    @property
    def is_descending(self) -> bool:
        return self.sort == "updated" if self.descending is None else self.descending

    async def on_search(self, event: events.ValueChangeEventArguments[str | None]) -> None:
        self.search = (event.value or "").strip()
        self.page = 0
        await self.reload()

    async def sort_by(self, sort: WorkflowSort) -> None:
        if sort == self.sort:
            self.descending = not self.is_descending
        else:
            self.sort, self.descending = sort, None
        self.page = 0
        await self.reload()

    async def go_to_page(self, page: int) -> None:
        self.page = page
        await self.reload()

    def open_create(self) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, _dialog("New workflow") as dialog:
            name = _name_input("")
            description = _description_input("")
            tags = _tags_input([self.tag] if self.tag else [], self.tags)
            error = _error_label()

            async def create() -> None:
                if not await access.may(Permission.EDIT):
                    return
                if not (name.validate() and description.validate()):
                    return
                try:
                    workflow = await services().workflows.create(
                        name=name.value.strip(),
                        description=description.value.strip(),
                        tags=list(tags.value or []),
                        by=access.principal(),
                    )
                except FlowyardError as exc:
                    _show(error, _reason(exc))
                    return
                ui.navigate.to(f"/workflows/{workflow.id}")
                dialog.close()

            name.on("keydown.enter", create)
            _actions(dialog, "Create", create)

    def open_rename(self, summary: WorkflowSummary) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, _dialog("Rename and tag workflow") as dialog:
            name = _name_input(summary.name)
            description = _description_input(summary.description)
            tags = _tags_input(summary.tags, self.tags)
            error = _error_label()

            async def save() -> None:
                if not await access.may(Permission.EDIT):
                    return
                if not (name.validate() and description.validate()):
                    return
                try:
                    await services().workflows.update(
                        summary.id,
                        name=name.value.strip(),
                        description=description.value.strip(),
                        tags=list(tags.value or []),
                        by=access.principal(),
                    )
                except FlowyardError as exc:
                    _show(error, _reason(exc))
                    return
                ui.notify("Saved", type="positive")
                await self.reload()
                dialog.close()

            name.on("keydown.enter", save)
            _actions(dialog, "Save", save)

    async def clone(self, summary: WorkflowSummary) -> None:
        if not await access.may(Permission.EDIT):
            return
        try:
            copy = await services().workflows.clone(summary.id, by=access.principal())
        except FlowyardError as exc:
            await self.failed(f"Couldn't clone “{summary.name}”", exc)
            return
        ui.notify(f"Cloned as “{copy.name}”", type="positive")
        await self.reload()

    async def export(self, summary: WorkflowSummary) -> None:
        try:
            document = await services().workflows.export(summary.id)
        except FlowyardError as exc:
            await self.failed(f"Couldn't export “{summary.name}”", exc)
            return
        ui.download.content(
            document.model_dump_json(indent=2).encode(), f"{_slug(summary.name)}.json", "application/json"
        )

    def open_delete(self, summary: WorkflowSummary) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, _dialog(f"Delete “{summary.name}”?") as dialog:
            ui.label(
                "Its steps, versions and run history are deleted with it. This cannot be undone. "
                "Export it first if you may want it back."
            ).classes("fy-subtitle")

            async def delete() -> None:
                if not await access.may(Permission.EDIT):
                    dialog.close()
                    return
                try:
                    await services().workflows.delete(summary.id, by=access.principal())
                except Conflict:
                    ui.notify(
                        f"“{summary.name}” has runs in progress, so it was not deleted. "
                        "Cancel them or let them finish, then try again.",
                        type="warning",
                        multi_line=True,
                    )
                except FlowyardError as exc:
                    await self.failed(f"Couldn't delete “{summary.name}”", exc)
                else:
                    ui.notify(f"Deleted “{summary.name}”")
                    await self.reload()
                finally:
                    dialog.close()

            _actions(dialog, "Delete", delete, color="negative")

    def open_import(self) -> None:
        if not access.allowed(Permission.EDIT):
            return
        limit = services().settings.max_body_bytes
        with self.host, _dialog("Import a workflow") as dialog:
            ui.label(
                f"Choose a .json file exported from Flowyard (up to {_megabytes(limit)}). "
                "Nothing is created unless the whole file is valid."
            ).classes("fy-subtitle")

            async def received(event: events.UploadEventArguments) -> None:
                if not await access.may(Permission.EDIT):
                    return
                error.set_visibility(False)
                try:
                    workflow = await services().workflows.import_file(await event.file.read(), by=access.principal())
                except FlowyardError as exc:
                    _show(error, f"Couldn't import {event.file.name}: {_reason(exc)}")
                    upload.reset()
                    return
                ui.notify(f"Imported “{workflow.name}”", type="positive")
                ui.navigate.to(f"/workflows/{workflow.id}")
                dialog.close()

            def refused() -> None:
                _show(error, f"That file can't be imported: choose a .json file of at most {_megabytes(limit)}.")

            upload = ui.upload(
                auto_upload=True,
                max_file_size=limit,
                on_upload=received,
                on_rejected=refused,
                label="Choose a file, or drop it here",
            )
            upload.props('accept=".json,application/json" flat').classes("fy-upload").mark("import-file")
            upload.on("failed", refused)
            error = _error_label()
            with ui.row().classes("fy-dialog__actions"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")

    async def use(self, example: ExampleWorkflow) -> None:
        if not await access.may(Permission.EDIT):
            return
        try:
            workflow = await services().examples.import_example(example.id, by=access.principal())
        except FlowyardError as exc:
            await self.failed(f"Couldn't open the example “{example.name}”", exc)
            return
        ui.navigate.to(f"/workflows/{workflow.id}")

    async def failed(self, what: str, exc: FlowyardError) -> None:
        """A toast for an action that did not happen; if the workflow is gone meanwhile, the list catches up."""
        if isinstance(exc, NotFound):
            ui.notify(f"{what}: it no longer exists.", type="warning")
            await self.reload()
        else:
            ui.notify(f"{what}: {_reason(exc)}", type="negative", multi_line=True)


# --- small pieces --------------------------------------------------------------------------------------------


def _name_input(value: str) -> ui.input:
    rules = {"Give it a name": lambda v: bool((v or "").strip()), f"{NAME_MAX} characters at most": _at_most(NAME_MAX)}
    field = (
        ui.input("Name", value=value, validation=rules).props("outlined autofocus hide-bottom-space").classes("w-full")
    )
    return field.without_auto_validation().mark("name")


def _tags_input(value: list[str], known: list[str]) -> ui.input_chips:
    """Tags as chips: type one and press Enter; the hint names some already in use."""
    field = ui.input_chips("Tags (optional)", value=value, new_value_mode="add-unique")
    hint = "Type a tag and press Enter" + (f" — in use: {', '.join(known[:6])}" if known else "")
    field.props(f"outlined max-values={MAX_TAGS}")
    field.props["hint"] = hint
    return field.classes("w-full").mark("tags")


def _description_input(value: str) -> ui.textarea:
    rules = {f"{DESCRIPTION_MAX} characters at most": _at_most(DESCRIPTION_MAX)}
    field = ui.textarea("Description (optional)", value=value, validation=rules)
    return field.props("outlined autogrow hide-bottom-space").classes("w-full").mark("description")


def _at_most(limit: int) -> Callable[[str | None], bool]:
    return lambda v: len(v or "") <= limit


def _reason(exc: FlowyardError) -> str:
    if isinstance(exc, InvalidInput):
        return exc.message if exc.field in {"file", "document", "format", "version"} else f"{exc.field}: {exc.message}"
    return str(exc)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:g} MB"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "workflow"
