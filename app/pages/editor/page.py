"""The editor page: top bar, palette, canvas and inspector over one draft.

The palette and the inspector fold to a rail (their buttons, `[` and `]`), remembered for the person's next
visits; `+` puts the cursor in the palette's search, where Enter adds the first match.

The canvas (`GraphEditor`) holds the draft graph and its undo history; every edit arrives here as the
whole graph, is checked at once (marks on the steps, a problems count), and is saved as a new version
on Ctrl+S or Save. Running saves first, refuses a draft with problems, then colours the steps live from
the event bus. Who may not edit sees the workflow read-only: no palette, a read-only canvas and inspector, and
no Save; who may not run gets no Run (and saving and running check the role again when asked).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nicegui import app as nicegui_app
from nicegui import background_tasks, ui
from nicegui.events import GenericEventArguments
from pydantic import ValidationError

from app.engine.exceptions import FlowyardError, NotFound
from app.engine.model import RunStatus, WorkflowDefinition
from app.engine.store import AgentRecord
from app.models.people import Permission
from app.pages import access, guard
from app.pages.context import services
from app.pages.credentials import credential_choices
from app.pages.editor.callback_secret import show_callback_secret
from app.pages.editor.history import show_history
from app.pages.editor.inspector import Inspector
from app.pages.editor.run_dialog import announce_run_end, ask_run
from app.pages.editor.settings import show_workflow_settings
from app.pages.layout import frame
from app.pages.tool_choices import tool_choices
from app.pages.workflow_tabs import shown_tabs
from app.services.drafts import RunData
from app.services.graph import definition_to_graph, graph_to_definition, palette_entries, problems_by_node
from components.agent_tools import ToolChoices
from components.graph_editor import GraphEditor
from components.graph_editor.shortcuts import SHORTCUTS, VIEWING_SHORTCUTS
from components.schema_form import CredentialChoices

__all__ = ["PANELS_KEY", "Editor", "register"]

PANELS_KEY = "editor_panels"
"""`app.storage.user`: which side panels of the editor are shown, `{"palette": bool, "inspector": bool}`."""

_PANELS = {"palette": ("the palette", "["), "inspector": ("the inspector", "]")}  # what each is called, its key

# The side panels, open or folded to a rail; on a small screen they are narrower and the top bar's buttons
# show their icons only (their names stay for screen readers and in tooltips).
_LAYOUT_CSS = """
.fy-side { display: flex; height: 100%; flex-shrink: 0; background: var(--fy-surface); }
.fy-side--left { border-right: 1px solid var(--fy-border); }
.fy-side--right { border-left: 1px solid var(--fy-border); }
.fy-side__open { height: 100%; min-height: 0; flex-wrap: nowrap; }
.fy-side__rail { width: 44px; height: 100%; }
.fy-side__head { min-height: 40px; }
.fy-side__title { font-size: 12px; letter-spacing: 0.05em; text-transform: uppercase; color: var(--fy-muted); }
.fy-palette-list { flex: 1 1 auto; min-height: 0; overflow-y: auto; flex-wrap: nowrap; }
.fy-inspector-body { flex: 1 1 auto; min-height: 0; flex-wrap: nowrap; }
@media (max-width: 1279px) {
  .fy-side--left .fy-side__open { width: 14rem; }
  .fy-side--right .fy-side__open .fy-inspector-body { width: 20rem; }
  .fy-editor-bar .fy-bar-action .q-btn__content > .block {
    position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap;
  }
  .fy-editor-bar .fy-bar-action .q-icon.on-left { margin-right: 0; }
}
"""


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
        if workflow.for_agent is not None:  # an agent's own one-step workflow follows the agent: nothing to edit
            with frame(workflow.name):
                with ui.column().classes("w-full items-center gap-3 p-16"):
                    ui.icon("smart_toy", size="48px").classes("text-gray-400")
                    ui.label(
                        f"This workflow runs the agent '{workflow.for_agent}' when it is called directly; "
                        "it changes with the agent."
                    ).classes("text-lg")
                    ui.link("Open the agents", "/agents")
            return
        definition = await services().workflows.definition(workflow_id)
        agents = await services().agents.by_id()
        last = await services().drafts.last_run(workflow_id)
        sample = await services().inputs.first_sample(workflow_id)
        credentials = await credential_choices()
        tools = (await tool_choices()).without(workflow=workflow.id)
        with frame(workflow.name, full_width=True):
            shown = (workflow.id, workflow.name, workflow.version, definition, agents, last)
            Editor(*shown, sample=sample, credentials=credentials, tools=tools)


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
        *,
        sample: Any = None,
        credentials: CredentialChoices | None = None,
        tools: ToolChoices | None = None,
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
        # what runs and trials start from: the last run's input, else the workflow's first sample input
        self.sample_payload: Any = last.payload if last else ({} if sample is None else sample)
        self._watch: asyncio.Task[None] | None = None
        who = access.principal()
        self.may_edit = who.can(Permission.EDIT)
        self.may_run = who.can(Permission.RUN)
        stored = nicegui_app.storage.user.get(PANELS_KEY)
        stored = stored if isinstance(stored, dict) else {}
        self.shown = {panel: bool(stored.get(panel, True)) for panel in _PANELS}
        self._sides: dict[str, tuple[ui.column, ui.column]] = {}
        self._peeking = False  # the palette is open only while `+` searches it
        self._matches: list[dict[str, Any]] = []  # the palette entries the search shows, Enter adds the first
        ui.add_css(_LAYOUT_CSS)

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
                on_add=lambda _: self.add_step(),
                on_panel=lambda e: self.toggle_panel(str(e.args)),
            ).classes("grow h-full min-w-0")
            with self._side("inspector"):
                with ui.row().classes("fy-side__head w-full items-center no-wrap gap-1 pl-3 pr-1"):
                    ui.label("Inspector").classes("fy-side__title grow")
                    self._panel_button("inspector", show=False)
                panel = ui.column().classes("fy-inspector-body w-96 overflow-y-auto px-3 pb-3 gap-2")
        self.inspector = Inspector(self, panel, credentials=credentials, tools=tools)
        self._saved, self._saved_name = _fingerprint(self.canvas.graph), name  # what "Saved" means
        self.revalidate(self.canvas.graph)
        if last:
            self.canvas.set_statuses(dict(last.statuses))
        self.inspector.show()
        ui.context.client.on_disconnect(self._stop_watching)

    # --- top bar ------------------------------------------------------------------------------------------

    def _top_bar(self) -> None:
        with ui.row().classes(
            "fy-editor-bar w-full items-center gap-2 px-3 py-2 border-b border-(--fy-border) no-wrap"
        ):
            self.title = (
                ui.input(value=self.name)
                .props('dense borderless aria-label="Workflow name"')
                .classes("text-lg font-medium w-72")
            )
            if self.may_edit:
                self.title.on_value_change(lambda e: self.mark_dirty() if e.value != self.name else None)
                self.title.on("blur", lambda _: self._renamed())
                self.title.on("keydown.enter", lambda _: self._renamed())
            else:
                self.title.props("readonly")
            self.state = ui.label().classes("text-sm text-gray-500 whitespace-nowrap")
            if not self.may_edit:
                ui.badge("read-only", color="grey-7").props("outline").mark("read-only").tooltip(
                    "Your role may look at this workflow, not change it"
                )
            ui.space()
            self.problems_button = ui.button(on_click=self.show_problem_list).props("flat dense no-caps")
            for label, icon, path in shown_tabs()[1:]:  # the workflow's other pages: how it starts on its own
                ui.button(
                    label, icon=icon, on_click=lambda p=path: ui.navigate.to(f"/workflows/{self.workflow_id}{p}")
                ).props("flat dense no-caps").classes("fy-bar-action").mark(f"open-{label.lower()}").tooltip(label)
            ui.separator().props("vertical")
            ui.button("History", icon="history", on_click=lambda: show_history(self)).props(
                "flat dense no-caps"
            ).classes("fy-bar-action").tooltip("Versions of this workflow")
            if self.may_edit:
                ui.button("Save", icon="save", on_click=self.save).props("flat dense no-caps").classes(
                    "fy-bar-action"
                ).mark("save-workflow").tooltip("Ctrl+S")
            if self.may_run:
                ui.button("Run", icon="play_arrow", on_click=lambda: ask_run(self)).props(
                    "unelevated dense no-caps"
                ).mark("run-workflow").tooltip("Ctrl+Enter")
            with ui.button(icon="more_vert").props('flat dense round aria-label="More actions"'):
                with ui.menu():
                    ui.menu_item("Export JSON", on_click=self._export)
                    if self.may_edit:
                        ui.menu_item("Clone", on_click=self._clone).mark("clone")
                        # the canvas is built after the top bar, hence the late-binding lambdas
                        ui.menu_item("Tidy layout", on_click=lambda: self.canvas.tidy())  # noqa: PLW0108
                        ui.menu_item("Add a sticky note", on_click=lambda: self.canvas.add_note()).mark(  # noqa: PLW0108
                            "add-note-menu"
                        )
                    ui.menu_item("Fit view", on_click=lambda: self.canvas.fit_view())  # noqa: PLW0108
                    ui.menu_item("Callback secret", on_click=lambda: show_callback_secret(self.workflow_id)).mark(
                        "callback-secret-menu"
                    )
                    ui.menu_item("Workflow settings", on_click=lambda: show_workflow_settings(self.workflow_id)).mark(
                        "workflow-settings-menu"
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
        with self._side("palette").classes("w-64"):
            with ui.row().classes("w-full items-center no-wrap gap-1 pl-3 pr-1 pt-3 pb-1"):
                self.search = (
                    ui.input(placeholder="Search agents")
                    .props('dense outlined clearable aria-label="Search agents"')
                    .classes("grow")
                    .mark("palette-search")
                )
                self._panel_button("palette", show=False)
            groups = ui.column().classes("fy-palette-list w-full gap-1 px-3 pb-3")

            def draw() -> None:
                needle = (self.search.value or "").lower()
                groups.clear()
                with groups:
                    shown = [e for e in entries if needle in f"{e['title']} {e['agentId']} {e['kind']}".lower()]
                    self._matches = shown
                    if not shown:
                        ui.label("No agent matches.").classes("text-sm text-gray-500 p-2")
                    elif needle:
                        ui.label(f"Enter adds {shown[0]['title']}").classes("text-xs fy-muted px-2").mark(
                            "palette-enter-hint"
                        )
                    for group in dict.fromkeys(e["group"] for e in shown):
                        ui.label(group).classes("text-xs uppercase tracking-wide text-gray-500 mt-2")
                        for entry in (e for e in shown if e["group"] == group):
                            self._palette_item(entry)

            self.search.on_value_change(lambda _: draw())
            self.search.on("keydown.enter", lambda _: self._add_first_match())
            self.search.on("keydown.escape", lambda _: self._end_search())
            draw()

    # --- side panels --------------------------------------------------------------------------------------

    def _side(self, name: str) -> ui.column:
        """A side panel: the open panel (returned, to fill) and the rail it folds to, with a button to open it."""
        left = name == "palette"
        with ui.element("div").classes(f"fy-side fy-side--{'left' if left else 'right'}").mark(f"{name}-side"):
            opened = ui.column().classes("fy-side__open gap-0")
            with ui.column().classes("fy-side__rail items-center gap-1 py-2") as rail:
                self._panel_button(name, show=True)
                if left:
                    ui.button(icon="add", on_click=self.add_step).props(
                        'flat dense round aria-label="Add a step"'
                    ).tooltip("Add a step (+)").mark("rail-add-step")
        self._sides[name] = (opened, rail)
        self._show_side(name)
        return opened

    def _panel_button(self, name: str, *, show: bool) -> None:
        what, key = _PANELS[name]
        label = f"{'Show' if show else 'Hide'} {what}"
        icon = "chevron_right" if (name == "palette") == show else "chevron_left"
        ui.button(icon=icon, on_click=lambda: self.toggle_panel(name)).props(
            f'flat dense round aria-label="{label}"'
        ).tooltip(f"{label} ({key})").mark(f"{'show' if show else 'hide'}-{name}")

    def _show_side(self, name: str) -> None:
        opened, rail = self._sides[name]
        opened.set_visibility(self.shown[name])
        rail.set_visibility(not self.shown[name])

    def toggle_panel(self, name: str, *, remember: bool = True) -> None:
        """Hide or show a side panel (`palette`, `inspector`); remembered for this person's next visits."""
        if name not in self._sides:  # (who may not edit has no palette)
            return
        self.shown[name] = not self.shown[name]
        self._peeking = False
        self._show_side(name)
        if remember:
            nicegui_app.storage.user[PANELS_KEY] = dict(self.shown)

    def add_step(self) -> None:
        """`+`: the palette's search takes the typing (the palette opens while it does); Enter adds the first match."""
        if not self.may_edit or "palette" not in self._sides:
            return
        if not self.shown["palette"]:
            self.toggle_panel("palette", remember=False)
            self._peeking = True
        # once the palette is on screen (a hidden input takes no focus)
        ui.run_javascript(f"setTimeout(() => runMethod({self.search.id}, 'focus', []), 60)")

    def _add_first_match(self) -> None:
        if not (self.search.value or "").strip() or not self._matches:
            return
        self._add(self._matches[0])
        self.search.set_value(None)
        self._end_search()

    def _end_search(self) -> None:
        """Back to the canvas (its shortcuts act again), folding the palette if `+` opened it."""
        if self._peeking:
            self.toggle_panel("palette", remember=False)
        self.canvas.focus()

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
            ui.button(icon="add", on_click=lambda: self._add(entry)).props(
                'flat dense round size=sm aria-label="Add to the canvas"'
            ).tooltip("Add to the canvas")

    def _add(self, entry: dict[str, Any]) -> None:
        if not access.allowed(Permission.EDIT):
            return
        key = self.canvas.add_node(entry)
        self.canvas.select_node(key)

    # --- edits and checks -----------------------------------------------------------------------------------------

    def _changed(self, event: GenericEventArguments) -> None:
        # unsaved: unlike what was saved (an edit confirmed after the save that included it is no change), or typed
        unsaved = _fingerprint(event.args) != self._saved or self.name != self._saved_name
        self._set_dirty(unsaved or self.inspector.has_pending())
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
        self._set_dirty(True)

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
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
                        .classes("items-center gap-2 no-wrap cursor-pointer p-1 rounded")
                        .classes("hover:bg-gray-100 dark:hover:bg-neutral-800")
                        .on("click", focus)
                    ):
                        ui.icon("error_outline").classes("text-negative")
                        ui.label(message).classes("text-sm")
            for message in self.problem_list:
                if not any(message in m for m in self.problems.values()):
                    with ui.row().classes("items-center gap-2 no-wrap p-1"):
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
        self._saved, self._saved_name = _fingerprint(self.canvas.graph), self.name
        self._show_state()
        ui.notify(f"Saved as version {self.version}", type="positive", timeout=1500)
        return True

    def replace(self, definition: WorkflowDefinition, *, version: int) -> None:
        """Show `definition` (saved as `version`) instead of the draft: a restored version."""
        self.inspector.discard_pending()  # (the person chose to drop unsaved edits, typed ones too)
        self.canvas.set_graph(definition_to_graph(definition, self.agents))
        self.canvas.fit_view()
        self.version, self.dirty, self.inspector.selected = version, False, None
        self._saved = _fingerprint(self.canvas.graph)
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
                            await self._run_ended(run_id, event.status)
                            if event.status != RunStatus.PAUSED:
                                return

        self._watch = background_tasks.create(follow(), name=f"watch {run_id}")

    async def _run_ended(self, run_id: str, status: str) -> None:
        self.last = await services().drafts.last_run(self.workflow_id)
        if status != RunStatus.PAUSED:  # the steps it never reached will not run: not "Queued" any more
            nodes = self.canvas.graph.get("nodes", [])
            unreached: dict[str, str | None] = {
                n["id"]: "SKIPPED" for n in nodes if (n.get("data") or {}).get("status") == "PENDING"
            }
            if unreached:
                self.canvas.set_statuses(unreached)
        await announce_run_end(run_id, status)
        if self.inspector.selected is not None and not self.inspector.has_pending():  # (never under typing)
            self.inspector.show()

    def _stop_watching(self) -> None:
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()
        self._watch = None


def _fingerprint(graph: dict[str, Any]) -> str:
    """The graph as it would be saved (no run statuses or problem marks), to tell an edit from what was saved."""
    try:
        return graph_to_definition(graph).model_dump_json()
    except (ValidationError, KeyError, TypeError, ValueError):
        return json.dumps(graph, sort_keys=True, default=str)
