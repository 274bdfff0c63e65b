"""The editor's inspector: the selected step's Settings, Input (mapping with a live preview), Output and Try.

Edits go to the canvas (one undo step each) through the editor; template editors apply their text when
they lose focus, or before anything that needs it (`apply_pending`). For whoever may not edit the workflow
the Settings and Input are shown inert (read-only) and there is no Try.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from nicegui import ui

from app.engine.model import NODE_KEY, WorkflowDefinition
from app.models.people import Permission
from app.pages import access
from app.pages.context import services
from app.pages.editor.draft import Draft
from app.services.graph import graph_to_definition, node_data
from components.schema_form import SchemaForm
from components.template_editor import TemplateEditor

__all__ = ["Inspector"]

TABS = ("Settings", "Input", "Output", "Try")


class Inspector:
    """The right-hand panel of one editor, for the step selected on its canvas."""

    def __init__(self, editor: Draft, container: ui.column) -> None:
        self.editor = editor
        self.container = container
        self.selected: str | None = None
        self._inspected: str | None = None
        self._unapplied: list[Callable[[], None]] = []  # the code editors' appliers of typed text
        self._tab = "Settings"  # the tab, kept when the panel is redrawn (an undo, another step)
        self._problem_box: ui.column | None = None  # the step's problems, kept current by validation

    # --- what the editor asks ---------------------------------------------------------------------------------

    def node(self, key: str | None) -> dict[str, Any] | None:
        if key is None:
            return None
        return next((n for n in self.editor.canvas.graph.get("nodes", []) if n["id"] == key), None)

    def select(self, keys: list[str]) -> None:
        self.selected = keys[0] if len(keys) == 1 else None
        self.show()

    def changed_elsewhere(self) -> bool:
        """Whether the selected step changed by something other than this panel (an undo, the canvas)."""
        return self._snapshot(self.selected) != self._inspected

    def forget_missing(self) -> None:
        if self.selected is not None and self.node(self.selected) is None:
            self.selected = None

    def _snapshot(self, key: str | None) -> str | None:
        """The selected step's settings as the panel shows them, to tell its own edits from others."""
        node = self.node(key)
        if node is None:
            return None
        data = {k: v for k, v in node["data"].items() if k not in ("status", "problems")}
        return json.dumps([node["id"], data], sort_keys=True, default=str)

    def show_problems(self) -> None:
        """Show the selected step's problems (validation calls this after every check)."""
        if self._problem_box is None or self.selected is None:
            return
        messages = self.editor.problems.get(self.selected, [])
        self._problem_box.clear()
        self._problem_box.set_visibility(bool(messages))  # (empty, it would still take a gap)
        with self._problem_box:
            for message in messages:
                ui.label(message).classes("text-xs text-negative")

    def apply_pending(self) -> None:
        for apply in self._unapplied:  # text typed into a template editor whose blur has not arrived yet
            apply()

    def show(self) -> None:
        self.apply_pending()
        self._unapplied = []
        self.container.clear()
        self._problem_box = None
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
            self._problem_box = ui.column().classes("w-full gap-1")
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
                if "Try" in shown:
                    with ui.tab_panel(shown["Try"]).classes("p-0 gap-2"):
                        self._try(key)
            tabs.on_value_change(lambda e: setattr(self, "_tab", e.value))

    def _inert_unless_editable(self) -> AbstractContextManager[Any]:
        """Fields to read, not change, for whoever may not edit (the canvas is read-only for them too)."""
        if self.editor.may_edit:
            return nullcontext()
        return ui.column().classes("w-full p-0 gap-2").props("inert").mark("inspector-read-only")

    # --- edits ----------------------------------------------------------------------------------------------------

    def _update(self, key: str, data: dict[str, Any]) -> None:
        self.editor.canvas.update_node(key, data)
        self._inspected = self._snapshot(self.selected)
        self.editor.mark_dirty()
        self.editor.revalidate(self.editor.canvas.graph)

    def _update_spec(self, key: str, **changes: Any) -> None:
        node = self.node(key)
        if node is None:
            return
        spec = {**(node["data"].get("spec") or {}), **changes}
        extra: dict[str, Any] = {}
        if "needs_approval" in changes:
            kind = services().drafts.kind(node["data"].get("kind", ""))
            extra["needsApproval"] = bool(changes["needs_approval"]) or bool(kind and kind.pauses)
        if "retries" in changes:
            extra["retries"] = changes["retries"]
        self._update(key, {"spec": spec, **extra})

    def _rename(self, key: str, key_input: ui.input) -> None:
        new = (key_input.value or "").strip()
        if new == key:
            return
        taken = {n["id"] for n in self.editor.canvas.graph.get("nodes", [])}
        if not NODE_KEY.match(new) or new in taken:
            reason = "already used" if new in taken else "use letters, digits and _, starting with a letter"
            ui.notify(f"Key '{new}' cannot be used: {reason}", type="warning")
            key_input.value = key
            return
        self.selected = new
        self.editor.canvas.rename_node(key, new)
        self._inspected = self._snapshot(new)
        self.editor.mark_dirty()
        self.editor.revalidate(self.editor.canvas.graph)

    def _change_agent(self, key: str, data: dict[str, Any], agent_id: str) -> None:
        agent = self.editor.agents.get(agent_id)
        if agent is None:
            return
        spec = data.get("spec") or {}
        card = node_data(graph_to_definition({"nodes": [self.node(key)], "edges": []}).nodes[0], agent)
        self._update(
            key, {**card, "agentId": agent.id, "title": data.get("title"), "spec": {**spec, "agent_id": agent.id}}
        )

    # --- Settings -------------------------------------------------------------------------------------------------

    def _settings(self, key: str, data: dict[str, Any]) -> None:
        spec = data.get("spec") or {}
        ui.input("Title", value=data.get("title", "")).classes("w-full").on(
            "blur", lambda e: self._update(key, {"title": e.sender.value or key})
        )
        key_input = ui.input("Key (used as nodes.<key>.output)", value=key).classes("w-full font-mono")
        key_input.on("blur", lambda _: self._rename(key, key_input))
        ui.select(
            sorted(self.editor.agents),
            label="Agent",
            value=data.get("agentId"),
            on_change=lambda e: self._change_agent(key, data, e.value),
        ).classes("w-full")
        ui.label("Action (a template: {{ input }}, {{ payload.x }}, {{ nodes.<key>.output }}, {{ run.id }})").classes(
            "text-xs text-gray-500 mt-1"
        )
        action = TemplateEditor(
            spec.get("action", ""), completions=self._completions(key), placeholder="What this step should do…"
        ).classes("w-full h-32")
        action.mark("action-editor")
        self._apply_on_blur(action, lambda: self._update_spec(key, action=action.value))
        self._kind_settings(key, data)
        self._reliability(key, spec)
        self._approval(key, data)

    def _kind_settings(self, key: str, data: dict[str, Any]) -> None:
        spec = data.get("spec") or {}
        agent = self.editor.agents.get(data.get("agentId", ""))
        drafts = services().drafts
        kind = drafts.kind(agent.kind) if agent else None
        if agent is None or kind is None:
            return
        ui.label(f"{kind.title} settings").classes("text-sm font-medium mt-2")
        form = SchemaForm(kind.model_json_schema(), {**(agent.config or {}), **(spec.get("config") or {})})

        def config_changed(value: dict[str, Any]) -> None:
            errors = drafts.config_errors(kind.kind, value)
            form.show_errors({e.split(":", 1)[0]: e.split(":", 1)[1].strip() for e in errors if ":" in e})
            self._update_spec(key, config=value)

        form._on_change = config_changed

    def _reliability(self, key: str, spec: dict[str, Any]) -> None:
        ui.label("Reliability").classes("text-sm font-medium mt-2")
        with ui.row().classes("w-full no-wrap gap-2"):
            ui.number("Retries", value=spec.get("retries", 0), min=0, max=20, precision=0).classes("w-1/2").on(
                "blur", lambda e: self._update_spec(key, retries=int(e.sender.value or 0))
            )
            ui.number("Timeout (s)", value=spec.get("timeout_seconds"), min=0.1, max=86400).classes("w-1/2").on(
                "blur", lambda e: self._update_spec(key, timeout_seconds=e.sender.value or None)
            )

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
        self._apply_on_blur(editor, commit)
        preview_typed()

    def _apply_on_blur(self, editor: TemplateEditor, apply: Callable[[], None]) -> Callable[[], None]:
        """Apply a template editor's text when it loses focus, or before anything that needs it; returns the applier.

        Clicking the canvas changes the selection (and redraws the inspector) before the editor reports its blur,
        and Ctrl+S saves without leaving it: `apply_pending` applies what was typed in both cases.
        """
        applied = [editor.value]

        def apply_if_changed() -> None:
            if editor.value != applied[0]:
                applied[0] = editor.value
                apply()

        editor.on_change(lambda e: self.editor.mark_dirty() if e.value != applied[0] else None)
        editor.on_blur(lambda _: apply_if_changed())
        self._unapplied.append(apply_if_changed)
        return apply_if_changed

    def _completions(self, key: str) -> set[str]:
        payload, outputs = self._data()
        return services().drafts.completions(self.editor.definition(), key, payload, outputs)

    # --- Output and Try -------------------------------------------------------------------------------------------

    def _output(self, key: str) -> None:
        last = self.editor.last
        if last is None or key not in last.statuses:
            ui.label("No run has reached this step yet.").classes("text-sm text-gray-500")
            return
        ui.label(f"Status in the last run: {last.statuses[key]}").classes("text-sm")
        if key in last.outputs:
            ui.json_editor({"content": {"json": last.outputs[key]}, "readOnly": True, "mainMenuBar": False}).classes(
                "w-full"
            )

    def _try(self, key: str) -> None:
        source = "the last run's data" if self.editor.last else "the sample payload"
        ui.label(f"Run just this step with its mapped input from {source}. Nothing is stored.").classes(
            "text-xs text-gray-500"
        )
        result = ui.column().classes("w-full gap-1")

        async def go() -> None:
            if not await access.may(Permission.EDIT):
                return
            definition = self.editor.definition()
            if definition is None:
                ui.notify("Fix the step's settings first", type="warning")
                return
            payload, outputs = self._data()
            result.clear()
            with result:
                ui.spinner()
            trial = await services().drafts.try_step(
                self.editor.workflow_id, definition, key, payload=payload, outputs=outputs
            )
            result.clear()
            with result:
                if trial.error:
                    ui.label(trial.error).classes("text-sm text-negative font-mono")
                else:
                    note = " · would wait for approval" if trial.waits_for_approval else ""
                    ui.label(f"Output in {trial.duration_ms:g} ms{note}").classes("text-sm text-positive")
                    ui.code(json.dumps(trial.output, indent=2, default=str), language="json").classes("w-full text-xs")

        ui.button("Try this step", icon="science", on_click=go).props("unelevated dense no-caps")


def _typed_mapping(text: str) -> Any:
    """What an input mapping editor holds: None when empty, a JSON object of templates, else one template."""
    raw = text.strip()
    if not raw:
        return None
    try:
        return json.loads(raw) if raw.startswith("{") else raw
    except json.JSONDecodeError:
        return raw
