"""The editor's inspector: the selected step's Settings, Input (mapping with a live preview), Output and Try.

Edits go to the canvas (one undo step each) through the editor. A field typed into marks the draft unsaved
at the first key and applies its text when it loses focus, or before anything that needs it (`apply_pending`):
applying on every key would send each keystroke to the canvas and back, and the panel would be redrawn under
the person typing. For whoever may not edit the workflow the Settings and Input are shown inert (read-only)
and there is no Try.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from nicegui import ui
from nicegui.elements.mixins.value_element import ValueElement
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from app.engine.model import NODE_KEY, WorkflowDefinition
from app.models.people import Permission
from app.pages import access
from app.pages.context import services
from app.pages.editor.draft import Draft
from app.pages.editor.run_dialog import ask_run
from app.pages.theme import STATUS_LABELS, status_key
from app.services.graph import graph_to_definition, node_data
from components.agent_tools import ToolChoices
from components.json_view import JsonView
from components.schema_form import CredentialChoices, SchemaForm
from components.template_editor import TemplateEditor

__all__ = ["Inspector"]

TABS = ("Settings", "Input", "Output", "Data", "Try")

# The Data tab widens the panel: the step's input and output side by side, its mapping and action between them
# (on a narrower window, the editors above the two trees).
_DATA_CSS = """
.fy-side--right .fy-side__open .fy-inspector-body.fy-inspector-body--wide { width: min(62rem, calc(100vw - 40rem)); }
.fy-data-view { display: grid; width: 100%; gap: 12px; align-items: start;
  grid-template-columns: minmax(0, 1fr) minmax(0, 1.1fr) minmax(0, 1fr); grid-template-areas: "in edit out"; }
.fy-data-view__in { grid-area: in; } .fy-data-view__edit { grid-area: edit; } .fy-data-view__out { grid-area: out; }
.fy-data-view__head { font-size: 12px; letter-spacing: 0.05em; text-transform: uppercase; color: var(--fy-muted); }
.fy-inspector-body .q-tabs .q-tab { padding: 0 10px; min-width: 0; }
.fy-json__ref { font: inherit; background: none; border: 0; padding: 0 2px; margin: 0 -2px; border-radius: 3px;
  cursor: pointer; text-decoration: underline dotted; text-underline-offset: 3px; }
