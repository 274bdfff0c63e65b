"""The editor's version history: every saved version, one on a read-only canvas, and restoring one (for whoever
may edit the workflow)."""

from __future__ import annotations

from nicegui import ui

from app.models.people import Permission
from app.pages import access
from app.pages.context import services
from app.pages.editor.compare import show_comparison
from app.pages.editor.draft import Draft
from app.services.graph import definition_to_graph
from components.graph_editor import GraphEditor

__all__ = ["show_history"]

TIME = "%Y-%m-%d %H:%M:%S UTC"


async def show_history(editor: Draft) -> None:
    versions = await services().workflows.versions(editor.workflow_id)
    with ui.dialog() as dialog, ui.card().classes("min-w-[30rem]").style("max-width: 46rem"):
        with ui.row().classes("w-full items-center"):
            ui.label("Version history").classes("text-lg font-medium")
            ui.space()
            if len(versions) > 1:

                async def compare_latest() -> None:
                    dialog.close()
                    await show_comparison(editor)

                ui.button(f"What changed in v{versions[0].version}", icon="difference", on_click=compare_latest).props(
                    "flat dense no-caps"
                ).mark("compare-latest")
        if not versions:
            ui.label("Nothing saved yet.").classes("text-gray-500")
        for info in versions:
            with ui.row().classes("w-full items-center gap-3 no-wrap"):
                ui.label(f"v{info.version}").classes("font-mono w-12")
                ui.label(info.created_at.strftime(TIME)).classes("text-sm text-gray-600")
                ui.label(f"{info.nodes} steps").classes("text-sm text-gray-500")
                ui.space()

                async def view(version: int = info.version) -> None:
                    dialog.close()
                    await view_version(editor, version)

                async def restore(version: int = info.version) -> None:
                    dialog.close()
                    await restore_version(editor, version)

                async def compare(version: int = info.version) -> None:
                    dialog.close()
                    newest = versions[0].version
                    await show_comparison(editor, *((None, version) if version == newest else (version, newest)))

                ui.button("View", icon="visibility", on_click=view).props("flat dense no-caps").mark(
                    f"view-v{info.version}"
                )
                if len(versions) > 1:
                    ui.button("Compare", icon="difference", on_click=compare).props("flat dense no-caps").mark(
                        f"compare-v{info.version}"
                    ).tooltip(
                        f"What changed from v{info.version} to the saved v{versions[0].version}"
                        if info.version != versions[0].version
                        else f"What changed in v{info.version} from the version before"
                    )
                if editor.may_edit:
                    ui.button("Restore", icon="restore", on_click=restore).props("flat dense no-caps").mark(
                        f"restore-v{info.version}"
                    )
        ui.button("Close", on_click=dialog.close).props("flat no-caps")
    dialog.open()


async def view_version(editor: Draft, version: int) -> None:
    """An older version on a read-only canvas, to look at before restoring it."""
    definition = await services().workflows.version_definition(editor.workflow_id, version)
    info = next((v for v in await services().workflows.versions(editor.workflow_id) if v.version == version), None)
    page = ui.context.client.content
    with (
        ui.dialog().props("maximized transition-show=none transition-hide=none") as dialog,  # measured unscaled
        ui.card().classes("w-full h-full p-0 gap-0"),
    ):
        with ui.row().classes("w-full items-center gap-3 px-4 py-2 border-b border-(--fy-border)"):
            ui.icon("history").classes("text-xl text-primary")
            ui.label(f"{editor.name} — version {version}").classes("text-lg font-medium")
            if info is not None:
                ui.label(f"saved {info.created_at.strftime(TIME)} · {info.nodes} steps").classes(
                    "text-sm text-gray-500"
                )
            ui.badge("read-only", color="grey-7").props("outline")
            ui.space()

            async def restore() -> None:
                dialog.close()  # (and deleted: what follows runs on the page, not inside it)
                with page:
                    await restore_version(editor, version)

            if editor.may_edit:
                ui.button("Restore this version", icon="restore", on_click=restore).props("unelevated no-caps")
            ui.button("Close", on_click=dialog.close).props("flat no-caps").mark("close-version")
        GraphEditor(definition_to_graph(definition, editor.agents), readonly=True).classes("w-full grow").mark(
            "version-canvas"
        )
    dialog.on("hide", dialog.delete)
    dialog.open()


async def restore_version(editor: Draft, version: int) -> None:
    """Make `version` current again (as a new version), asking first when that would drop unsaved edits."""
    if not await access.may(Permission.EDIT):
        return
    if editor.dirty:  # restoring replaces the canvas: unsaved edits would be lost silently
        # on the page itself: the version view asking for this is closing, and its children go with it
        with ui.context.client.content, ui.dialog() as confirm, ui.card():
            ui.label(f"Restore version {version}?").classes("text-lg font-medium")
            ui.label("Your unsaved changes will be lost.").classes("text-sm")
            with ui.row().classes("w-full justify-end"):
                ui.button("Keep editing", on_click=lambda: confirm.submit(False)).props("flat no-caps")
                ui.button("Discard and restore", on_click=lambda: confirm.submit(True)).props(
                    "unelevated no-caps color=negative"
                )
        confirm.on("hide", confirm.delete)
        if not await confirm:
            return
    workflow = await services().workflows.restore_version(editor.workflow_id, version, by=access.principal())
    definition = await services().workflows.definition(editor.workflow_id)
    editor.replace(definition, version=workflow.version)
    ui.notify(f"Restored version {version} as version {workflow.version}", type="positive")
