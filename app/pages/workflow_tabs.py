"""A workflow's own pages beside its editor: Schedules, Webhook and Batches, under one header with tabs.

`workflow_page(workflow_id, tab)` draws the frame, the breadcrumb, the workflow's name and the tab links,
and yields the workflow (or draws "not found" and yields None) for the page to fill in below. A tab is shown
only to whoever may open its page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from app.engine.exceptions import NotFound
from app.models.workflows import WorkflowPublic
from app.pages import access, guard
from app.pages.context import services
from app.pages.layout import frame

__all__ = ["TABS", "not_found", "shown_tabs", "workflow_page"]

# (label, icon, path under /workflows/{id}); the editor is the workflow's first tab
TABS = [
    ("Editor", "account_tree", ""),
    ("Schedules", "event_repeat", "/schedules"),
    ("Webhook", "webhook", "/webhook"),
    ("Batches", "table_view", "/batches"),
]


def shown_tabs() -> list[tuple[str, str, str]]:
    """The tabs the page's person may open (the Webhook shows its secret URL: only to those who may change it)."""
    who = access.principal()
    shown = []
    for tab in TABS:
        needed = guard.PAGE_RULES.get(f"/workflows/{{workflow_id}}{tab[2]}")
        if needed is None or who.can(needed):
            shown.append(tab)
    return shown


def tab_links(workflow_id: str, active: str) -> None:
    with ui.row().classes("fy-tabs").mark("workflow-tabs"):
        for label, icon, path in shown_tabs():
            link = ui.link(target=f"/workflows/{workflow_id}{path}").classes(
                "fy-tabs__tab" + (" fy-tabs__tab--active" if label == active else "")
            )
            with link:
                ui.icon(icon)
                ui.label(label)
        with ui.link(target=f"/runs?workflow={workflow_id}").classes("fy-tabs__tab"):
            ui.icon("play_circle")
            ui.label("Runs")


def not_found(kind: str, identifier: str, back: str, back_label: str) -> None:
    with frame(f"{kind} not found"), ui.column().classes("fy-empty"):
        ui.label(f"There is no {kind.lower()} “{identifier}”").classes("fy-empty__title")
        ui.button(back_label, on_click=lambda: ui.navigate.to(back)).props("outline no-caps")


@contextmanager
def workflow_page(workflow: WorkflowPublic, tab: str) -> Iterator[None]:
    with frame(f"{tab} · {workflow.name}"):
        with ui.row().classes("fy-page-header w-full items-start"), ui.column().classes("gap-1"):
            with ui.row().classes("items-center gap-2 text-sm fy-muted"):
                ui.link("Workflows", "/workflows").classes("fy-crumb")
                ui.icon("chevron_right").classes("text-base")
                ui.link(workflow.name, f"/workflows/{workflow.id}").classes("fy-crumb")
            ui.label(workflow.name).classes("fy-title").mark("workflow-name")
        tab_links(workflow.id, tab)
        yield


async def find_workflow(workflow_id: str) -> WorkflowPublic | None:
    try:
        return await services().workflows.get(workflow_id)
    except NotFound:
        not_found("Workflow", workflow_id, "/workflows", "All workflows")
        return None
