"""The editor's Run dialog, and the notice that follows a run it started until the run ends.

The dialog asks for the run's input with a form of the workflow's input schema (the one its first step
declares, or the one inferred from the fields its templates read), filled in with the last input that fits or
the workflow's first sample input; "Run with sample" runs a named sample as it is, and "Save as sample" keeps
what was typed under a name. A field the steps need that is missing or of the wrong type is named beside the
field, and nothing starts. Without a schema the input is any JSON (or plain text).

The notice carries a link to the run's page and stays until it is closed: "Run started", then what happened
— for a failed run, the step that failed, its error and what to change ("enrich needs input.email: add it to
the run's input"). `sample_input` is what Try runs a step with when there is no run to take data from.
"""

from __future__ import annotations

import html
import json
import weakref
from typing import Any, Literal

from nicegui import ui

from app.engine.exceptions import FlowyardError, InputInvalid, InvalidInput, WorkflowInvalid
from app.engine.inputs import INFERRED, input_problems
from app.engine.model import RunStatus, Trigger
from app.models.people import Permission
from app.models.samples import SampleInput
from app.pages import access, live
from app.pages.context import services
from app.pages.editor.draft import Draft
from app.services.runs import up_to
from components.schema_form import SchemaForm, plain_message

__all__ = ["announce_run_end", "ask_run", "sample_input"]

_notices: weakref.WeakValueDictionary[str, ui.notification] = weakref.WeakValueDictionary()
"""The open notice of each run a Run dialog started (per run id), updated when the run ends."""
_SAMPLE_LABEL = "Sample input"


async def sample_input(editor: Draft) -> Any:
    """The input to try steps with when no run has data yet: the last input the dialog ran with, else the
    workflow's first sample input, else {}."""
    if editor.sample_payload not in (None, {}, ""):
        return editor.sample_payload
    first = await services().inputs.first_sample(editor.workflow_id)
    return first if first is not None else {}


async def ask_run(editor: Draft, *, until: str | None = None) -> None:
    """Ask for the run's input and start it (saving the draft first); refuse a draft with problems.

    `until` (a step's key): “run up to here”, only that step and the steps it depends on run, and the input
    asked for is what they need.
    """
    if not await access.may(Permission.RUN):
        return
    editor.panel.apply_pending()
    if editor.problem_list:
        ui.notify(f"Cannot run: {len(editor.problem_list)} problem(s) to fix first", type="negative")
        editor.show_problem_list()
        return
    definition = editor.definition()
    if definition is not None and until is not None and until not in {n.key for n in definition.nodes}:
        return  # (the step was removed meanwhile)
    needed = up_to(definition, until) if definition is not None and until is not None else definition
    schema = services().inputs.schema(needed, editor.agents) if needed is not None else None
    samples = await services().inputs.samples(editor.workflow_id)
    # in the page's content: asked from the inspector, the dialog must outlive a redraw of the panel
    with ui.context.client.content, ui.dialog() as dialog, ui.card().classes("min-w-[34rem] max-w-[44rem]"):
        RunDialog(editor, dialog, schema, samples, until=until)
    dialog.open()


