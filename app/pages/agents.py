"""The agents page (`/agents`): the saved, configured agents workflows use — list, create, edit, duplicate,
delete (refused while a workflow uses one, naming which) — and one agent's page (`/agents/{id}`) with its
settings as a form generated from its kind's schema and a Test that runs it on a sample input. Creating,
changing, deleting and testing (a test runs the agent with its stored credentials) are for whoever may edit;
others see the same pages read-only.
"""

from __future__ import annotations

import json
import re
from typing import Any

from nicegui import ui

from app.engine.exceptions import Conflict, FlowyardError, InvalidInput, NotFound
from app.models.agents import AgentSummary
from app.models.people import Permission
from app.pages import access, guard
from app.pages.context import services
from app.pages.credentials import credential_choices
from app.pages.dialogs import actions, dialog, error_label, show
from app.pages.layout import frame
from app.pages.tool_choices import tool_choices
from components.agent_tools import ToolChoices
from components.json_view import JsonView
from components.schema_form import CredentialChoices, SchemaForm
from components.template_editor import TemplateEditor
from components.timeline import duration_text

__all__ = ["register"]

AGENT_ID = re.compile(r"^[a-z][a-z0-9_]{1,99}$")


def register() -> None:
    @guard.page("/agents", Permission.VIEW_WORKFLOWS)
    async def agents_page() -> None:
        with frame("Agents"):
            page = AgentsPage()
            await page.build()

    @guard.page("/agents/{agent_id}", Permission.VIEW_WORKFLOWS)
    async def agent_page(agent_id: str) -> None:
        try:
            agent = await services().agents.get(agent_id)
        except NotFound:
            with frame("Agent not found"), ui.column().classes("fy-empty"):
                ui.label(f"There is no agent “{agent_id}”").classes("fy-empty__title")
                ui.button("All agents", on_click=lambda: ui.navigate.to("/agents")).props("outline no-caps")
            return
        with frame(agent.name or agent.id):
            summaries = {s.id: s for s in await services().agents.summaries()}
            tools = (await tool_choices()).without(agent=agent.id)  # (an agent is not a tool of its own)
            AgentPage(summaries[agent.id], credentials=await credential_choices(), tools=tools).build()


def _kind_title(kind: str) -> str:
    known = services().agents.kind(kind)
    return known.title if known else kind


def _kind_icon(kind: str) -> str:
    known = services().agents.kind(kind)
    return known.icon if known else "extension"


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60]
    return slug if AGENT_ID.match(slug or "") else f"agent_{slug}".strip("_")


