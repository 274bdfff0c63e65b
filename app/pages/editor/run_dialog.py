"""The editor's Run dialog: the input for the first step (a form when it declares what it takes), then the run."""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui

from app.engine.exceptions import FlowyardError, InputInvalid, WorkflowInvalid
from app.engine.model import Trigger
from app.models.people import Permission
from app.pages import access
from app.pages.context import services
from app.pages.editor.draft import Draft
from components.schema_form import SchemaForm

__all__ = ["ask_run"]


async def ask_run(editor: Draft) -> None:
    """Ask for the run's input and start it (saving the draft first); refuse a draft with problems."""
    if not await access.may(Permission.RUN):
        return
    editor.panel.apply_pending()
    if editor.problem_list:
        ui.notify(f"Cannot run: {len(editor.problem_list)} problem(s) to fix first", type="negative")
        editor.show_problem_list()
        return
    schema = services().drafts.input_schema(editor.definition(), editor.agents)
    with ui.dialog() as dialog, ui.card().classes("min-w-[32rem]"):
        ui.label("Run workflow").classes("text-lg font-medium")
        form: SchemaForm | None = None
        code: ui.codemirror | None = None
        if schema is not None:  # the entry step says what it takes: a form for it
            ui.label("Input for the first step").classes("text-sm text-gray-500")
            sample = editor.sample_payload if isinstance(editor.sample_payload, dict) else {}
            form = SchemaForm(schema, sample).mark("run-form")
        else:  # any JSON value
            ui.label("Input passed to the first step (JSON, or plain text)").classes("text-sm text-gray-500")
            text = json.dumps(editor.sample_payload, indent=2) if editor.sample_payload is not None else ""
            code = ui.codemirror(text, language="JSON").classes("w-full h-48 border border-(--fy-border) rounded")
        error = ui.label().classes("text-sm text-negative").mark("run-error")

        async def start() -> None:
            if not await access.may(Permission.RUN):
                return
            payload = dict(form.value) if form is not None else _typed_payload(code.value if code else "")
            if editor.dirty and not await editor.save():
                return
            try:
                run = await services().runs.start(
                    editor.workflow_id, input=payload, trigger=Trigger.UI, started_by=access.principal().label
                )
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
            editor.sample_payload = payload
            editor.watch(run.id)
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


def _typed_payload(text: str) -> Any:
    """JSON when the text is JSON, else the text itself; nothing typed is null."""
    raw = text.strip()
    try:
        return json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return raw
