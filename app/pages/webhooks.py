"""A workflow's webhook trigger (`/workflows/{id}/webhook`): its secret URL, how it answers, rotation.

Another system POSTs JSON to the URL and a run starts with that body as its payload. Asynchronous
answers at once with the run id; synchronous waits for the run's output up to a time limit. Rotating
the secret gives a new URL and stops the old one at once. The page (it shows the secret) and each of its
actions are for whoever may edit the workflow.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from nicegui import ui

from app.engine.exceptions import FlowyardError, InvalidInput
from app.models.people import Permission
from app.models.samples import WorkflowInput
from app.models.webhooks import WebhookPublic
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.dialogs import actions, dialog, error_label, show
from app.pages.workflow_tabs import find_workflow, workflow_page

__all__ = ["register"]

MODES = {
    "async": "Asynchronous: answer at once with the run id",
    "sync": "Synchronous: wait for the run and answer with its output",
}


def register() -> None:
    @guard.page("/workflows/{workflow_id}/webhook", Permission.EDIT)
    async def webhook_page(workflow_id: str, request: Request) -> None:
        workflow = await find_workflow(workflow_id)
        if workflow is None:
            return
        with workflow_page(workflow, "Webhook"):
            await WebhookPanel(workflow.id, str(request.base_url).rstrip("/")).build()


class WebhookPanel:
    def __init__(self, workflow_id: str, origin: str) -> None:
        self.workflow_id = workflow_id
        self.origin = origin
        self.info: WebhookPublic | None = None
        self.input: WorkflowInput | None = None

    async def build(self) -> None:
        self.info = await services().webhooks.get(self.workflow_id)
        self.input = await services().inputs.input(self.workflow_id)
        self.panel()
        self.host = ui.element("div")

    async def reload(self) -> None:
        self.info = await services().webhooks.get(self.workflow_id)
        self.panel.refresh()

    @ui.refreshable_method
    def panel(self) -> None:
        info = self.info
        if info is None:
            with ui.column().classes("fy-card fy-empty w-full"):
                with ui.element("div").classes("fy-empty__icon"):
                    ui.icon("webhook")
                ui.label("No webhook yet").classes("fy-empty__title")
                ui.label(
                    "Give this workflow a secret URL: whatever POSTs JSON to it starts a run with that JSON as "
                    "the run's input."
                ).classes("fy-empty__text")
                ui.button("Create webhook", icon="add", on_click=self.create).props("unelevated no-caps").classes(
                    "mt-3"
                ).mark("create-webhook")
            return
        url = self.origin + info.path if info.path else "(the secret cannot be read: rotate it for a new URL)"
        with ui.column().classes("fy-card p-5 gap-4 w-full fy-webhook"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.label("Webhook URL").classes("fy-section-title")
                ui.space()
                ui.switch("On", value=info.enabled, on_change=lambda e: self.save(enabled=e.value)).mark("enabled")
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.input(value=url).props("outlined dense readonly").classes("grow font-mono").mark("webhook-url")
                ui.button(icon="content_copy", on_click=lambda: self.copy(url)).props(
                    'flat round dense aria-label="Copy"'
                ).tooltip("Copy the URL").mark("copy-url")
                ui.button("Rotate secret", icon="autorenew", on_click=self.ask_rotate).props("outline no-caps").mark(
                    "rotate"
                )
            ui.label(
                "The URL is the secret: anyone who has it can start runs. Rotate it if it leaked; the old URL "
                "stops working at once."
            ).classes("fy-muted text-sm")
            with ui.row().classes("w-full gap-3 items-start"):
                mode = ui.select(MODES, label="How it answers", value=info.mode).props("outlined dense")
                mode.classes("grow").mark("mode")
                timeout = ui.number("Wait up to (seconds)", value=info.sync_timeout_seconds, min=1, max=300)
                timeout.props("outlined dense").classes("w-44").mark("sync-timeout")
                limit = ui.number("Largest body (KiB)", value=info.max_body_bytes / 1024, min=1, format="%g")
                limit.props("outlined dense").classes("w-44").mark("max-body")
            timeout.bind_visibility_from(mode, "value", value="sync")
            error = error_label()

            async def apply() -> None:
                if not await access.may(Permission.EDIT):
                    return
                try:
                    await services().webhooks.save(
                        self.workflow_id,
                        enabled=info.enabled,
                        mode=mode.value,
                        sync_timeout_seconds=float(timeout.value or 30),
                        max_body_bytes=int(float(limit.value or 1) * 1024),
                    )
                except InvalidInput as exc:
                    show(error, f"{exc.field}: {exc.message}")
                    return
                except FlowyardError as exc:
                    show(error, str(exc))
                    return
                error.set_visibility(False)
                ui.notify("Webhook saved", type="positive", timeout=1500)
                await self.reload()

            with ui.row().classes("gap-2"):
                ui.button("Save", icon="save", on_click=apply).props("unelevated no-caps").mark("save")
                ui.button("Delete webhook", on_click=self.ask_delete).props("flat no-caps color=negative")
            ui.separator()
            ui.label("Try it").classes("fy-section-title")
            self.body_fields()
            example = json.dumps(example_body(self.input), ensure_ascii=False).replace("'", "'\\''")
            ui.code(f"curl -X POST '{url}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{example}'").classes(
                "w-full text-xs"
            ).props("language=bash")
            answer = (
                '202 {"runId": "...", "status": "QUEUED", "statusUrl": "..."}'
                if info.mode == "async"
                else '200 {"runId": "...", "status": "COMPLETED", "output": ...}  (202 with the run id if it takes '
                "longer than the wait, or waits for an approval)"
            )
            ui.label(f"Answer: {answer}").classes("fy-muted text-sm font-mono")
            facts = []
            if info.last_called_at:
                facts.append(f"Last called {theme.relative_time(info.last_called_at)}")
            if info.rotated_at:
                facts.append(f"secret rotated {theme.relative_time(info.rotated_at)}")
            facts.append(f"created {theme.relative_time(info.created_at)}")
            with ui.row().classes("items-center gap-3"):
                ui.label(" · ".join(facts).capitalize()).classes("fy-muted text-xs").mark("webhook-facts")
                ui.link("Runs it started", f"/runs?workflow={self.workflow_id}&trigger=webhook").classes("text-xs")

    def body_fields(self) -> None:
        """The fields the body should carry, from the workflow's input schema (declared or inferred)."""
        schema = self.input.input_schema if self.input is not None else None
        properties = (schema or {}).get("properties") or {}
        if not properties:
            ui.label("The body is the run's input: any JSON.").classes("fy-muted text-sm")
            return
        required = set((schema or {}).get("required") or [])
        source = "the fields its steps' templates read" if self.input and self.input.inferred else "its first step"
        ui.label(f"The body is the run's input; {source}:").classes("fy-muted text-sm")
        with ui.row().classes("gap-2 flex-wrap").mark("body-fields"):
            for name, spec in properties.items():
                kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
                text = f"{name}: {kind if isinstance(kind, str) else ' or '.join(kind)}" + (
                    ", required" if name in required else ""
                )
                ui.label(text).classes("font-mono text-xs px-2 py-1 rounded border border-(--fy-border)")

    async def create(self) -> None:
        if not await access.may(Permission.EDIT):
            return
        await services().webhooks.save(self.workflow_id)
        ui.notify("Webhook created: POST JSON to its URL to start a run", type="positive")
        await self.reload()

    async def save(self, *, enabled: bool) -> None:
        info = self.info
        if info is None or enabled == info.enabled:
            return
        if not await access.may(Permission.EDIT):
            self.panel.refresh()  # the switch back as it was
            return
        await services().webhooks.save(
            self.workflow_id,
            enabled=enabled,
            mode=info.mode,
            sync_timeout_seconds=info.sync_timeout_seconds,
            max_body_bytes=info.max_body_bytes,
        )
        ui.notify(f"Webhook {'on' if enabled else 'off: its URL answers 404'}", timeout=2000)
        await self.reload()

    @staticmethod
    def copy(url: str) -> None:
        ui.clipboard.write(url)
        ui.notify("URL copied", timeout=1200)

    def ask_rotate(self) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, dialog("Rotate the secret?") as box:
            ui.label("The webhook gets a new URL; callers of the old one get 404 from now on.").classes("fy-subtitle")

            async def rotate() -> None:
                if not await access.may(Permission.EDIT):
                    box.close()
                    return
                await services().webhooks.rotate(self.workflow_id)
                ui.notify("New URL ready: give it to the callers", type="positive")
                await self.reload()
                box.close()

            actions(box, "Rotate", rotate)

    def ask_delete(self) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, dialog("Delete the webhook?") as box:
            ui.label("Its URL stops working. Runs it started stay.").classes("fy-subtitle")

            async def delete() -> None:
                if not await access.may(Permission.EDIT):
                    box.close()
                    return
                await services().webhooks.delete(self.workflow_id)
                await self.reload()
                box.close()

            actions(box, "Delete", delete, color="negative")


PLACEHOLDERS: dict[str, Any] = {"number": 1, "integer": 1, "boolean": True, "object": {}, "array": []}


def example_body(found: WorkflowInput | None) -> Any:
    """A body to try the webhook with: the workflow's first sample input, else one value per field of its schema."""
    if found is None:
        return {}
    if found.samples:
        return found.samples[0].input
    properties = (found.input_schema or {}).get("properties") or {}
    return {name: PLACEHOLDERS.get(_type(spec), f"your {name}") for name, spec in properties.items()}


def _type(spec: Any) -> str:
    kind = spec.get("type") if isinstance(spec, dict) else None
    return kind if isinstance(kind, str) else ""
