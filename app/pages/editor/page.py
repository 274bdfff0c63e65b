"""The editor page: top bar, palette, canvas and inspector over one draft.

The canvas (`GraphEditor`) holds the draft graph and its undo history; every edit arrives here as the
whole graph, is checked at once (marks on the steps, a problems count), and is saved as a new version
on Ctrl+S or Save. Running saves first, refuses a draft with problems, then colours the steps live from
the event bus. Who may not edit sees the workflow read-only: no palette, a read-only canvas and inspector, and
no Save; who may not run gets no Run (and saving and running check the role again when asked).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from nicegui import background_tasks, ui
from nicegui.events import GenericEventArguments
from pydantic import ValidationError

from app.engine.exceptions import FlowyardError, NotFound
from app.engine.model import RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord
from app.models.people import Permission
from app.pages import access, guard
from app.pages.context import services
from app.pages.editor.callback_secret import show_callback_secret
from app.pages.editor.history import show_history
from app.pages.editor.inspector import Inspector
from app.pages.editor.run_dialog import ask_run
from app.pages.layout import frame
from app.pages.workflow_tabs import shown_tabs
from app.services.drafts import RunData
from app.services.graph import definition_to_graph, graph_to_definition, palette_entries, problems_by_node
from components.graph_editor import GraphEditor
from components.graph_editor.shortcuts import SHORTCUTS, VIEWING_SHORTCUTS

__all__ = ["Editor", "register"]


def register() -> None:
    @guard.page("/workflows/{workflow_id}", Permission.VIEW_WORKFLOWS)
    async def editor_page(workflow_id: str) -> None:
        try:
            workflow = await services().workflows.get(workflow_id)
        except NotFound:
            with frame("Workflow not found"):
                with ui.column().classes("w-full items-center gap-3 p-16"):
                    ui.icon("search_off", size="48px").classes("text-gray-400")
                    ui.label(f"There is no workflow '{workflow_id}'.").classes("text-lg")
                    ui.link("Back to workflows", "/workflows")
            return
        definition = await services().workflows.definition(workflow_id)
        agents = await services().agents.by_id()
        last = await services().drafts.last_run(workflow_id)
        with frame(workflow.name, full_width=True):
            Editor(workflow.id, workflow.name, workflow.version, definition, agents, last)


class Editor:
    """One open editor: the draft, its checks, saving and running; the inspector edits its selected step."""

    def __init__(
        self,
        workflow_id: str,
        name: str,
        version: int,
        definition: WorkflowDefinition,
        agents: dict[str, AgentRecord],
        last: RunData | None,
    ) -> None:
        self.workflow_id = workflow_id
        self.name = name
        self.version = version
        self.agents = agents
        self.last = last
        self.dirty = False
        self.problems: dict[str, list[str]] = {}
        self.problem_list: list[str] = []
        self._generation = 0  # counts checks, so a slower check of an older draft is not shown
        self.sample_payload: Any = last.payload if last else {}
        self._watch: asyncio.Task[None] | None = None
        who = access.principal()
        self.may_edit = who.can(Permission.EDIT)
        self.may_run = who.can(Permission.RUN)

        self._top_bar()
        with ui.row().classes("w-full grow no-wrap gap-0 items-stretch").style("height: calc(100vh - 120px)"):
            if self.may_edit:
                self._palette()
            self.canvas = GraphEditor(
                definition_to_graph(definition, agents),
                palette=palette_entries(agents),
                readonly=not self.may_edit,
                on_change=self._changed,
                on_select=self._selected,
                on_save=lambda _: self.save(),
                on_run=lambda _: ask_run(self),
                on_help=lambda _: self._shortcuts(),
            ).classes("grow h-full")
            panel = ui.column().classes(
                "w-96 h-full overflow-y-auto border-l border-(--fy-border) p-3 gap-2 bg-white dark:bg-neutral-900"
            )
        self.inspector = Inspector(self, panel)
        self.revalidate(self.canvas.graph)
        if last:
            self.canvas.set_statuses(dict(last.statuses))
        self.inspector.show()
        ui.context.client.on_disconnect(self._stop_watching)

    # --- top bar ------------------------------------------------------------------------------------------

    def _top_bar(self) -> None:
        with ui.row().classes("w-full items-center gap-2 px-3 py-2 border-b border-(--fy-border) no-wrap"):
            self.title = ui.input(value=self.name).props("dense borderless").classes("text-lg font-medium w-72")
            if self.may_edit:
                self.title.on("blur", lambda _: self._renamed())
                self.title.on("keydown.enter", lambda _: self._renamed())
            else:
                self.title.props("readonly")
            self.state = ui.label().classes("text-sm text-gray-500")
            if not self.may_edit:
                ui.badge("read-only", color="grey-7").props("outline").mark("read-only").tooltip(
                    "Your role may look at this workflow, not change it"
                )
            ui.space()
            self.problems_button = ui.button(on_click=self.show_problem_list).props("flat dense no-caps")
            for label, icon, path in shown_tabs()[1:]:  # the workflow's other pages: how it starts on its own
                ui.button(
                    label, icon=icon, on_click=lambda p=path: ui.navigate.to(f"/workflows/{self.workflow_id}{p}")
                ).props("flat dense no-caps").mark(f"open-{label.lower()}")
            ui.separator().props("vertical")
            ui.button("History", icon="history", on_click=lambda: show_history(self)).props("flat dense no-caps")
            if self.may_edit:
                ui.button("Save", icon="save", on_click=self.save).props("flat dense no-caps").mark(
                    "save-workflow"
                ).tooltip("Ctrl+S")
            if self.may_run:
                ui.button("Run", icon="play_arrow", on_click=lambda: ask_run(self)).props(
                    "unelevated dense no-caps"
                ).mark("run-workflow").tooltip("Ctrl+Enter")
            with ui.button(icon="more_vert").props("flat dense round"):
                with ui.menu():
                    ui.menu_item("Export JSON", on_click=self._export)
                    if self.may_edit:
                        ui.menu_item("Clone", on_click=self._clone).mark("clone")
                        # the canvas is built after the top bar, hence the late-binding lambdas
                        ui.menu_item("Tidy layout", on_click=lambda: self.canvas.tidy())  # noqa: PLW0108
                    ui.menu_item("Fit view", on_click=lambda: self.canvas.fit_view())  # noqa: PLW0108
                    ui.menu_item("Callback secret", on_click=lambda: show_callback_secret(self.workflow_id)).mark(
                        "callback-secret-menu"
                    )
                    ui.menu_item("Keyboard shortcuts", on_click=self._shortcuts)
        self._show_state(initial=True)

    def _show_state(self, *, initial: bool = False) -> None:
        self.state.set_text("Unsaved changes" if self.dirty else f"Saved · v{self.version}")
        self.state.classes(replace="text-sm " + ("text-amber-600" if self.dirty else "text-gray-500"))
        if not initial:  # (running JavaScript while the page is being built would send it half-built)
            leave_warning = "() => true" if self.dirty else "null"
            ui.run_javascript(f"window.onbeforeunload = {leave_warning};")

    def _renamed(self) -> None:
        value = (self.title.value or "").strip()
        if not value:
            self.title.value = self.name
            ui.notify("A workflow needs a name", type="warning")
            return
        if value != self.name:
            self.name = value
            self.mark_dirty()

    # --- palette --------------------------------------------------------------------------------------------

    def _palette(self) -> None:
        entries = palette_entries(self.agents)
        with ui.column().classes(
            "w-64 h-full overflow-y-auto border-r border-(--fy-border) p-3 gap-1 bg-white dark:bg-neutral-900"
        ):
            search = ui.input(placeholder="Search agents").props("dense outlined clearable").classes("w-full")
            groups = ui.column().classes("w-full gap-1")

            def draw() -> None:
                needle = (search.value or "").lower()
                groups.clear()
                with groups:
                    shown = [e for e in entries if needle in f"{e['title']} {e['agentId']} {e['kind']}".lower()]
                    if not shown:
                        ui.label("No agent matches.").classes("text-sm text-gray-500 p-2")
                    for group in dict.fromkeys(e["group"] for e in shown):
                        ui.label(group).classes("text-xs uppercase tracking-wide text-gray-500 mt-2")
                        for entry in (e for e in shown if e["group"] == group):
                            self._palette_item(entry)

            search.on_value_change(lambda _: draw())
            draw()

    def _palette_item(self, entry: dict[str, Any]) -> None:
        item = ui.row().classes(
            "w-full items-center gap-2 px-2 py-1 rounded cursor-grab no-wrap"
            " hover:bg-gray-100 dark:hover:bg-neutral-800"
        )
        GraphEditor.make_draggable(item, entry).tooltip(entry["description"])
        with item:
            ui.icon(entry["icon"]).classes("text-primary")
            with ui.column().classes("gap-0 grow"):
                ui.label(entry["title"]).classes("text-sm")
                ui.label(entry["agentId"]).classes("text-xs font-mono text-gray-500")
            ui.button(icon="add", on_click=lambda: self._add(entry)).props("flat dense round size=sm").tooltip(
                "Add to the canvas"
            )

    def _add(self, entry: dict[str, Any]) -> None:
        if not access.allowed(Permission.EDIT):
            return
        key = self.canvas.add_node(entry)
        self.canvas.select_node(key)

    # --- edits and checks -----------------------------------------------------------------------------------------

    def _changed(self, event: GenericEventArguments) -> None:
        self.mark_dirty()
        self.revalidate(event.args)
        if self.inspector.changed_elsewhere():  # an edit from elsewhere (undo, canvas): refresh
            self.inspector.forget_missing()
            self.inspector.show()

    @property
    def panel(self) -> Inspector:
        return self.inspector

    def _selected(self, event: GenericEventArguments) -> None:
        self.inspector.select((event.args or {}).get("nodes") or [])

    def mark_dirty(self) -> None:
        if not self.dirty:
            self.dirty = True
            self._show_state()

    def definition(self, graph: dict[str, Any] | None = None) -> WorkflowDefinition | None:
        """The draft as a definition, or None when a step has a malformed key or setting."""
        try:
            return graph_to_definition(graph or self.canvas.graph)
        except (ValidationError, KeyError, TypeError, ValueError):
            return None

    def revalidate(self, graph: dict[str, Any]) -> None:
        self._generation += 1
        definition = self.definition(graph)
        if definition is None:
            self.problem_list = ["a step has a malformed key or setting"]
            self.problems = {}
        else:
            drafts = services().drafts
            found = drafts.check(definition, self.agents)
            self.problem_list = [p.message for p in found]
            self.problems = problems_by_node(found)
            if drafts.runs_workflows(definition, self.agents):
                # what the workflows it runs allow (missing, or running this one) needs the database
                background_tasks.create(self._check_references(definition, self._generation))
        self._show_validation()

    async def _check_references(self, definition: WorkflowDefinition, generation: int) -> None:
        found = await services().drafts.problems(self.workflow_id, definition)
        if generation != self._generation:  # edited since: that edit's check is the one to show
            return
        self.problem_list = [p.message for p in found]
        self.problems = problems_by_node(found)
        self._show_validation()

    def _show_validation(self) -> None:
        self.canvas.set_problems(self.problems)
        count = len(self.problem_list)
        self.problems_button.set_text(f"{count} problem{'s' if count != 1 else ''}" if count else "No problems")
        self.problems_button.props(f"icon={'error_outline' if count else 'check_circle'}")
        self.problems_button.classes(replace="text-negative" if count else "text-positive")
        self.inspector.show_problems()

    def show_problem_list(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("min-w-[28rem]"):
            ui.label("Problems").classes("text-lg font-medium")
            if not self.problem_list:
                ui.label("The workflow can run.").classes("text-positive")
            for key, messages in self.problems.items():
                for message in messages:

                    def focus(key: str = key) -> None:
                        dialog.close()
                        self.canvas.select_node(key)

                    with (
                        ui.row()
                        .classes("items-center gap-2 cursor-pointer hover:bg-gray-100 p-1 rounded")
                        .on("click", focus)
                    ):
                        ui.icon("error_outline").classes("text-negative")
                        ui.label(message).classes("text-sm")
            for message in self.problem_list:
                if not any(message in m for m in self.problems.values()):
                    with ui.row().classes("items-center gap-2 p-1"):
                        ui.icon("error_outline").classes("text-negative")
                        ui.label(message).classes("text-sm")
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
        dialog.open()

    # --- saving and the menu ----------------------------------------------------------------------------------------

    async def save(self) -> bool:
        if not await access.may(Permission.EDIT):
            return False
        self.inspector.apply_pending()
        definition = self.definition()
        if definition is None:
            ui.notify("A step has a malformed key or setting; fix it before saving", type="negative")
            return False
        try:
            workflow = await services().workflows.save_definition(
                self.workflow_id, definition, name=self.name, by=access.principal()
            )
        except FlowyardError as exc:
            ui.notify(f"Not saved: {exc}", type="negative")
            return False
        self.version, self.dirty = workflow.version, False
        self._show_state()
        ui.notify(f"Saved as version {self.version}", type="positive", timeout=1500)
        return True

    def replace(self, definition: WorkflowDefinition, *, version: int) -> None:
        """Show `definition` (saved as `version`) instead of the draft: a restored version."""
        self.canvas.set_graph(definition_to_graph(definition, self.agents))
        self.version, self.dirty, self.inspector.selected = version, False, None
        self.revalidate(self.canvas.graph)
        self._show_state()
        self.inspector.show()

    async def _export(self) -> None:
        document = await services().workflows.export(self.workflow_id)
        ui.download.content(document.model_dump_json(indent=2), f"{self.name}.flowyard.json", "application/json")

    async def _clone(self) -> None:
        if not await access.may(Permission.EDIT):
            return
        copy = await services().workflows.clone(self.workflow_id, by=access.principal())
        ui.navigate.to(f"/workflows/{copy.id}")

    def _shortcuts(self) -> None:
        with ui.context.client.content, ui.dialog() as dialog, ui.card():
            ui.label("Keyboard shortcuts").classes("text-lg font-medium")
            for keys, action in SHORTCUTS if self.may_edit else VIEWING_SHORTCUTS:
                with ui.row().classes("w-full gap-4"):
                    ui.label(keys).classes("font-mono w-44")
                    ui.label(action)
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
        dialog.open()

    # --- following a run --------------------------------------------------------------------------------------------

    def watch(self, run_id: str) -> None:
        """Colour the canvas live from the event bus until the run ends (or the page closes)."""
        self._stop_watching()
        self.canvas.set_statuses({n["id"]: "PENDING" for n in self.canvas.graph.get("nodes", [])})
        client = ui.context.client

        async def follow() -> None:
            async with services().bus.subscribe() as events:
                async for event in events:
                    if event.run_id != run_id:
                        continue
                    with client:
                        if event.node_key:
                            self.canvas.set_statuses({event.node_key: event.status})
                        elif RunStatus(event.status).is_terminal or event.status == RunStatus.PAUSED:
                            await self._run_ended(event.status)
                            if event.status != RunStatus.PAUSED:
                                return

        self._watch = background_tasks.create(follow(), name=f"watch {run_id}")

    async def _run_ended(self, status: str) -> None:
        self.last = await services().drafts.last_run(self.workflow_id)
        kinds: dict[str, Literal["positive", "negative", "warning"]] = {
            "COMPLETED": "positive",
            "FAILED": "negative",
            "PAUSED": "warning",
        }
        ui.notify(f"Run {status.lower()}", type=kinds.get(status, "info"))
        if self.inspector.selected is not None:
            self.inspector.show()

    def _stop_watching(self) -> None:
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
        self._watch = None