class RunDialog:
    """The dialog's content: samples, the input (a form or JSON), saving a sample, and starting the run."""

    def __init__(
        self,
        editor: Draft,
        dialog: ui.dialog,
        schema: dict[str, Any] | None,
        samples: list[SampleInput],
        *,
        until: str | None = None,
    ) -> None:
        self.editor = editor
        self.dialog = dialog
        self.schema = schema
        self.samples = samples
        self.until = until
        self.form: SchemaForm | None = None
        self.code: ui.codemirror | None = None
        if until is None:
            ui.label("Run workflow").classes("text-lg font-medium")
        else:
            ui.label(f"Run up to “{_title(editor, until)}”").classes("text-lg font-medium").mark("run-until-title")
            ui.label("Only this step and the steps it depends on run; its output is the run's output.").classes(
                "text-sm fy-muted"
            )
        self.chosen: ui.select | None = None
        initial, sample = self._initial()
        if samples:
            with ui.row().classes("w-full items-center gap-2 no-wrap").mark("samples"):
                # the picker names a sample only when the fields hold it (not the last run's input)
                self.chosen = (
                    ui.select(
                        [s.name for s in samples],
                        label=_SAMPLE_LABEL if sample is not None else "Sample input (the fields hold the last input)",
                        value=sample,
                        on_change=self._fill,
                    )
                    .props("outlined dense")
                    .classes("grow")
                    .mark("sample")
                )
                ui.button("Run with sample", icon="play_circle", on_click=self._run_sample).props(
                    "outline no-caps"
                ).mark("run-sample").tooltip("Run with the chosen sample exactly as it is kept")
        if schema is not None and schema.get(INFERRED):
            fields = ", ".join(f"input.{name}" for name in schema.get("properties", {}))
            ui.label(f"Input for the first step: its templates read {fields}").classes("text-sm fy-muted")
        elif schema is not None:
            ui.label("Input for the first step").classes("text-sm fy-muted")
        else:
            ui.label("Input passed to the first step (JSON, or plain text)").classes("text-sm fy-muted")
        self.body = ui.column().classes("w-full gap-2")
        self._draw(initial)
        self.error = ui.label().classes("text-sm text-negative whitespace-pre-wrap").mark("run-error")
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            if editor.may_edit:
                self.sample_name = (
                    ui.input("Save as sample named…").props("outlined dense").classes("grow").mark("sample-name")
                )
                ui.button("Save as sample", icon="bookmark_add", on_click=self._save_sample).props("flat no-caps").mark(
                    "save-sample"
                )
            else:
                ui.space()
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Run", icon="play_arrow", on_click=self._run_typed).props("unelevated no-caps").mark("start-run")

    # --- the input ------------------------------------------------------------------------------------------

    def _initial(self) -> tuple[Any, str | None]:
        """The last input the workflow ran with when it fits the schema, else the first sample, else empty; and
        the name of the sample it is (None for the last input)."""
        last = self.editor.sample_payload
        usable = last not in (None, {}, "") and not self._problems(last)
        if usable or not self.samples:
            return (last if last is not None else ({} if self.schema is not None else None)), None
        return self.samples[0].input, self.samples[0].name

    def _draw(self, value: Any) -> None:
        self.body.clear()
        with self.body:
            if self.schema is not None:
                self.form = SchemaForm(self.schema, value if isinstance(value, dict) else {}).mark("run-form")
            else:
                text = "" if value is None else value if isinstance(value, str) else json.dumps(value, indent=2)
                self.code = ui.codemirror(text, language="JSON").classes(
                    "w-full h-48 border border-(--fy-border) rounded"
                )

    def _fill(self) -> None:
        sample = self._sample()
        if sample is not None:
            self._draw(sample.input)
            if self.chosen is not None:
                self.chosen.props(f'label="{_SAMPLE_LABEL}"')

    def _sample(self) -> SampleInput | None:
        name = self.chosen.value if self.chosen is not None else None
        return next((s for s in self.samples if s.name == name), None)

    def _typed(self) -> Any:
        if self.form is not None:  # a field left empty is not given (so a required one is named as missing)
            return {name: _whole(value) for name, value in self.form.value.items() if value not in ("", None)}
        return _typed_payload(self.code.value if self.code else "")

    def _problems(self, payload: Any) -> dict[str, str]:
        """Field → what is wrong with it, for what the schema says (declared or inferred)."""
        if self.schema is None:
            return {}
        schema = {k: v for k, v in self.schema.items() if k != INFERRED}
        return {field: message for field, message in input_problems([schema], payload)}

    # --- actions -----------------------------------------------------------------------------------------------

    async def _run_typed(self) -> None:
        payload = self._typed()
        problems = self._problems(payload)
        if problems:
            if self.form is not None:
                self.form.show_errors(problems)
            said = "; ".join(_said(field, message) for field, message in problems.items())
            lead = (
                "The steps need more from the input"
                if self.schema and self.schema.get(INFERRED)
                else ("The input does not fit the first step")
            )
            self.error.set_text(f"{lead}: {said}")
            return
        await self._start(payload)

    async def _run_sample(self) -> None:
        sample = self._sample()
        if sample is None:
            self.error.set_text("Pick a sample to run with.")
            return
        await self._start(sample.input)

    async def _save_sample(self) -> None:
        if not await access.may(Permission.EDIT):
            return
        name = (self.sample_name.value or "").strip()
        if not name:
            self.error.set_text("Give the sample a name to save it under.")
            return
        try:
            self.samples = await services().inputs.keep_sample(
                self.editor.workflow_id, name, self._typed(), by=access.principal()
            )
        except InvalidInput as exc:
            self.error.set_text(f"Not saved: {exc.message}")
            return
        except FlowyardError as exc:
            self.error.set_text(f"Not saved: {exc}")
            return
        self.error.set_text("")
        if self.chosen is not None:
            self.chosen.set_options([s.name for s in self.samples], value=name)
        ui.notify(f"Sample “{name}” saved with the workflow", type="positive", timeout=2000)

    async def _start(self, payload: Any) -> None:
        if not await access.may(Permission.RUN):
            return
        editor = self.editor
        if editor.dirty and not await editor.save():
            return
        try:
            run = await services().runs.start(
                editor.workflow_id,
                input=payload,
                trigger=Trigger.UI,
                started_by=access.principal().label,
                until=self.until,
            )
        except WorkflowInvalid as exc:
            self.error.set_text("; ".join(p.message for p in exc.problems))
            return
        except InputInvalid as exc:
            if self.form is not None:
                self.form.show_errors(dict(exc.problems))
            self.error.set_text(f"The input does not fit the first step: {exc}")
            return
        except FlowyardError as exc:
            self.error.set_text(str(exc))
            return
        self.dialog.close()
        editor.sample_payload = payload
        editor.watch(run.id)
        live.runs_with_notice().add(run.id)
        started = "Run started" if self.until is None else f"Run up to “{_title(editor, self.until)}” started"
        _notices[run.id] = ui.notification(
            _with_link(started, run.id),
            html=True,
            type="ongoing",
            spinner=True,
            actions=CLOSE,
            timeout=None,
            multi_line=True,
        ).mark("run-notice")