class AgentsPage:
    def __init__(self) -> None:
        self.agents: list[AgentSummary] = []
        self.may_edit = access.principal().can(Permission.EDIT)

    async def build(self) -> None:
        with ui.row().classes("fy-page-header"):
            with ui.column().classes("gap-1"):
                ui.label("Agents").classes("fy-title")
                ui.label("Saved, configured agents: the steps your workflows are built from.").classes("fy-subtitle")
            ui.space()
            if self.may_edit:
                ui.button("New agent", icon="add", on_click=self.open_create).props("unelevated no-caps").mark("create")
        self.agents = await services().agents.summaries()
        self.listing()
        self.host = ui.element("div")  # dialogs live here, outside the list that refreshes under them

    async def reload(self) -> None:
        self.agents = await services().agents.summaries()
        self.listing.refresh()

    @ui.refreshable_method
    def listing(self) -> None:
        with ui.column().classes("fy-list fy-card fy-agents gap-0"):
            with ui.element("div").classes("fy-list__head"):
                with ui.element("div").classes("fy-list__cells"):
                    for label in ("Agent", "Kind", "Used by"):
                        ui.label(label)
                ui.element("div").classes("fy-list__actions")
            for agent in self.agents:
                self.row(agent)

    def row(self, agent: AgentSummary) -> None:
        with ui.element("div").classes("fy-list__row").mark("agent-row", agent.id):
            with ui.link(target=f"/agents/{agent.id}").classes("fy-list__cells"):
                with ui.row().classes("items-center gap-3 no-wrap min-w-0"):
                    with ui.element("div").classes("fy-example__icon fy-agent__icon"):
                        ui.icon(_kind_icon(agent.kind))
                    with ui.column().classes("fy-col-name gap-0"):
                        ui.label(agent.name).classes("fy-workflow__name")
                        text = agent.id + (f" · {agent.description}" if agent.description else "")
                        ui.label(text).classes("fy-workflow__description")
                ui.label(_kind_title(agent.kind)).classes("fy-cell-text")
                used = len(agent.used_by)
                label = ui.label(f"{used} workflow{'' if used == 1 else 's'}" if used else "Not used").classes(
                    "fy-cell-text"
                )
                if used:
                    label.tooltip(", ".join(name for _, name in agent.used_by[:10]))
            actions_cell = ui.element("div").classes("fy-list__actions")
            if not self.may_edit:  # (the row opens the agent; there is nothing else to do with it)
                return
            with (
                actions_cell,
                ui.button(icon="more_vert", color=None)
                .props('flat round dense aria-label="More actions"')
                .mark("agent-actions"),
                ui.menu().props("anchor='bottom right' self='top right'"),
            ):
                ui.menu_item("Edit and test", lambda a=agent: ui.navigate.to(f"/agents/{a.id}")).mark("edit")
                ui.menu_item("Duplicate", lambda a=agent: self.duplicate(a)).mark(f"duplicate-{agent.id}")
                ui.separator()
                ui.menu_item("Delete", lambda a=agent: self.open_delete(a)).classes("text-negative").mark(
                    f"delete-{agent.id}"
                )

    def open_create(self) -> None:
        if not access.allowed(Permission.EDIT):
            return
        known = {kind.kind: kind for kind in sorted(services().agents.kinds(), key=lambda k: k.title)}
        kinds = {name: kind.title for name, kind in known.items()}
        with self.host, dialog("New agent") as box:
            kind = ui.select(kinds, label="Kind", value=next(iter(kinds))).props("outlined").classes("w-full")
            kind.mark("kind")
            with ui.row().classes("w-full items-start gap-3 no-wrap").mark("kind-about"):
                with ui.element("div").classes("fy-example__icon fy-agent__icon"):
                    kind_icon = ui.icon(known[kind.value].icon)
                kind_about = ui.label(known[kind.value].description).classes("fy-muted text-sm")

            def about(chosen: str | None) -> None:  # what the chosen kind is, before it is created
                if chosen in known:
                    kind_icon.set_name(known[chosen].icon)
                    kind_about.set_text(known[chosen].description)

            kind.on_value_change(lambda e: about(e.value))
            name = ui.input("Name").props("outlined autofocus").classes("w-full").mark("name")
            agent_id = ui.input("Id (used in workflows and the API)").props("outlined").classes("w-full font-mono")
            agent_id.mark("agent-id")
            name.on_value_change(lambda e: agent_id.set_value(_slug(e.value or "")))
            error = error_label()

            async def create() -> None:
                if not await access.may(Permission.EDIT):
                    return
                if not (name.value or "").strip():
                    show(error, "Give the agent a name")
                    return
                if not AGENT_ID.match(agent_id.value or ""):
                    show(error, "The id is 2 to 100 lowercase letters, digits or _, starting with a letter")
                    return
                try:
                    created = await services().agents.create(
                        id=agent_id.value, name=name.value.strip(), kind=kind.value, config={}
                    )
                except InvalidInput as exc:
                    if exc.field == "config":  # the kind needs settings: create it with its defaults filled later
                        show(error, f"This kind needs settings before it can be saved: {exc.message}")
                    else:
                        show(error, f"{exc.field}: {exc.message}")
                    return
                except FlowyardError as exc:
                    show(error, str(exc))
                    return
                ui.navigate.to(f"/agents/{created.id}")
                box.close()  # last: closing deletes the dialog, and this handler's context with it

            actions(box, "Create", create)

    async def duplicate(self, agent: AgentSummary) -> None:
        if not await access.may(Permission.EDIT):
            return
        taken = {a.id for a in self.agents}
        number = 2
        while f"{agent.id}_{number}"[:100] in taken:
            number += 1
        try:
            copy = await services().agents.create(
                id=f"{agent.id}_{number}"[:100],
                name=f"{agent.name} (copy)",
                kind=agent.kind,
                description=agent.description,
                config=agent.config,
            )
        except FlowyardError as exc:
            ui.notify(f"Couldn't duplicate “{agent.name}”: {exc}", type="negative")
            return
        ui.notify(f"Duplicated as “{copy.name}”")
        await self.reload()

    def open_delete(self, agent: AgentSummary) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, dialog(f"Delete “{agent.name}”?") as box:
            if agent.used_by:
                ui.label("It cannot be deleted while workflows use it:").classes("fy-subtitle")
                with ui.column().classes("gap-0"):
                    for workflow_id, name in agent.used_by[:20]:
                        ui.link(name, f"/workflows/{workflow_id}").classes("text-sm")
                with ui.row().classes("fy-dialog__actions"):
                    ui.button("Close", on_click=box.close).props("flat no-caps")
                return
            ui.label("Workflows can no longer use it. This cannot be undone.").classes("fy-subtitle")

            async def delete() -> None:
                if not await access.may(Permission.EDIT):
                    box.close()
                    return
                try:
                    await services().agents.delete(agent.id)
                except (Conflict, NotFound) as exc:
                    ui.notify(str(exc), type="warning", multi_line=True)
                else:
                    ui.notify(f"Deleted “{agent.name}”")
                await self.reload()
                box.close()

            actions(box, "Delete", delete, color="negative")


