"""The editor's "Workflow settings" dialog: whether MCP clients find the workflow as a tool at `/mcp`.

Whoever may see the workflow sees the setting (and, when it is on, the tool's name and where clients reach it);
whoever may edit the workflow turns it on or off, checked again on the server when they do.
"""

from __future__ import annotations

from nicegui import events, ui

from app.engine.exceptions import NotFound
from app.models.people import Permission
from app.pages import access
from app.pages.context import services
from app.pages.dialogs import dialog
from app.services.workflow_tools import MCP_PATH

__all__ = ["show_workflow_settings"]


async def show_workflow_settings(workflow_id: str) -> None:
    try:
        workflow = await services().workflows.get(workflow_id)
    except NotFound as exc:
        ui.notify(str(exc), type="warning")
        return
    names = await services().workflow_tools.names()
    request = ui.context.client.request
    endpoint = f"{str(request.base_url).rstrip('/')}{MCP_PATH}" if request is not None else MCP_PATH
    with ui.context.client.content, dialog("Workflow settings", wide=True) as box:  # not in the menu that asked
        _ToolSetting(workflow_id, workflow.offer_as_tool, names.get(workflow_id), endpoint).build()
        with ui.row().classes("fy-dialog__actions"):
            ui.button("Close", on_click=box.close).props("flat no-caps").mark("close")


class _ToolSetting:
    def __init__(self, workflow_id: str, offered: bool, name: str | None, endpoint: str) -> None:
        self.workflow_id = workflow_id
        self.offered = offered
        self.name = name
        self.endpoint = endpoint

    def build(self) -> None:
        may_edit = access.principal().can(Permission.EDIT)
        self.switch = ui.switch("Offer as a tool (MCP)", value=self.offered, on_change=self.change).mark(
            "offer-as-tool"
        )
        if not may_edit:
            self.switch.disable()
            self.switch.tooltip("Your role may look at this workflow, not change it")
        self.where()

    @ui.refreshable_method
    def where(self) -> None:
        with ui.column().classes("gap-1 pl-12 w-full"):
            ui.label(
                f"MCP clients reach Flowyard's tools at {MCP_PATH} with an API token (Authorization: Bearer …); "
                "a call runs this workflow with the tool's arguments as its input and answers with its output."
            ).classes("fy-muted text-sm")
            if self.offered and self.name:
                with ui.row().classes("items-center gap-2 no-wrap").mark("tool-name"):
                    ui.label("Tool").classes("fy-muted text-sm")
                    ui.label(self.name).classes("font-mono text-sm")
                    ui.label("at").classes("fy-muted text-sm")
                    ui.label(self.endpoint).classes("font-mono text-sm")

    async def change(self, event: events.ValueChangeEventArguments[bool | None]) -> None:
        wanted = bool(event.value)
        if wanted == self.offered:
            return
        if not await access.may(Permission.EDIT):
            self.switch.set_value(self.offered)
            return
        saved = await services().workflows.update(self.workflow_id, offer_as_tool=wanted, by=access.principal())
        self.offered = saved.offer_as_tool
        self.name = (await services().workflow_tools.names()).get(self.workflow_id)
        if self.offered:
            ui.notify(f"Offered to MCP clients as the tool “{self.name}”", type="positive")
        else:
            ui.notify("No longer offered to MCP clients", type="positive")
        self.where.refresh()