CLOSE = [{"label": "Close", "color": "white", "noCaps": True}]
"""The notice's one action: Quasar's own close button takes the accent colour, unreadable on red (on the
warning yellow, flowyard.css makes it dark)."""
NoticeType = Literal["positive", "negative", "warning", "info"]
ENDINGS: dict[str, tuple[str, NoticeType]] = {
    RunStatus.COMPLETED: ("Run completed", "positive"),
    RunStatus.PAUSED: ("Run waiting for approval", "warning"),
    RunStatus.CANCELLED: ("Run cancelled", "info"),
    RunStatus.FAILED: ("Run failed", "negative"),
}


async def announce_run_end(run_id: str, status: str) -> None:
    """Say how run `run_id` ended (or that it waits), with a link to its page, until the person closes it.

    A failed run names the step, its error and the fix when the run's input lacked what the step reads.
    """
    said, kind = ENDINGS.get(status, (f"Run {status.lower()}", "info"))
    if status == RunStatus.FAILED:
        failure = await services().inputs.failure(run_id)
        if failure is not None:
            said = f"Run failed: {failure.summary()}"
    message = _with_link(said, run_id)
    notice = _notices.get(run_id)
    if notice is not None and not notice.is_deleted:
        notice.message, notice.type, notice.spinner = message, kind, False
        return
    _notices[run_id] = ui.notification(
        message, html=True, type=kind, actions=CLOSE, timeout=None, multi_line=True
    ).mark("run-notice")


def _with_link(text: str, run_id: str) -> str:
    """The notice's text (escaped: errors quote what people typed) and the link to the run's page."""
    return f'{html.escape(text)} — <a class="fy-notify-link" href="/runs/{html.escape(run_id)}">open its page</a>'


def _title(editor: Draft, key: str) -> str:
    """What the step `key` is called on the canvas (its title, else its key)."""
    node = next((n for n in editor.canvas.graph.get("nodes", []) if n.get("id") == key), None)
    return str(((node or {}).get("data") or {}).get("title") or key)


def _said(field: str, message: str) -> str:
    """One problem of the input: "seats: Enter a number", or "name is required" as the engine says it."""
    sentence = plain_message(message)
    return f"{field} {message}" if sentence == message else f"{field}: {sentence}"


def _whole(value: Any) -> Any:
    """A form's number without a needless fraction (420.0 → 420): templates do `//` and `range` with them."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _typed_payload(text: str) -> Any:
    """JSON when the text is JSON, else the text itself; nothing typed is null."""
    raw = text.strip()
    try:
        return json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return raw