class AgentPage:
    def __init__(
        self,
        agent: AgentSummary,
        *,
        credentials: CredentialChoices | None = None,
        tools: ToolChoices | None = None,
    ) -> None:
        self.agent = agent
        self.credentials = credentials  # what its credential field offers
        self.tools = tools  # what its tools field (an agent kind's) offers
        self.may_edit = access.principal().can(Permission.EDIT)

    def build(self) -> None:
        agent = self.agent
        kind = services().agents.kind(agent.kind)
        with ui.row().classes("fy-page-header w-full items-start"):
            with ui.column().classes("gap-1"):
                with ui.row().classes("items-center gap-2 text-sm fy-muted"):
                    ui.link("Agents", "/agents").classes("fy-crumb")
                    ui.icon("chevron_right").classes("text-base")
                    ui.label(agent.id).classes("font-mono")
                ui.label(agent.name).classes("fy-title").mark("agent-name")
                ui.label(f"{_kind_title(agent.kind)} · {kind.description if kind else ''}").classes("fy-subtitle")
        with ui.row().classes("w-full no-wrap gap-4 items-start"):
            with ui.column().classes("fy-card grow gap-3 p-5"):
                ui.label("Settings").classes("fy-section-title")
                fields = ui.column().classes("w-full gap-3")
                if not self.may_edit:  # read, not change: no field takes input (the save checks again)
                    fields.props("inert").mark("read-only")
                with fields:
                    name = ui.input("Name", value=agent.name).props("outlined dense").classes("w-full").mark("name")
                    description = ui.textarea("Description", value=agent.description).props("outlined dense autogrow")
                    description.classes("w-full").mark("description")
                    form = (
                        SchemaForm(kind.config_schema, agent.config, credentials=self.credentials, tools=self.tools)
                        if kind
                        else None
                    )
                error = error_label()

                async def save() -> None:
                    if not await access.may(Permission.EDIT):
                        return
                    config = dict(form.value) if form is not None else agent.config
                    try:
                        await services().agents.update(
                            agent.id,
                            name=name.value.strip() or agent.name,
                            description=description.value,
                            config=config,
                        )
                    except InvalidInput as exc:
                        marked = {
                            e.split(":", 1)[0]: e.split(":", 1)[1].strip() for e in exc.message.split("; ") if ":" in e
                        }
                        fields = form.schema.get("properties", {}) if form is not None else {}
                        if form is not None and marked and all(k.split(".")[0] in fields for k in marked):
                            form.show_errors(marked)
                            show(error, "Not saved: fix the settings marked above.")
                        else:
                            show(error, exc.message)
                        return
                    except FlowyardError as exc:
                        show(error, str(exc))
                        return
                    error.set_visibility(False)
                    if form is not None:
                        form.show_errors({})
                    ui.notify("Saved", type="positive", timeout=1500)

                if self.may_edit:
                    ui.button("Save", icon="save", on_click=save).props("unelevated no-caps").mark("save")
            with ui.column().classes("fy-card gap-3 p-5 fy-agent-side"):
                if self.may_edit:
                    self.test_panel()
                    ui.separator()
                ui.label("Used by").classes("fy-section-title")
                if not agent.used_by:
                    ui.label("No workflow uses this agent yet.").classes("fy-muted text-sm")
                for workflow_id, workflow_name in agent.used_by:
                    ui.link(workflow_name, f"/workflows/{workflow_id}").classes("text-sm")

    def test_panel(self) -> None:
        ui.label("Test").classes("fy-section-title")
        ui.label("Run this agent once on a sample input, with its saved settings. Nothing is stored.").classes(
            "fy-muted text-sm"
        )
        ui.label("Action (the step's instruction or template)").classes("text-xs fy-muted")
        action = TemplateEditor("", completions=["input", "payload"]).classes("w-full h-20").mark("test-action")
        ui.label("Sample input (JSON, or plain text)").classes("text-xs fy-muted")
        sample = (
            ui.codemirror('{"email": "ada@example.com"}', language="JSON")
            .classes("w-full h-28 border border-(--fy-border) rounded")
            .props('data-label="Sample input"')
        )
        sample.mark("test-input")
        result = ui.column().classes("w-full gap-1")

        async def run() -> None:
            if not await access.may(Permission.EDIT):
                return
            raw = sample.value.strip()
            try:
                value: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                value = raw
            result.clear()
            with result:
                ui.spinner()
            trial = await services().agents.test(self.agent.id, input=value, action=action.value)
            result.clear()
            with result:
                if trial.error:
                    ui.label(trial.error).classes("fy-error whitespace-pre-wrap font-mono").mark("test-error")
                    ui.label(f"after {duration_text(trial.duration_ms / 1000)}").classes("text-xs fy-muted")
                    return
                facts = [f"Output in {duration_text(trial.duration_ms / 1000)}"]
                if trial.usage:
                    facts.append(f"{trial.usage.get('total_tokens', '?')} tokens")
                if trial.waits_for_approval:
                    facts.append("would wait for approval")
                ui.label(" · ".join(facts)).classes("text-sm text-positive").mark("test-summary")
                JsonView(trial.output, empty="No output").mark("test-output")

        ui.button("Run test", icon="science", on_click=run).props("outline no-caps").mark("run-test")