.fy-json__ref:hover { background: var(--fy-surface-hover); text-decoration-style: solid; }
.fy-json__ref:focus-visible { outline: 2px solid var(--fy-accent); outline-offset: 1px; }
@media (max-width: 1279px) {
  .fy-side--right .fy-side__open .fy-inspector-body.fy-inspector-body--wide { width: calc(100vw - 20rem); }
  .fy-inspector-body .q-tabs .q-tab { padding: 0 6px; }
  .fy-data-view { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); grid-template-areas: "edit edit" "in out"; }
  /* the editors stay in sight while the trees scroll under them, side by side to take less height */
  .fy-data-view__edit { position: sticky; top: 0; z-index: 3; background: var(--fy-surface); padding-bottom: 8px;
    flex-direction: row; flex-wrap: wrap; border-bottom: 1px solid var(--fy-border); }
  .fy-data-view__edit > .fy-data-view__head, .fy-data-view__edit > .fy-data-view__target { flex: 1 0 100%; }
  .fy-data-view__field { flex: 1 1 14rem; }
  .fy-data-view__field .fy-template-editor { height: 6rem; }
}
"""


class Inspector:
    """The right-hand panel of one editor, for the step selected on its canvas."""

    def __init__(
        self,
        editor: Draft,
        container: ui.column,
        *,
        credentials: CredentialChoices | None = None,
        tools: ToolChoices | None = None,
    ) -> None:
        self.editor = editor
        self.container = container
        self.credentials = credentials  # what credential fields offer (None: typed as text)
        self.tools = tools  # what an agent's tools field offers
        self.selected: str | None = None
        self._inspected: str | None = None
        self._unapplied: list[tuple[Callable[[], bool], Callable[[], None]]] = []  # typed fields: (typed?, apply)
        self._echoes: list[str] = []  # snapshots after this panel's own edits, until the canvas confirms them
        self._tab = "Settings"  # the tab, kept when the panel is redrawn (an undo, another step)
        self._problem_box: ui.column | None = None  # the step's problems, kept current by validation
        self._needs_box: ui.column | None = None  # the fields it reads, likewise
        self._keys: dict[str, str] = {}  # the step's key when the panel was drawn → its key since a rename
        # one field shown by two template editors (the Input tab's and the Data tab's): what was applied, the
        # editors, and what else follows its typing (the Input tab's preview)
        self._applied: dict[str, list[str]] = {}
        self._twins: dict[str, list[TemplateEditor]] = {}
        self._followers: dict[str, list[tuple[TemplateEditor, Callable[[], None]]]] = {}
        self._target: TemplateEditor | None = None  # where a field picked in the Data tab is inserted
        ui.add_css(_DATA_CSS)

    # --- what the editor asks ---------------------------------------------------------------------------------

    def node(self, key: str | None) -> dict[str, Any] | None:
        if key is None:
            return None
        return next((n for n in self.editor.canvas.graph.get("nodes", []) if n["id"] == key), None)

    def select(self, keys: list[str]) -> None:
        self.selected = keys[0] if len(keys) == 1 else None
        self.show()

    def changed_elsewhere(self) -> bool:
        """Whether the selected step changed by something other than this panel (an undo, the canvas).

        The canvas confirms each of this panel's edits with the whole graph; a confirmation may arrive after
        a later edit was sent (then it shows an older state), which is no reason to redraw the panel.
        """
        now = self._snapshot(self.selected)
        if now is not None and now in self._echoes:
            del self._echoes[: self._echoes.index(now) + 1]
            return False
        self._echoes.clear()
        return now != self._inspected

    def _sent(self) -> None:
        """Remember the selected step as this panel's edit left it (the canvas will confirm it)."""
        self._inspected = self._snapshot(self.selected)
        if self._inspected is not None:
            self._echoes = [*self._echoes[-20:], self._inspected]

    def forget_missing(self) -> None:
        if self.selected is not None and self.node(self.selected) is None:
            self.selected = None

    def _snapshot(self, key: str | None) -> str | None:
        """The selected step's settings as the panel shows them, to tell its own edits from others."""
        node = self.node(key)
        if node is None:
            return None
        data = {k: v for k, v in node["data"].items() if k not in ("status", "problems")}
        return json.dumps([node["id"], _plain_numbers(data)], sort_keys=True, default=str)

    def show_problems(self) -> None:
        """Show the selected step's problems (validation calls this after every check)."""
        if self._problem_box is None or self.selected is None:
            return
        messages = self.editor.problems.get(self.selected, [])
        if self._needs_box is not None:  # (what the step reads changes with its templates)
            self._show_needs(self._needs_box, self.selected)
        self._problem_box.clear()
        self._problem_box.set_visibility(bool(messages))  # (empty, it would still take a gap)
        with self._problem_box:
            for message in messages:
                ui.label(message).classes("text-xs text-negative")

    def apply_pending(self) -> None:
        for _, apply in self._unapplied:  # text typed into a field whose blur has not arrived yet
            apply()

    def discard_pending(self) -> None:
        """Forget text typed but not applied (the draft it was typed into is being replaced)."""
        self._unapplied = []

    def has_pending(self) -> bool:
        """Whether a field holds typed text not applied to the canvas yet."""
        return any(typed() for typed, _ in self._unapplied)

    def show(self) -> None:
        self.apply_pending()
        self._unapplied = []
        self._applied, self._twins, self._followers, self._target = {}, {}, {}, None
        self.container.clear()
        self._widen(False)
        self._problem_box = self._needs_box = None
        self._keys = {}
        node = self.node(self.selected)
        self._inspected = self._snapshot(self.selected)
        with self.container:
            if node is None:
                if not self.editor.may_edit:
                    ui.label("Select a step to see its settings").classes("text-gray-500 text-sm mt-8 self-center")
                    return
                ui.label("Select a step to edit it").classes("text-gray-500 text-sm mt-8 self-center")
                ui.label("Drag agents from the palette onto the canvas, then connect them.").classes(
                    "text-gray-400 text-xs self-center text-center"
                )
                return
            key, data = node["id"], node["data"]
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon(data.get("icon") or "extension").classes("text-primary text-xl")
                ui.label(data.get("title") or key).classes("text-base font-medium grow")
                if self.editor.may_run:
                    ui.button("Run up to here", icon="fast_forward", on_click=lambda: self._run_up_to(key)).props(
                        "outline dense no-caps size=sm"
                    ).mark("run-up-to-here").tooltip("Run this step and the steps it depends on (saves first)")
            self._problem_box = ui.column().classes("w-full gap-1")
            self._needs_box = ui.column().classes("w-full gap-0").mark("step-needs")
            self.show_problems()
            names = TABS if self.editor.may_edit else TABS[:-1]  # trying a step runs its agent: an edit
            with ui.tabs().classes("w-full").props("dense no-caps") as tabs:
                shown = {name: ui.tab(name) for name in names}
            with (
                ui.tab_panels(tabs, value=self._tab if self._tab in shown else names[0])
                .classes("w-full")
                .props("animated=false")
            ):
                with ui.tab_panel(shown["Settings"]).classes("p-0 gap-2"), self._inert_unless_editable():
                    self._settings(key, data)
                with ui.tab_panel(shown["Input"]).classes("p-0 gap-2"), self._inert_unless_editable():
                    self._input(key, data)
                with ui.tab_panel(shown["Output"]).classes("p-0 gap-2"):
                    self._output(key)
                with ui.tab_panel(shown["Data"]).classes("p-0 gap-2"), self._inert_unless_editable():
                    self._data_view(key, data)
                if "Try" in shown:
                    with ui.tab_panel(shown["Try"]).classes("p-0 gap-2"):
                        self._try(key)
            tabs.on_value_change(lambda e: self._switched(str(e.value)))
            self._widen(self._tab == "Data")

    def _switched(self, tab: str) -> None:
        self._tab = tab
        self._widen(tab == "Data")

    def _widen(self, wide: bool) -> None:
        """The Data tab wants room for two trees side by side: the panel widens while it is shown."""
        if wide:
            self.container.classes(add="fy-inspector-body--wide")
        else:
            self.container.classes(remove="fy-inspector-body--wide")

    def _show_needs(self, box: ui.column, key: str) -> None:
        """The fields the step reads and where they come from, before any run fails for lack of one."""
        box.clear()
        definition = self.editor.definition()
        needs = None
        if definition is not None and key in {n.key for n in definition.nodes}:
            needs = services().drafts.needs(definition, key, self.editor.agents)
        box.set_visibility(needs is not None and bool(needs.fields or needs.payload_fields))  # (empty: no gap)
        if needs is None:
            return
        with box, ui.row().classes("w-full items-center gap-1"):
            ui.label("Needs").classes("text-xs font-medium mr-1")
            for name in needs.fields:
                missing = name in needs.missing
                ui.chip(name, icon="error_outline" if missing else None).props(
                    "dense outline square" + (" color=negative" if missing else "")
                ).classes("font-mono text-xs m-0").tooltip(
                    f"not in {needs.source}" if missing else f"input.{name}, from {needs.source}"
                )
            for name in needs.payload_fields:
                ui.chip(f"payload.{name}").props("dense outline square").classes("font-mono text-xs m-0").tooltip(
                    f"payload.{name}, from the run's input"
                )
        if needs.fields:
            with box:
                ui.label(f"input comes from {needs.source}").classes("text-xs text-gray-500")

    def _inert_unless_editable(self) -> AbstractContextManager[Any]:
        """Fields to read, not change, for whoever may not edit (the canvas is read-only for them too)."""
        if self.editor.may_edit:
            return nullcontext()
        return ui.column().classes("w-full p-0 gap-2").props("inert").mark("inspector-read-only")

    # --- edits ----------------------------------------------------------------------------------------------------

    def _now(self, key: str) -> str:
        """The key now of the step drawn as `key` (its Key field may have renamed it since)."""
        return self._keys.get(key, key)

    def _update(self, key: str, data: dict[str, Any], *, renamed_handles: dict[str, str] | None = None) -> None:
        self.editor.canvas.update_node(self._now(key), data, renamed_handles=renamed_handles)
        self._sent()
        self.editor.mark_dirty()
        self.editor.revalidate(self.editor.canvas.graph)

    def _update_spec(self, key: str, **changes: Any) -> None:
        node = self.node(self._now(key))
        if node is None:
            return
        spec = {**(node["data"].get("spec") or {}), **changes}
        extra: dict[str, Any] = {}
        if "needs_approval" in changes:
            kind = services().drafts.kind(node["data"].get("kind", ""))
            extra["needsApproval"] = bool(changes["needs_approval"]) or bool(kind and kind.pauses)
        if "retries" in changes:
            extra["retries"] = changes["retries"]
        if "disabled" in changes:  # the card greys at once
            extra["disabled"] = bool(changes["disabled"])
        renamed: dict[str, str] = {}
        if "config" in changes:  # a branch's outcomes are its card's handles: show them (and their edges) at once
            handles, old = self._handles(node, spec), node["data"].get("handles")
            if handles is not None and handles != old:
                extra["handles"] = handles
                if old and len(old) == len(handles):  # an outcome renamed: its edges follow it
                    renamed = {a: b for a, b in zip(old, handles, strict=True) if a != b and a not in handles}
        self._update(key, {"spec": spec, **extra}, renamed_handles=renamed)

    def _handles(self, node: dict[str, Any], spec: dict[str, Any]) -> list[str] | None:
        """The outcome handles of `node` with `spec`; None for one output, or while its settings are invalid."""
        agent = self.editor.agents.get(node["data"].get("agentId", ""))
        try:
            changed = graph_to_definition({"nodes": [{**node, "data": {**node["data"], "spec": spec}}], "edges": []})
        except (ValidationError, KeyError, TypeError, ValueError):
            return None
        handles: list[str] | None = node_data(changed.nodes[0], agent)["handles"]
        return handles

    def _rename(self, drawn: str, key_input: ui.input) -> None:
        key, new = self._now(drawn), (key_input.value or "").strip()
        if new == key:
            return
        taken = {n["id"] for n in self.editor.canvas.graph.get("nodes", [])}
        if not NODE_KEY.match(new) or new in taken:
            reason = "already used" if new in taken else "use letters, digits and _, starting with a letter"
            ui.notify(f"Key '{new}' cannot be used: {reason}", type="warning")
            key_input.value = key
            return
        self.selected, self._keys[drawn] = new, new
        self.editor.canvas.rename_node(key, new)
        self._sent()
        self.editor.mark_dirty()
        self.editor.revalidate(self.editor.canvas.graph)

    def _change_agent(self, key: str, data: dict[str, Any], agent_id: str) -> None:
        agent = self.editor.agents.get(agent_id)
        if agent is None:
            return
        spec = data.get("spec") or {}
        card = node_data(graph_to_definition({"nodes": [self.node(self._now(key))], "edges": []}).nodes[0], agent)
        self._update(
            key, {**card, "agentId": agent.id, "title": data.get("title"), "spec": {**spec, "agent_id": agent.id}}
        )

    # --- Settings -------------------------------------------------------------------------------------------------

    def _settings(self, key: str, data: dict[str, Any]) -> None:
        spec = data.get("spec") or {}
        title = ui.input("Title", value=data.get("title", "")).classes("w-full").mark("step-title")
        self._apply_when_left(title, lambda: self._update(key, {"title": title.value or key}))
        key_input = ui.input("Key (used as nodes.<key>.output)", value=key).classes("w-full font-mono").mark("step-key")
        self._apply_when_left(key_input, lambda: self._rename(key, key_input))
        ui.select(
            sorted(self.editor.agents),
            label="Agent",
            value=data.get("agentId"),
            on_change=lambda e: self._change_agent(key, data, e.value),
        ).classes("w-full")
        ui.switch(
            "Turned off — runs pass its input on",
            value=bool(spec.get("disabled")),
            on_change=lambda e: self._update_spec(key, disabled=bool(e.value)),
        ).mark("step-turned-off").tooltip("Runs skip this step's work (and any approval): its input is its output (D)")
        agent = self.editor.agents.get(data.get("agentId", ""))
        kind = services().drafts.kind(agent.kind) if agent else None
        if kind is None or kind.uses_action or spec.get("action"):  # (a branch's outcomes decide, not an action)
            self._action(key, spec)
        self._kind_settings(key, data)
        self._reliability(key, spec)
        self._approval(key, data)

    def _action(self, key: str, spec: dict[str, Any]) -> None:
        ui.label("Action (a template: {{ input }}, {{ payload.x }}, {{ nodes.<key>.output }}, {{ run.id }})").classes(
            "text-xs text-gray-500 mt-1"
        )
        action = TemplateEditor(
            spec.get("action", ""), completions=self._completions(key), placeholder="What this step should do…"
        ).classes("w-full h-32")
        action.mark("action-editor")
        self._apply_on_blur(action, lambda: self._update_spec(key, action=action.value), field="action")

    def _kind_settings(self, key: str, data: dict[str, Any]) -> None:
        spec = data.get("spec") or {}
        agent = self.editor.agents.get(data.get("agentId", ""))
        drafts = services().drafts
        kind = drafts.kind(agent.kind) if agent else None
        if agent is None or kind is None:
            return
        ui.label(f"{kind.title} settings").classes("text-sm font-medium mt-2")

        def typed(value: dict[str, Any]) -> None:  # each key: the errors beside the fields, nothing redrawn
            errors = drafts.config_errors(kind.kind, value)
            form.show_errors({e.split(":", 1)[0]: e.split(":", 1)[1].strip() for e in errors if ":" in e})
            self.editor.mark_dirty()

        given = {**(agent.config or {}), **(spec.get("config") or {})}
        # a default made by a factory (a branch's first outcome) is not in the schema: show it all the same
        made = {
            name: field.get_default(call_default_factory=True)
            for name, field in kind.model_fields.items()
            if field.default_factory is not None and name not in given
        }
        form = SchemaForm(
            kind.model_json_schema(),
            {**to_jsonable_python(made), **given},
            on_change=typed,
            on_commit=lambda value: self._update_spec(key, config=value),
            credentials=self.credentials,
            tools=self.tools.without(agent=agent.id) if self.tools is not None else None,
        ).mark("kind-settings")
        self._unapplied.append((lambda: form.uncommitted, form.commit))

    def _reliability(self, key: str, spec: dict[str, Any]) -> None:
        ui.label("Reliability").classes("text-sm font-medium mt-2")
        with ui.row().classes("w-full no-wrap gap-2"):
            retries = ui.number("Retries", value=spec.get("retries", 0), min=0, max=20, precision=0).classes("w-1/2")
            self._apply_when_left(retries, lambda: self._update_spec(key, retries=int(retries.value or 0)))
            timeout = ui.number("Timeout (s)", value=spec.get("timeout_seconds"), min=0.1, max=86400).classes("w-1/2")
            self._apply_when_left(timeout, lambda: self._update_spec(key, timeout_seconds=timeout.value or None))

    def _approval(self, key: str, data: dict[str, Any]) -> None:
        spec = data.get("spec") or {}
        agent = self.editor.agents.get(data.get("agentId", ""))
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
            deadline = (
                ui.number("Deadline (hours)", value=round(seconds / 3600, 2) if seconds else None, min=0.01, max=8784)
                .props("clearable")
                .classes("w-1/2")
                .tooltip("Empty: no deadline")
                .mark("approval-deadline")
            )
            self._apply_when_left(
                deadline,
                lambda: self._update_spec(
                    key, approval_deadline_seconds=round(float(deadline.value) * 3600) if deadline.value else None
                ),
            )
            ui.select(
                {"wait": "Keep waiting", "approve": "Approve as proposed", "reject": "Reject"},
                label="When it passes",
                value=spec.get("on_deadline") or "wait",
                on_change=lambda e: self._update_spec(key, on_deadline=e.value),
            ).classes("w-1/2").mark("on-deadline")
        deadline_row.set_visibility(bool(spec.get("needs_approval")) or asks_approval)

    # --- Input -----------------------------------------------------------------------------------------------------

    def _data(self) -> tuple[Any, dict[str, Any]]:
        """The run data previews and trials use: the last run's, else the sample payload."""
        last = self.editor.last
        if last is not None:
            return last.payload, last.outputs
        return self.editor.sample_payload, {}

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
        source = "the last run" if self.editor.last else "a sample payload (no run yet)"
        ui.label(f"Preview against {source}").classes("text-sm font-medium mt-2")
        result = ui.code("", language="json").classes("w-full text-xs")
        note = ui.label().classes("text-sm")  # instead of the JSON: why there is none (text in a JSON view is garbled)

        def show(definition: WorkflowDefinition) -> None:
            payload, outputs = self._data()
            text, kind = services().drafts.preview_input(
                definition, key, payload=payload, outputs=outputs, workflow_id=self.editor.workflow_id
            )
            result.set_content(text if kind == "json" else "")
            result.set_visibility(kind == "json")
            note.set_text("" if kind == "json" else text)
            note.classes(replace="text-sm " + ("text-negative" if kind == "error" else "text-gray-500"))
            note.set_visibility(kind != "json")

        def preview_typed() -> None:  # as they type: the preview follows, the canvas is changed on blur
            definition = self.editor.definition()
            if definition is None or key not in {n.key for n in definition.nodes}:
                return
            mapping = _typed_mapping(editor.value)
            nodes = [n.model_copy(update={"input_mapping": mapping}) if n.key == key else n for n in definition.nodes]
            show(definition.model_copy(update={"nodes": nodes}))

        def commit() -> None:
            self._update_spec(key, input_mapping=_typed_mapping(editor.value))
            preview_typed()

        editor.mark("mapping-editor").on_change(lambda _: preview_typed())
        self._apply_on_blur(editor, commit, field="input_mapping")
        self._followers.setdefault("input_mapping", []).append((editor, preview_typed))  # typed in its twin too
        preview_typed()

    # --- Data: input and output side by side --------------------------------------------------------------------

    def _data_view(self, key: str, data: dict[str, Any]) -> None:
        """The step's input (left) and output (right) as folding trees, its mapping and action between them.

        A field picked on the left (a click, or Enter on it) is inserted at the cursor of the editor last typed in
        (the mapping at first); dragged, it drops where it is let go, in any template editor.
        """
        spec = data.get("spec") or {}
        last = self.editor.last
        payload, outputs = self._data()
        sources = services().drafts.data_sources(
            self.editor.definition(), self._now(key), payload=payload, outputs=outputs
        )
        agent = self.editor.agents.get(data.get("agentId", ""))
        kind = services().drafts.kind(agent.kind) if agent else None
        with ui.element("div").classes("fy-data-view").mark("data-view"):
            with ui.column().classes("fy-data-view__in gap-2 min-w-0"):
                ui.label("Input").classes("fy-data-view__head")
                source = "the last run" if last else "a sample input (no run yet)"
                ui.label(f"What it can read, from {source}: click a field, or drag it, to insert it.").classes(
                    "text-xs fy-muted"
                )
                mapped = spec.get("input_mapping") is not None
                if mapped and last is not None and key in last.inputs:  # what `input` is in the action
                    ui.label("input in the action: as it arrived in the last run (the mapping applied)").classes(
                        "text-xs fy-muted"
                    )
                    JsonView(
                        last.inputs[key], empty="Nothing", max_height="12rem", reference="input", on_pick=self._pick
                    ).mark("data-arrived")
                for found in sources:
                    ref, _, about = found.title.partition(" · ")
                    if mapped and found.reference == "input":
                        about += " (input in the mapping)"
                    with ui.row().classes("w-full items-center gap-1 no-wrap"):
                        ui.button(ref, on_click=lambda _, r=found.reference: self._pick(r)).props(
                            "flat dense no-caps size=sm"
                        ).classes("font-mono").tooltip(f"Insert {{{{ {found.reference} }}}}").mark(
                            f"pick-{found.reference}"
                        )
                        ui.label(about).classes("text-xs fy-muted")
                    JsonView(
                        found.value,
                        empty="Nothing yet: run the workflow to see it",
                        max_height="16rem",
                        reference=found.reference,
                        on_pick=self._pick,
                    ).mark(f"data-source-{found.reference}")
            with ui.column().classes("fy-data-view__edit gap-1 min-w-0"):
                ui.label("Mapping").classes("fy-data-view__head")
                target = ui.label().classes("fy-data-view__target text-xs fy-muted").mark("data-target")
                names = sorted(self._completions(key))
                current = spec.get("input_mapping")
                text = current if isinstance(current, str) else (json.dumps(current, indent=2) if current else "")
                with ui.column().classes("fy-data-view__field w-full gap-1 min-w-0"):
                    ui.label("Input mapping").classes("text-xs font-medium mt-1")
                    mapping = TemplateEditor(text, completions=names, placeholder="Empty: the previous step's output")
                    mapping.classes("w-full h-32").mark("data-mapping-editor")
                editors = {"Input mapping": mapping}
                self._apply_on_blur(
                    mapping,
                    lambda: self._update_spec(key, input_mapping=_typed_mapping(mapping.value)),
                    field="input_mapping",
                )
                if kind is None or kind.uses_action or spec.get("action"):
                    with ui.column().classes("fy-data-view__field w-full gap-1 min-w-0"):
                        ui.label("Action").classes("text-xs font-medium mt-1")
                        action = TemplateEditor(
                            spec.get("action", ""), completions=names, placeholder="What this step should do…"
                        )
                        action.classes("w-full h-32").mark("data-action-editor")
                    editors["Action"] = action
                    self._apply_on_blur(action, lambda: self._update_spec(key, action=action.value), field="action")

                def aim(name: str) -> None:
                    self._target = editors[name]
                    target.set_text(f"A picked field goes into the {name.lower()}, at its cursor.")

                for name, editor in editors.items():
                    editor.on_blur(lambda _, n=name: aim(n))  # (a click on a field leaves the editor first)
                aim("Input mapping")
            with ui.column().classes("fy-data-view__out gap-2 min-w-0"):
                ui.label("Output").classes("fy-data-view__head")
                if last is None or key not in last.statuses:
                    ui.label("No run has reached this step yet.").classes("text-sm fy-muted")
                else:
                    ui.label(f"In the last run: {last.statuses[key].lower()}").classes("text-xs fy-muted")
                    if key in last.errors:
                        ui.label(last.errors[key]).classes("text-sm text-negative font-mono break-all")
                    JsonView(last.outputs.get(key), empty="No output", max_height="30rem").mark("data-output")

    def _pick(self, reference: str) -> None:
        """A field picked in the Data tab: its reference goes in at the cursor of the editor last typed in."""
        if self._target is not None and self.editor.may_edit:
            self._target.insert(f"{{{{ {reference} }}}}")

    def _apply_when_left(self, field: ValueElement[Any], apply: Callable[[], None]) -> None:
        """Apply a typed field's value when it loses focus (or Enter is pressed), or before anything that needs it.

        Each key only marks the draft unsaved, so the header never says "Saved" over typed text.
        """
        applied = [field.value]

        def apply_if_changed() -> None:
            if field.value != applied[0]:
                applied[0] = field.value
                apply()

        field.on_value_change(lambda e: self.editor.mark_dirty() if e.value != applied[0] else None)
        field.on("blur", lambda _: apply_if_changed())
        field.on("keydown.enter", lambda _: apply_if_changed())
        self._unapplied.append((lambda: field.value != applied[0], apply_if_changed))

    def _apply_on_blur(
        self, editor: TemplateEditor, apply: Callable[[], None], *, field: str | None = None
    ) -> Callable[[], None]:
        """Apply a template editor's text when it loses focus, or before anything that needs it; returns the applier.

        Clicking the canvas changes the selection (and redraws the inspector) before the editor reports its blur,
        and Ctrl+S saves without leaving it: `apply_pending` applies what was typed in both cases. Editors of the
        same `field` (the Input tab's mapping and the Data tab's) show each other's typing and apply it once.
        """
        applied = self._applied.setdefault(field, [editor.value]) if field else [editor.value]
        twins = self._twins.setdefault(field, []) if field else []
        twins.append(editor)

        def apply_if_changed() -> None:
            if editor.value != applied[0]:
                applied[0] = editor.value
                apply()

        def typed(value: str) -> None:
            for twin in twins:
                if twin is not editor:
                    twin.set_value(value)  # (the other tab's editor is not being typed in: no focus lost)
            for owner, follow in self._followers.get(field or "", []):
                if owner is not editor:
                    follow()
            if value != applied[0]:
                self.editor.mark_dirty()

        editor.on_change(lambda e: typed(e.value))
        editor.on_blur(lambda _: apply_if_changed())
        self._unapplied.append((lambda: editor.value != applied[0], apply_if_changed))
        return apply_if_changed

    def _completions(self, key: str) -> set[str]:
        payload, outputs = self._data()
        return services().drafts.completions(self.editor.definition(), key, payload, outputs)

    # --- Output, Try and running up to the step ---------------------------------------------------------------------

    async def _run_up_to(self, drawn: str) -> None:
        """“Run up to here”: the Run dialog for this step and the steps it depends on (it saves the draft first)."""
        await ask_run(self.editor, until=self._now(drawn))

    def _output(self, key: str) -> None:
        last = self.editor.last
        if last is None or key not in last.statuses:
            ui.label("No run has reached this step yet.").classes("text-sm text-gray-500")
            return
        status = last.statuses[key]
        try:  # the chips' words ("Failed", "Completed"), not the engine's constant
            word = STATUS_LABELS[status_key(status)]
        except KeyError:
            word = status.capitalize()
        ui.label(f"Status in the last run: {word}").classes("text-sm").mark("output-status")
        if key in last.errors:  # why it failed, and what to change when the run's input lacked what it reads
            ui.label(last.errors[key]).classes("text-sm text-negative font-mono break-all").mark("output-error")
            if key in last.hints:
                ui.label(f"How to fix: {last.hints[key]}").classes("text-sm font-medium").mark("output-hint")
        if key in last.outputs:
            JsonView(last.outputs[key], empty="No output")

    def _try(self, key: str) -> None:
        definition = self.editor.definition()
        if definition is None or key not in {n.key for n in definition.nodes}:
            ui.label("Fix the step's settings to try it.").classes("text-sm text-gray-500")
            return
        payload, outputs = self._data()
        drafts = services().drafts
        entry = not any(e.target == key for e in definition.edges)
        sample = drafts.sample_input(definition, key, self.editor.agents, payload=payload, outputs=outputs)
        what = "the run's input" if entry else "what flows in from the steps before"
        ui.label(f"Run just this step once, with this input ({what}). Nothing is stored.").classes(
            "text-xs text-gray-500"
        )
        box = (
            ui.textarea("Input (JSON)", value=json.dumps(sample, indent=2, default=str))
            .props("autogrow outlined dense")
            .classes("w-full font-mono text-xs")
            .mark("try-input")
        )
        result = ui.column().classes("w-full gap-1")

        async def go() -> None:
            if not await access.may(Permission.EDIT):
                return
            definition = self.editor.definition()
            if definition is None:
                ui.notify("Fix the step's settings first", type="warning")
                return
            try:
                given = json.loads(box.value) if (box.value or "").strip() else None
            except json.JSONDecodeError as exc:
                box.props(f'error error-message="Not valid JSON: {exc.msg} (line {exc.lineno})"')
                return
            box.props(remove="error error-message")
            result.clear()
            with result:
                ui.spinner()
            trial = await drafts.try_step(
                self.editor.workflow_id,
                definition,
                self._now(key),
                payload=payload,
                outputs=outputs,
                step_input=given,
                given=True,
            )
            result.clear()
            with result:
                if trial.error:
                    ui.label(trial.error).classes("text-sm text-negative").mark("try-error")
                    return
                note = " · would wait for approval" if trial.waits_for_approval else ""
                ui.label(f"Output in {trial.duration_ms:g} ms{note}").classes("text-sm text-positive")
                if trial.handles:  # a branch: which way the run would go
                    taken = ", ".join(f"'{h}'" for h in trial.handles)
                    ui.label(f"Outcome taken: {taken}").classes("text-sm font-medium").mark("try-outcome")
                ui.code(json.dumps(trial.output, indent=2, default=str), language="json").classes("w-full text-xs")

        ui.button("Try this step", icon="science", on_click=go).props("unelevated dense no-caps")


def _plain_numbers(value: Any) -> Any:
    """`value` with whole floats as ints: the canvas sends `1.0` back as `1` (JavaScript has one number type), and
    that is no change made elsewhere."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value


def _typed_mapping(text: str) -> Any:
    """What an input mapping editor holds: None when empty, a JSON object of templates, else one template."""
    raw = text.strip()
    if not raw:
        return None
    try:
        return json.loads(raw) if raw.startswith("{") else raw
    except json.JSONDecodeError:
        return raw
