"""The workflow editor (`/workflows/{id}`): palette, canvas and inspector over one draft.

The canvas (`GraphEditor`) holds the draft graph and its undo history; every edit arrives here as the
whole graph, is validated at once (marks on the nodes, a problems count), and is saved as a new
version on Ctrl+S or Save. Running saves first, refuses an invalid draft with its problems, then
colours the nodes live from the event bus.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Literal

from nicegui import background_tasks, ui
from nicegui.events import GenericEventArguments
from pydantic import ValidationError

from app.agents import registry
from app.engine import mapping
from app.engine.exceptions import FlowyardError, InputInvalid, NotFound, WorkflowInvalid
from app.engine.inputs import form_schema, workflow_input_schemas
from app.engine.model import NODE_KEY, RunStatus, Trigger, WorkflowDefinition
from app.engine.plan import validate
from app.engine.store import AgentRecord
from app.engine.trial import preview
from app.pages.context import flowyard
from app.pages.layout import frame
from app.pages.workflow_tabs import TABS
from app.services import RunData
from app.workflow_graph import definition_to_graph, graph_to_definition, node_data, palette_entries, problems_by_node
from components.graph_editor import GraphEditor
from components.schema_form import SchemaForm
from components.template_editor import TemplateEditor

__all__ = ["register"]

SHORTCUTS = [
    ("Delete / Backspace", "delete the selection"),
    ("Ctrl+C / Ctrl+V", "copy and paste nodes"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo and redo"),
    ("Ctrl+S", "save"),
    ("Ctrl+Enter", "run"),
    ("Ctrl+A", "select all"),
    ("Shift+drag", "box select"),
    ("Shift+Alt+T", "tidy the layout"),
    ("?", "this list"),
]


def register() -> None:
    @ui.page("/workflows/{workflow_id}")
    async def editor_page(workflow_id: str) -> None:
        try:
            workflow = await flowyard().get_workflow(workflow_id)
        except NotFound:
            with frame("Workflow not found"):
                with ui.column().classes("w-full items-center gap-3 p-16"):
                    ui.icon("search_off", size="48px").classes("text-gray-400")
                    ui.label(f"There is no workflow '{workflow_id}'.").classes("text-lg")
                    ui.link("Back to workflows", "/workflows")
            return
        definition = await flowyard().definition(workflow_id)
        agents = await flowyard().agents_by_id()
        last = await flowyard().last_run_data(workflow_id)
        with frame(workflow.name, full_width=True):
            Editor(workflow.id, workflow.name, workflow.version, definition, agents, last)


class Editor:
    """One open editor: the draft, its validation, saving, running and the inspector."""

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
        self.selected: str | None = None
        self.problems: dict[str, list[str]] = {}
        self.problem_list: list[str] = []
        self._generation = 0  # counts validations, so a slower check of an older draft is not shown
        self.sample_payload: Any = last.payload if last else {}
        self.watch: asyncio.Task[None] | None = None
        self._inspected: str | None = None
        self._unapplied: list[Callable[[], None]] = []  # the inspector's code editors: apply typed text
        self._tab = "Settings"  # the inspector's tab, kept when it is redrawn (an undo, another node)
        self._problem_box: ui.column | None = None  # the selected node's problems, kept current by validation

        self._top_bar()
        with ui.row().classes("w-full grow no-wrap gap-0 items-stretch").style("height: calc(100vh - 120px)"):
            self._palette()
            self.canvas = GraphEditor(
                definition_to_graph(definition, agents),
                palette=palette_entries(agents),
                on_change=self._changed,
                on_select=self._selected,
                on_save=lambda _: self.save(),
                on_run=lambda _: self.ask_run(),
                on_help=lambda _: self._shortcuts(),
            ).classes("grow h-full")
            self.inspector = ui.column().classes(
                "w-96 h-full overflow-y-auto border-l border-(--fy-border) p-3 gap-2 bg-white dark:bg-neutral-900"
            )
        self._revalidate(self.canvas.graph)
        if last:
            self.canvas.set_statuses(dict(last.statuses))
        self._show_inspector()
        ui.context.client.on_disconnect(self._stop_watching)

    # --- top bar ------------------------------------------------------------------------------------------

    def _top_bar(self) -> None:
        with ui.row().classes("w-full items-center gap-2 px-3 py-2 border-b border-(--fy-border) no-wrap"):
            self.title = ui.input(value=self.name).props("dense borderless").classes("text-lg font-medium w-72")
            self.title.on("blur", lambda _: self._renamed())
            self.title.on("keydown.enter", lambda _: self._renamed())
            self.state = ui.label().classes("text-sm text-gray-500")
            ui.space()
            self.problems_button = ui.button(on_click=self._show_problems).props("flat dense no-caps")
            for label, icon, path in TABS[1:]:  # the workflow's other pages: how it starts on its own
                ui.button(
                    label, icon=icon, on_click=lambda p=path: ui.navigate.to(f"/workflows/{self.workflow_id}{p}")
                ).props("flat dense no-caps").mark(f"open-{label.lower()}")
            ui.separator().props("vertical")
            ui.button("History", icon="history", on_click=self._history).props("flat dense no-caps")
            ui.button("Save", icon="save", on_click=self.save).props("flat dense no-caps").tooltip("Ctrl+S")
            ui.button("Run", icon="play_arrow", on_click=self.ask_run).props("unelevated dense no-caps").mark(
                "run-workflow"
            ).tooltip("Ctrl+Enter")
            with ui.button(icon="more_vert").props("flat dense round"):
                with ui.menu():
                    ui.menu_item("Export JSON", on_click=self._export)
                    ui.menu_item("Clone", on_click=self._clone)
                    # the canvas is built after the top bar, hence the late-binding lambdas
                    ui.menu_item("Tidy layout", on_click=lambda: self.canvas.tidy())  # noqa: PLW0108
                    ui.menu_item("Fit view", on_click=lambda: self.canvas.fit_view())  # noqa: PLW0108
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
            self._mark_dirty()

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
        key = self.canvas.add_node(entry)
        self.canvas.select_node(key)

    # --- edits and validation ------------------------------------------------------------------------------------

    def _changed(self, event: GenericEventArguments) -> None:
        self._mark_dirty()
        self._revalidate(event.args)
        if self._snapshot(self.selected) != self._inspected:  # an edit from elsewhere (undo, canvas): refresh
            if self.selected is not None and self._node(self.selected) is None:
                self.selected = None
            self._show_inspector()

    def _snapshot(self, key: str | None) -> str | None:
        """The selected node's settings as the inspector shows them, to tell its own edits from others."""
        node = self._node(key) if key else None
        if node is None:
            return None
        data = {k: v for k, v in node["data"].items() if k not in ("status", "problems")}
        return json.dumps([node["id"], data], sort_keys=True, default=str)

    def _mark_dirty(self) -> None:
        if not self.dirty:
            self.dirty = True
            self._show_state()

    def _definition(self, graph: dict[str, Any] | None = None) -> WorkflowDefinition | None:
        try:
            return graph_to_definition(graph or self.canvas.graph)
        except (ValidationError, KeyError, TypeError, ValueError):
            return None

    def _revalidate(self, graph: dict[str, Any]) -> None:
        self._generation += 1
        definition = self._definition(graph)
        if definition is None:
            self.problem_list = ["a node has a malformed key or setting"]
            self.problems = {}
        else:
            found = validate(definition, self.agents)
            self.problem_list = [p.message for p in found]
            self.problems = problems_by_node(found)
            if any(self.agents[n.agent_id].kind == "workflow" for n in definition.nodes if n.agent_id in self.agents):
                # what the workflows it runs allow (missing, or running this one) needs the database
                background_tasks.create(self._check_references(definition, self._generation))
        self._show_validation()

    async def _check_references(self, definition: WorkflowDefinition, generation: int) -> None:
        found = await flowyard().problems(self.workflow_id, definition)
        if generation != self._generation:  # edited since: that edit's validation is the one to show
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
        if self._problem_box is not None and self.selected is not None:
            self._show_node_problems(self.selected)

    def _show_node_problems(self, key: str) -> None:
        if self._problem_box is None:
            return
        messages = self.problems.get(key, [])
        self._problem_box.clear()
        self._problem_box.set_visibility(bool(messages))  # (empty, it would still take a gap)
        with self._problem_box:
            for message in messages:
                ui.label(message).classes("text-xs text-negative")

    def _show_problems(self) -> None:
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

    # --- saving ---------------------------------------------------------------------------------------------------

    async def save(self) -> bool:
        self._apply_pending()
        definition = self._definition()
        if definition is None:
            ui.notify("A node has a malformed key or setting; fix it before saving", type="negative")
            return False
        try:
            workflow = await flowyard().save_definition(self.workflow_id, definition, name=self.name)
        except FlowyardError as exc:
            ui.notify(f"Not saved: {exc}", type="negative")
            return False
        self.version, self.dirty = workflow.version, False
        self._show_state()
        ui.notify(f"Saved as version {self.version}", type="positive", timeout=1500)
        return True

    async def _history(self) -> None:
        versions = await flowyard().versions(self.workflow_id)
        with ui.dialog() as dialog, ui.card().classes("min-w-[30rem]"):
            ui.label("Version history").classes("text-lg font-medium")
            if not versions:
                ui.label("Nothing saved yet.").classes("text-gray-500")
            for info in versions:
                with ui.row().classes("w-full items-center gap-3"):
                    ui.label(f"v{info.version}").classes("font-mono w-12")
                    ui.label(info.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")).classes("text-sm text-gray-600")
                    ui.label(f"{info.nodes} nodes").classes("text-sm text-gray-500")
                    ui.space()

                    async def view(version: int = info.version) -> None:
                        dialog.close()
                        await self._view_version(version)

                    async def restore(version: int = info.version) -> None:
                        dialog.close()
                        await self._restore(version)

                    ui.button("View", icon="visibility", on_click=view).props("flat dense no-caps").mark(
                        f"view-v{info.version}"
                    )
                    ui.button("Restore", icon="restore", on_click=restore).props("flat dense no-caps")
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
        dialog.open()

    async def _view_version(self, version: int) -> None:
        """An older version on a read-only canvas, to look at before restoring it."""
        definition = await flowyard().version_definition(self.workflow_id, version)
        info = next((v for v in await flowyard().versions(self.workflow_id) if v.version == version), None)
        with (
            ui.dialog().props("maximized transition-show=none transition-hide=none") as dialog,  # measured unscaled
            ui.card().classes("w-full h-full p-0 gap-0"),
        ):
            with ui.row().classes("w-full items-center gap-3 px-4 py-2 border-b border-(--fy-border)"):
                ui.icon("history").classes("text-xl text-primary")
                ui.label(f"{self.name} — version {version}").classes("text-lg font-medium")
                if info is not None:
                    ui.label(f"saved {info.created_at.strftime('%Y-%m-%d %H:%M:%S UTC')} · {info.nodes} nodes").classes(
                        "text-sm text-gray-500"
                    )
                ui.badge("read-only", color="grey-7").props("outline")
                ui.space()

                async def restore() -> None:
                    dialog.close()
                    await self._restore(version)

                ui.button("Restore this version", icon="restore", on_click=restore).props("unelevated no-caps")
                ui.button("Close", on_click=dialog.close).props("flat no-caps").mark("close-version")
            GraphEditor(definition_to_graph(definition, self.agents), readonly=True).classes("w-full grow").mark(
                "version-canvas"
            )
        dialog.on("hide", dialog.delete)
        dialog.open()

    async def _restore(self, version: int) -> None:
        if self.dirty:  # restoring replaces the canvas: unsaved edits would be lost silently
            with ui.dialog() as confirm, ui.card():
                ui.label(f"Restore version {version}?").classes("text-lg font-medium")
                ui.label("Your unsaved changes will be lost.").classes("text-sm")
                with ui.row().classes("w-full justify-end"):
                    ui.button("Keep editing", on_click=lambda: confirm.submit(False)).props("flat no-caps")
                    ui.button("Discard and restore", on_click=lambda: confirm.submit(True)).props(
                        "unelevated no-caps color=negative"
                    )
            if not await confirm:
                return
        workflow = await flowyard().restore_version(self.workflow_id, version)
        definition = await flowyard().definition(self.workflow_id)
        self.canvas.set_graph(definition_to_graph(definition, self.agents))
        self.version, self.dirty, self.selected = workflow.version, False, None
        self._revalidate(self.canvas.graph)
        self._show_state()
        self._show_inspector()
        ui.notify(f"Restored version {version} as version {workflow.version}", type="positive")

    async def _export(self) -> None:
        document = await flowyard().export_workflow(self.workflow_id)
        ui.download.content(document.model_dump_json(indent=2), f"{self.name}.flowyard.json", "application/json")

    async def _clone(self) -> None:
        copy = await flowyard().clone_workflow(self.workflow_id)
        ui.navigate.to(f"/workflows/{copy.id}")

    def _shortcuts(self) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label("Keyboard shortcuts").classes("text-lg font-medium")
            for keys, action in SHORTCUTS:
                with ui.row().classes("w-full gap-4"):
                    ui.label(keys).classes("font-mono w-44")
                    ui.label(action)
            ui.button("Close", on_click=dialog.close).props("flat no-caps")
        dialog.open()

    # --- running ---------------------------------------------------------------------------------------------------

    async def ask_run(self) -> None:
        self._apply_pending()
        if self.problem_list:
            ui.notify(f"Cannot run: {len(self.problem_list)} problem(s) to fix first", type="negative")
            self._show_problems()
            return
        definition = self._definition()
        schema = form_schema(workflow_input_schemas(definition, self.agents) if definition else [])
        with ui.dialog() as dialog, ui.card().classes("min-w-[32rem]"):
            ui.label("Run workflow").classes("text-lg font-medium")
            form: SchemaForm | None = None
            editor: ui.codemirror | None = None
            if schema is not None:  # the entry step says what it takes: a form for it
                ui.label("Input for the first step").classes("text-sm text-gray-500")
                sample = self.sample_payload if isinstance(self.sample_payload, dict) else {}
                form = SchemaForm(schema, sample).mark("run-form")
            else:  # any JSON value
                ui.label("Input passed to the first step (JSON, or plain text)").classes("text-sm text-gray-500")
                text = json.dumps(self.sample_payload, indent=2) if self.sample_payload is not None else ""
                editor = ui.codemirror(text, language="JSON").classes("w-full h-48 border border-(--fy-border) rounded")
            error = ui.label().classes("text-sm text-negative").mark("run-error")

            async def start() -> None:
                payload: Any
                if form is not None:
                    payload = dict(form.value)
                else:
                    assert editor is not None
                    raw = editor.value.strip()
                    try:
                        payload = json.loads(raw) if raw else None
                    except json.JSONDecodeError:
                        payload = raw
                if self.dirty and not await self.save():
                    return
                try:
                    run = await flowyard().start_run(self.workflow_id, input=payload, trigger=Trigger.UI)
                except WorkflowInvalid as exc:
                    error.set_text("; ".join(p.message for p in exc.problems))
                    return
                except InputInvalid as exc:
                    if form is not None:
                        form.show_errors(dict(exc.problems))
                    error.set_text(f"The input does not fit the first step: {exc}")
                    return
                except FlowyardError as exc:
                    error.set_text(str(exc))
                    return
                dialog.close()
                self.sample_payload = payload
                self._watch(run.id)
                ui.notify(
                    f'Run started — <a class="fy-notify-link" href="/runs/{run.id}">open its page</a>',
                    html=True,
                    color="primary",
                    timeout=4000,
                )

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Run", icon="play_arrow", on_click=start).props("unelevated no-caps").mark("start-run")
        dialog.open()

    def _watch(self, run_id: str) -> None:
        """Colour the canvas live from the event bus until the run ends (or the page closes)."""
        self._stop_watching()
        self.canvas.set_statuses({n["id"]: "PENDING" for n in self.canvas.graph.get("nodes", [])})
        client = ui.context.client

        async def follow() -> None:
            async with flowyard().bus.subscribe() as events:
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

        self.watch = background_tasks.create(follow(), name=f"watch {run_id}")

    async def _run_ended(self, run_id: str, status: str) -> None:
        self.last = await flowyard().last_run_data(self.workflow_id)
        kinds: dict[str, Literal["positive", "negative", "warning"]] = {
            "COMPLETED": "positive",
            "FAILED": "negative",
            "PAUSED": "warning",
        }
        ui.notify(f"Run {status.lower()}", type=kinds.get(status, "info"))
        if self.selected is not None:
            self._show_inspector()

    def _stop_watching(self) -> None:
        if self.watch is not None and not self.watch.done():
            self.watch.cancel()
        self.watch = None

    # --- inspector ----------------------------------------------------------------------------------------------------

    def _selected(self, event: GenericEventArguments) -> None:
        nodes = (event.args or {}).get("nodes") or []
        self.selected = nodes[0] if len(nodes) == 1 else None
        self._show_inspector()

    def _node(self, key: str) -> dict[str, Any] | None:
        return next((n for n in self.canvas.graph.get("nodes", []) if n["id"] == key), None)

    def _show_inspector(self) -> None:
        self._apply_pending()
        self._unapplied = []
        self.inspector.clear()
        self._problem_box = None
        node = self._node(self.selected) if self.selected else None
        self._inspected = self._snapshot(self.selected)
        with self.inspector:
            if node is None:
                ui.label("Select a node to edit it").classes("text-gray-500 text-sm mt-8 self-center")
                ui.label("Drag agents from the palette onto the canvas, then connect them.").classes(
                    "text-gray-400 text-xs self-center text-center"
                )
                return
            key, data = node["id"], node["data"]
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon(data.get("icon") or "extension").classes("text-primary text-xl")
                ui.label(data.get("title") or key).classes("text-base font-medium grow")
            self._problem_box = ui.column().classes("w-full gap-1")
            self._show_node_problems(key)
            with ui.tabs().classes("w-full").props("dense no-caps") as tabs:
                settings, inputs, output, trial = (ui.tab(n) for n in ("Settings", "Input", "Output", "Try"))
            with ui.tab_panels(tabs, value=self._tab).classes("w-full").props("animated=false"):
                with ui.tab_panel(settings).classes("p-0 gap-2"):
                    self._settings(key, data)
                with ui.tab_panel(inputs).classes("p-0 gap-2"):
                    self._input(key, data)
                with ui.tab_panel(output).classes("p-0 gap-2"):
                    self._output(key)
                with ui.tab_panel(trial).classes("p-0 gap-2"):
                    self._try(key)
            tabs.on_value_change(lambda e: setattr(self, "_tab", e.value))

    def _update(self, key: str, data: dict[str, Any]) -> None:
        self.canvas.update_node(key, data)
        self._inspected = self._snapshot(self.selected)
        self._mark_dirty()
        self._revalidate(self.canvas.graph)

    def _update_spec(self, key: str, **changes: Any) -> None:
        node = self._node(key)
        if node is None:
            return
        spec = {**(node["data"].get("spec") or {}), **changes}
        extra: dict[str, Any] = {}
        if "needs_approval" in changes:
            kind = registry.get_kind(node["data"].get("kind", ""))
            extra["needsApproval"] = bool(changes["needs_approval"]) or bool(kind and kind.pauses)
        if "retries" in changes:
            extra["retries"] = changes["retries"]
        self._update(key, {"spec": spec, **extra})

    def _settings(self, key: str, data: dict[str, Any]) -> None:
        spec = data.get("spec") or {}
        ui.input("Title", value=data.get("title", "")).classes("w-full").on(
            "blur", lambda e: self._update(key, {"title": e.sender.value or key})
        )
        key_input = ui.input("Key (used as nodes.<key>.output)", value=key).classes("w-full font-mono")

        def rename() -> None:
            new = (key_input.value or "").strip()
            if new == key:
                return
            taken = {n["id"] for n in self.canvas.graph.get("nodes", [])}
            if not NODE_KEY.match(new) or new in taken:
                reason = "already used" if new in taken else "use letters, digits and _, starting with a letter"
                ui.notify(f"Key '{new}' cannot be used: {reason}", type="warning")
                key_input.value = key
                return
            self.selected = new
            self.canvas.rename_node(key, new)
            self._inspected = self._snapshot(new)
            self._mark_dirty()
            self._revalidate(self.canvas.graph)

        key_input.on("blur", lambda _: rename())
        agent_ids = sorted(self.agents)

        def change_agent(event: Any) -> None:
            agent = self.agents.get(event.value)
            if agent is None:
                return
            card = node_data(graph_to_definition({"nodes": [self._node(key)], "edges": []}).nodes[0], agent)
            self._update(
                key, {**card, "agentId": agent.id, "title": data.get("title"), "spec": {**spec, "agent_id": agent.id}}
            )

        ui.select(agent_ids, label="Agent", value=data.get("agentId"), on_change=change_agent).classes("w-full")
        ui.label("Action (a template: {{ input }}, {{ payload.x }}, {{ nodes.<key>.output }}, {{ run.id }})").classes(
            "text-xs text-gray-500 mt-1"
        )
        action = TemplateEditor(
            spec.get("action", ""), completions=self._completions(key), placeholder="What this step should do…"
        ).classes("w-full h-32")
        action.mark("action-editor")
        self._apply_on_blur(action, lambda: self._update_spec(key, action=action.value))
        agent = self.agents.get(data.get("agentId", ""))
        kind = registry.get_kind(agent.kind) if agent else None
        if agent is not None and kind is not None:
            ui.label(f"{kind.title} settings").classes("text-sm font-medium mt-2")
            form = SchemaForm(kind.model_json_schema(), {**(agent.config or {}), **(spec.get("config") or {})})

            def config_changed(value: dict[str, Any]) -> None:
                errors = registry.config_errors(kind.kind, value)
                form.show_errors({e.split(":", 1)[0]: e.split(":", 1)[1].strip() for e in errors if ":" in e})
                self._update_spec(key, config=value)

            form._on_change = config_changed
        ui.label("Reliability").classes("text-sm font-medium mt-2")
        with ui.row().classes("w-full no-wrap gap-2"):
            ui.number("Retries", value=spec.get("retries", 0), min=0, max=20, precision=0).classes("w-1/2").on(
                "blur", lambda e: self._update_spec(key, retries=int(e.sender.value or 0))
            )
            ui.number("Timeout (s)", value=spec.get("timeout_seconds"), min=0.1, max=86400).classes("w-1/2").on(
                "blur", lambda e: self._update_spec(key, timeout_seconds=e.sender.value or None)
            )
        asks_approval = agent is not None and agent.kind == "approval"

        def approval_changed(value: bool) -> None:
            self._update_spec(key, needs_approval=value)
            deadline_row.set_visibility(value or asks_approval)

        ui.switch(
            "Needs approval (a person approves this step's output)",
            value=bool(spec.get("needs_approval")),
            on_change=lambda e: approval_changed(bool(e.value)),
        )
        with ui.row().classes("w-full no-wrap gap-2") as deadline_row:
            seconds = spec.get("approval_deadline_seconds")
            ui.number(
                "Deadline (hours)", value=round(seconds / 3600, 2) if seconds else None, min=0.01, max=8784
            ).props("clearable").classes("w-1/2").tooltip("Empty: no deadline").on(
                "blur",
                lambda e: self._update_spec(
                    key, approval_deadline_seconds=round(float(e.sender.value) * 3600) if e.sender.value else None
                ),
            ).mark("approval-deadline")
            ui.select(
                {"wait": "Keep waiting", "approve": "Approve as proposed", "reject": "Reject"},
                label="When it passes",
                value=spec.get("on_deadline") or "wait",
                on_change=lambda e: self._update_spec(key, on_deadline=e.value),
            ).classes("w-1/2").mark("on-deadline")
        deadline_row.set_visibility(bool(spec.get("needs_approval")) or asks_approval)

    def _data(self) -> tuple[Any, dict[str, Any]]:
        if self.last is not None:
            return self.last.payload, self.last.outputs
        return self.sample_payload, {}

    def _input(self, key: str, data: dict[str, Any]) -> None:
        spec = data.get("spec") or {}
        current = spec.get("input_mapping")
        text = current if isinstance(current, str) else (json.dumps(current, indent=2) if current else "")
        ui.label(
            "Input mapping: a template, or a JSON object of templates. Empty: the previous step's output."
        ).classes("text-xs text-gray-500")
        names = sorted(self._completions(key))
        editor = TemplateEditor(text, completions=names).classes("w-full h-32")
        with ui.row().classes("gap-1 flex-wrap items-center"):
            ui.label("Type {{ for names, or insert:").classes("text-xs text-gray-500")
            for name in names[:24]:
                ui.chip(name, on_click=lambda _, n=name: editor.insert(f"{{{{ {n} }}}}")).props(
                    "dense outline clickable"
                ).classes("font-mono text-xs")
        source = "the last run" if self.last else "a sample payload (no run yet)"
        ui.label(f"Preview against {source}").classes("text-sm font-medium mt-2")
        result = ui.code("", language="json").classes("w-full text-xs")
        note = ui.label().classes("text-sm")  # instead of the JSON: why there is none (text in a JSON view is garbled)

        def show(definition: WorkflowDefinition) -> None:
            text, kind = self._preview_text(definition, key)
            result.set_content(text if kind == "json" else "")
            result.set_visibility(kind == "json")
            note.set_text("" if kind == "json" else text)
            note.classes(replace="text-sm " + ("text-negative" if kind == "error" else "text-gray-500"))
            note.set_visibility(kind != "json")

        def typed_mapping() -> Any:
            raw = editor.value.strip()
            if not raw:
                return None
            try:
                return json.loads(raw) if raw.startswith("{") else raw
            except json.JSONDecodeError:
                return raw

        def preview_typed() -> None:  # as they type: the preview follows, the canvas is changed on blur
            definition = self._definition()
            if definition is None or key not in {n.key for n in definition.nodes}:
                return
            nodes = [
                n.model_copy(update={"input_mapping": typed_mapping()}) if n.key == key else n for n in definition.nodes
            ]
            show(definition.model_copy(update={"nodes": nodes}))

        def commit() -> None:
            self._update_spec(key, input_mapping=typed_mapping())
            preview_typed()

        editor.mark("mapping-editor").on_change(lambda _: preview_typed())
        self._apply_on_blur(editor, commit)
        preview_typed()

    def _preview_text(self, definition: WorkflowDefinition, key: str) -> tuple[str, Literal["json", "note", "error"]]:
        """The node's rendered input as JSON, or why it cannot be shown (yet)."""
        payload, outputs = self._data()
        shown = preview(definition, key, payload=payload, outputs=outputs, workflow_id=self.workflow_id)
        node = definition.node(key)
        if node.input_mapping is None:  # the previous steps' output
            used = {edge.source for edge in definition.edges if edge.target == key}
        else:
            used = mapping.referenced_nodes(node.input_mapping)
        unseen = sorted((used & {n.key for n in definition.nodes}) - set(outputs))  # unknown names are errors
        if unseen and (shown.error is not None or node.input_mapping is None):
            names = ", ".join(f"'{name}'" for name in unseen)  # not wrong: those steps have not run yet
            return f"No output from {names} yet: run the workflow once to preview with its data.", "note"
        if shown.error is None:
            return json.dumps(shown.input, indent=2, default=str), "json"
        return shown.error, "error"

    def _apply_on_blur(self, editor: TemplateEditor, apply: Callable[[], None]) -> Callable[[], None]:
        """Apply a template editor's text when it loses focus, or before anything that needs it; returns the applier.

        Clicking the canvas changes the selection (and redraws the inspector) before the editor reports its blur,
        and Ctrl+S saves without leaving it: `_apply_pending` applies what was typed in both cases.
        """
        applied = [editor.value]

        def apply_if_changed() -> None:
            if editor.value != applied[0]:
                applied[0] = editor.value
                apply()

        editor.on_change(lambda e: self._mark_dirty() if e.value != applied[0] else None)
        editor.on_blur(lambda _: apply_if_changed())
        self._unapplied.append(apply_if_changed)
        return apply_if_changed

    def _apply_pending(self) -> None:
        for apply in self._unapplied:  # text typed into a template editor whose blur has not arrived yet
            apply()

    def _completions(self, key: str) -> set[str]:
        """Names a template here can use: the context roots, payload fields and upstream outputs' fields."""
        names = {"input", "payload", "run.id", "run.sessionId", "run.workflowId"}
        payload, outputs = self._data()
        if isinstance(payload, dict):
            names |= {f"payload.{k}" for k in payload}
        definition = self._definition()
        if definition is None:
            return names
        upstream = {e.source for e in definition.edges if e.target == key}
        frontier = set(upstream)
        while frontier:
            current = frontier.pop()
            for edge in definition.edges:
                if edge.target == current and edge.source not in upstream:
                    upstream.add(edge.source)
                    frontier.add(edge.source)
        for source in upstream:
            names.add(f"nodes.{source}.output")
            value = outputs.get(source)
            if isinstance(value, dict):
                names |= {f"nodes.{source}.output.{k}" for k in value if str(k).isidentifier()}
        return names

    def _output(self, key: str) -> None:
        if self.last is None or key not in self.last.statuses:
            ui.label("No run has reached this node yet.").classes("text-sm text-gray-500")
            return
        ui.label(f"Status in the last run: {self.last.statuses[key]}").classes("text-sm")
        if key in self.last.outputs:
            ui.json_editor(
                {"content": {"json": self.last.outputs[key]}, "readOnly": True, "mainMenuBar": False}
            ).classes("w-full")

    def _try(self, key: str) -> None:
        source = "the last run's data" if self.last else "the sample payload"
        ui.label(f"Run just this node with its mapped input from {source}. Nothing is stored.").classes(
            "text-xs text-gray-500"
        )
        result = ui.column().classes("w-full gap-1")

        async def go() -> None:
            definition = self._definition()
            if definition is None:
                ui.notify("Fix the node's settings first", type="warning")
                return
            payload, outputs = self._data()
            result.clear()
            with result:
                ui.spinner()
            trial = await flowyard().try_node(self.workflow_id, definition, key, payload=payload, outputs=outputs)
            result.clear()
            with result:
                if trial.error:
                    ui.label(trial.error).classes("text-sm text-negative font-mono")
                else:
                    note = " · would wait for approval" if trial.waits_for_approval else ""
                    ui.label(f"Output in {trial.duration_ms:g} ms{note}").classes("text-sm text-positive")
                    ui.code(json.dumps(trial.output, indent=2, default=str), language="json").classes("w-full text-xs")

        ui.button("Try this node", icon="science", on_click=go).props("unelevated dense no-caps")
