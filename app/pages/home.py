"""Placeholder home page until the workflow pages land: shows the workflows and where the API is."""

from __future__ import annotations

from nicegui import ui

from app.pages.context import flowyard


def register() -> None:
    @ui.page("/")
    async def home() -> None:
        page = await flowyard().list_workflows(page=0, size=50)
        with ui.column().classes("w-full max-w-3xl mx-auto p-8 gap-4"):
            ui.label("Flowyard").classes("text-3xl font-semibold")
            ui.label("Durable, multi-step agent workflows.").classes("text-gray-500")
            if not page.items:
                ui.label("No workflows yet — create one through the API (see /docs).").classes("text-gray-600")
            for workflow in page.items:
                with ui.card().classes("w-full"):
                    ui.label(workflow.name).classes("text-lg font-medium")
                    ui.label(workflow.id).classes("font-mono text-xs text-gray-500")
            ui.link("API documentation", "/docs")
