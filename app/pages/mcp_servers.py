"""The MCP servers page (`/mcp-servers`, a server's tools at `/mcp-servers/{id}`): the servers whose tools steps
and agents call. Each is a command Flowyard starts (stdio: admins only, it runs on this host) or a Streamable HTTP
URL (with a credential and extra headers). Environment and header values are write-only, like credentials.

**Connect and list tools** connects now and keeps the listing; each tool shows its description and input schema,
and **Test** calls it with JSON arguments and shows the result or the error. Every handler checks the person's
role on the server again when it acts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.engine.exceptions import AgentError, FlowyardError, InvalidInput
from app.models.mcp import McpServerCreate, McpServerPublic, McpServerUpdate, McpTool
from app.models.people import Permission
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.credentials import credential_choices
from app.pages.dialogs import actions, body, confirm, dialog, error_label, show
from app.pages.layout import frame
from components.json_view import JsonView
from components.schema_form import CredentialChoices, SchemaForm
from components.timeline import duration_text

__all__ = ["register"]

TRANSPORT_LABELS = {"stdio": "Command", "http": "URL"}
_CREDENTIAL_SCHEMA = {
    "type": "object",
    "properties": {"credential": {"type": "string", "format": "credential", "title": "Credential (optional)"}},
}


def register() -> None:
    @guard.page("/mcp-servers", Permission.VIEW_WORKFLOWS)
    async def mcp_servers_page() -> None:
        with frame("MCP servers"):
            await McpServersPage(None).build()

    @guard.page("/mcp-servers/{server_id}", Permission.VIEW_WORKFLOWS)
    async def mcp_server_page(server_id: str) -> None:
        with frame("MCP servers"):
            await McpServersPage(server_id).build()


class McpServersPage:
    def __init__(self, selected: str | None) -> None:
        self.items: list[McpServerPublic] = []
        self.selected = selected

    async def build(self) -> None:
        with ui.row().classes("fy-page-header"):
            with ui.column().classes("gap-1"):
                ui.label("MCP servers").classes("fy-title")
                ui.label(
                    "Servers whose tools your steps and agents call: a command Flowyard starts, or a URL."
                ).classes("fy-subtitle")
            ui.space()
            if access.allowed(Permission.EDIT, quiet=True):
                ui.button("Add server", icon="add", on_click=self.open_create).props("unelevated no-caps").mark(
                    "create"
                )
        self.items = await services().mcp.list()
        if self.selected is not None:
            found = self._find(self.selected)
            self.selected = found.id if found else None
        self.listing()
        self.tools_panel()
        self.host = ui.element("div")

    def _find(self, key: str) -> McpServerPublic | None:
        return next((s for s in self.items if key in (s.id, s.name)), None)

    async def reload(self) -> None:
        self.items = await services().mcp.list()
        self.listing.refresh()
        self.tools_panel.refresh()

    def select(self, server: McpServerPublic) -> None:
        self.selected = server.id
        ui.navigate.history.replace(f"/mcp-servers/{server.id}")
        self.listing.refresh()
        self.tools_panel.refresh()

    # --- the list ---------------------------------------------------------------------------------------------

    @ui.refreshable_method
    def listing(self) -> None:
        with ui.column().classes("fy-list fy-card fy-mcp-servers gap-0"):
            if not self.items:
                with ui.column().classes("fy-empty"):
                    with ui.element("div").classes("fy-empty__icon"):
                        ui.icon("hub")
                    ui.label("No MCP servers yet").classes("fy-empty__title")
                    ui.label(
                        "Add a server by its command (it runs on this machine) or by its URL; then its tools can be "
                        "called by an MCP tool step or offered to an agent."
                    ).classes("fy-empty__text")
                return
            with ui.element("div").classes("fy-list__head"):
                with ui.element("div").classes("fy-list__cells"):
                    for label in ("Name", "Transport", "Tools", "Last listed"):
                        ui.label(label)
                ui.element("div").classes("fy-list__actions")
            for item in self.items:
                active = " fy-list__row--selected" if item.id == self.selected else ""
                with ui.element("div").classes("fy-list__row" + active).mark("mcp-row", item.name):
                    with (
                        ui.element("div")
                        .classes("fy-list__cells cursor-pointer")
                        .on("click", lambda _, i=item: self.select(i))
                    ):
                        with ui.column().classes("gap-0 min-w-0 w-full overflow-hidden"):
                            with ui.row().classes("items-center gap-2 no-wrap"):
                                ui.icon("terminal" if item.transport == "stdio" else "language").classes("fy-muted")
                                ui.label(item.name).classes("fy-workflow__name font-mono")
                            ui.label(_where(item)).classes("fy-cell-text fy-muted font-mono truncate w-full").tooltip(
                                _where(item)
                            )
                        ui.label(TRANSPORT_LABELS.get(item.transport, item.transport)).classes("fy-cell-text")
                        ui.label("—" if item.tools is None else str(len(item.tools))).classes("fy-cell-text").mark(
                            f"tool-count-{item.name}"
                        )
                        if item.tools_listed_at is not None:
                            theme.time_label(item.tools_listed_at)
                        else:
                            ui.label("never").classes("fy-cell-text fy-muted")
                    self._row_menu(item)

    def _row_menu(self, item: McpServerPublic) -> None:
        with (
            ui.element("div").classes("fy-list__actions"),
            ui.button(icon="more_vert", color=None).props(f'flat round dense aria-label="Actions of {item.name}"'),
            ui.menu().props("anchor='bottom right' self='top right'"),
        ):
            ui.menu_item("Connect and list tools", lambda i=item: self.list_tools(i)).mark(f"list-{item.name}")
            if self._may_change(item, quiet=True):
                ui.menu_item("Edit", lambda i=item: self.open_edit(i)).mark(f"edit-{item.name}")
                ui.separator()
                ui.menu_item("Delete", lambda i=item: self.open_delete(i)).classes("text-negative").mark(
                    f"delete-{item.name}"
                )

    @staticmethod
    def _may_change(item: McpServerPublic | None, *, quiet: bool = False, transport: str | None = None) -> bool:
        """Whether the page's person may add or change this server: stdio ones (before or after) need an admin."""
        stdio = "stdio" in ((item.transport if item else None), transport)
        return access.allowed(Permission.MANAGE if stdio else Permission.EDIT, quiet=quiet)

    # --- a server's tools ---------------------------------------------------------------------------------------

    @ui.refreshable_method
    def tools_panel(self) -> None:
        server = self._find(self.selected) if self.selected else None
        if server is None:
            if self.items:
                ui.label("Select a server to see its tools.").classes("fy-muted text-sm q-mt-md")
            return
        with ui.column().classes("fy-card w-full gap-3 p-5 q-mt-md").mark("tools-panel"):
            with ui.row().classes("w-full items-center"):
                with ui.column().classes("gap-0"):
                    ui.label(f"Tools of {server.name}").classes("fy-section-title")
                    if server.description:
                        ui.label(server.description).classes("fy-muted text-sm")
                ui.space()
                ui.button("Connect and list tools", icon="sync", on_click=lambda s=server: self.list_tools(s)).props(
                    "outline no-caps"
                ).mark("list-tools")
            if server.tools is None:
                ui.label("Not connected yet: connect to list the tools it offers.").classes("fy-muted text-sm")
                return
            if not server.tools:
                ui.label("The server offers no tools.").classes("fy-muted text-sm")
                return
            may_test = access.allowed(Permission.EDIT, quiet=True)
            for tool in server.tools:
                self._tool(server, tool, may_test=may_test)

    def _tool(self, server: McpServerPublic, tool: McpTool, *, may_test: bool) -> None:
        """One tool: its name and description, its schemas behind a button, and Test."""
        with ui.column().classes("fy-mcp-tool w-full gap-2").mark(f"tool-{tool.name}"):
            with ui.row().classes("w-full items-center gap-3 no-wrap"):
                with ui.column().classes("flex-1 min-w-0 gap-0"):
                    ui.label(tool.name).classes("font-mono fy-mcp-tool__name")
                    if tool.description:
                        ui.label(tool.description).classes("fy-muted text-sm")
                schemas_button = (
                    ui.button("Schema", icon="data_object", color=None)
                    .props('flat dense no-caps aria-expanded="false"')
                    .mark(f"schema-{tool.name}")
                )
                if may_test:
                    ui.button("Test", icon="science", on_click=lambda: self.open_test(server, tool)).props(
                        "outline no-caps dense"
                    ).mark(f"test-{tool.name}")
            with ui.row().classes("w-full items-start gap-4 no-wrap") as schemas:
                with ui.column().classes("flex-1 min-w-0 gap-1"):
                    ui.label("Input schema").classes("text-xs fy-muted")
                    JsonView(tool.input_schema, empty="No arguments", max_height="16rem")
                if tool.output_schema:
                    with ui.column().classes("flex-1 min-w-0 gap-1"):
                        ui.label("Output schema").classes("text-xs fy-muted")
                        JsonView(tool.output_schema, max_height="16rem")
            schemas.set_visibility(False)

            def toggle() -> None:
                schemas.set_visibility(not schemas.visible)
                schemas_button.props(f'aria-expanded="{str(schemas.visible).lower()}"')

            schemas_button.on_click(toggle)

    async def list_tools(self, server: McpServerPublic) -> None:
        if not await access.may(Permission.VIEW_WORKFLOWS):
            return
        self.selected = server.id
        note = ui.notification(f"Connecting to “{server.name}”…", spinner=True, timeout=None)
        try:
            listed = await services().mcp.refresh_tools(server.id)
        except AgentError as exc:
            note.dismiss()
            ui.notify(str(exc), type="negative", multi_line=True, close_button=True, timeout=0)
            return
        except FlowyardError as exc:
            note.dismiss()
            ui.notify(str(exc), type="negative")
            return
        note.dismiss()
        count = len(listed.tools or [])
        ui.notify(f"“{server.name}” offers {count} tool{'s' if count != 1 else ''}", type="positive")
        await self.reload()

    def open_test(self, server: McpServerPublic, tool: McpTool) -> None:
        if not access.allowed(Permission.EDIT):
            return
        with self.host, dialog(f"Test {tool.name}", wide=True) as box, body():
            ui.label(f"Calls the tool on “{server.name}” now, with these arguments (a JSON object).").classes(
                "fy-subtitle"
            )
            editor = (
                ui.codemirror(json.dumps(_example(tool.input_schema), indent=2), language="JSON")
                .classes("w-full h-40 border border-(--fy-border) rounded")
                .props('data-label="Arguments"')
                .mark("arguments")
            )
            error = error_label()
            result = ui.column().classes("w-full gap-1").mark("test-result")

            async def call() -> None:
                if not await access.may(Permission.EDIT):
                    return
                try:
                    arguments = json.loads(editor.value or "{}")
                except json.JSONDecodeError as exc:
                    show(error, f"Arguments: not JSON ({exc.msg}, line {exc.lineno})")
                    return
                if not isinstance(arguments, dict):
                    show(error, 'Arguments: must be a JSON object, like {"a": 1}')
                    return
                error.set_visibility(False)
                result.clear()
                with result:
                    ui.spinner()
                outcome = await services().mcp.test_call(server.id, tool.name, arguments)
                result.clear()
                with result:
                    took = duration_text(outcome.duration_ms / 1000)
                    if not outcome.ok:
                        ui.label(outcome.error or "Failed").classes("fy-error whitespace-pre-wrap font-mono").mark(
                            "test-error"
                        )
                        ui.label(f"after {took}").classes("text-xs fy-muted")
                        return
                    ui.label(f"Result in {took}").classes("text-sm text-positive").mark("test-summary")
                    JsonView(outcome.result, empty="No result").mark("test-output")

            actions(box, "Call", call)

    # --- adding, changing, deleting -------------------------------------------------------------------------

    async def open_create(self) -> None:
        if not access.allowed(Permission.EDIT):
            return
        await self._edit_dialog(None)

    async def open_edit(self, item: McpServerPublic) -> None:
        if not self._may_change(item):
            return
        await self._edit_dialog(item)

    async def _edit_dialog(self, item: McpServerPublic | None) -> None:
        admin = access.allowed(Permission.MANAGE, quiet=True)
        credentials = await credential_choices()
        with self.host:
            ServerForm(item, admin=admin, credentials=credentials, on_saved=self._saved)

    async def _saved(self, server: McpServerPublic) -> None:
        self.selected = server.id
        await self.reload()

    def open_delete(self, item: McpServerPublic) -> None:
        if not self._may_change(item):
            return

        async def delete() -> None:
            if not await access.may(Permission.MANAGE if item.transport == "stdio" else Permission.EDIT):
                return
            try:
                await services().mcp.delete(item.id, by=access.principal())
            except FlowyardError as exc:
                ui.notify(str(exc), type="negative")
                return
            ui.notify(f"Deleted “{item.name}”")
            if self.selected == item.id:
                self.selected = None
            await self.reload()

        with self.host:
            confirm(
                f"Delete “{item.name}”?",
                "Steps and agents that call its tools would fail. This cannot be undone.",
                "Delete",
                delete,
            )


class ServerForm:
    """The add / edit dialog of one MCP server: name, description, transport and its fields, timeout."""

    def __init__(
        self,
        item: McpServerPublic | None,
        *,
        admin: bool,
        credentials: CredentialChoices,
        on_saved: Callable[[McpServerPublic], Any],
    ) -> None:
        self.item = item
        self.on_saved = on_saved
        editing = item is not None
        transport = item.transport if item else ("stdio" if admin else "http")
        with dialog(f"Edit “{item.name}”" if item else "Add MCP server", wide=True) as self.box:
            with body():
                self.name = ui.input("Name (how steps refer to it)", value=item.name if item else "")
                self.name.props("outlined autofocus").classes("w-full font-mono").mark("name")
                self.description = ui.input("Description", value=item.description if item else "")
                self.description.props("outlined").classes("w-full").mark("description")
                options = {"stdio": "Command (stdio)", "http": "URL (Streamable HTTP)"}
                if not admin:  # (a command runs on this machine: the service refuses it to others too)
                    options.pop("stdio")
                self.transport = ui.toggle(options, value=transport).props("no-caps").mark("transport")
                if not admin:
                    ui.label("Only an admin can add a server by command: it runs on this machine.").classes(
                        "text-xs fy-muted"
                    )
                self.stdio = ui.column().classes("w-full gap-2")
                with self.stdio:
                    self.command = ui.input("Command", value=(item.command if item else "") or "")
                    self.command.props("outlined").classes("w-full font-mono").mark("command")
                    self.command.props('placeholder="npx"')
                    self.args = (
                        ui.textarea("Arguments, one per line", value="\n".join(item.args) if item else "")
                        .props("outlined autogrow")
                        .classes("w-full font-mono")
                        .mark("args")
                    )
                    self.env = Rows("Environment", "Variable", item.env_names if item else [], editing=editing)
                self.http = ui.column().classes("w-full gap-2")
                with self.http:
                    self.url = ui.input("URL", value=(item.url if item else "") or "")
                    self.url.props('outlined placeholder="https://example.com/mcp"').classes("w-full font-mono")
                    self.url.mark("url")
                    current = {"credential": item.credential} if item and item.credential else {}
                    self.credential = SchemaForm(_CREDENTIAL_SCHEMA, current, credentials=credentials)
                    self.headers = Rows("Headers", "Header", item.header_names if item else [], editing=editing)
                self.timeout = ui.number("Timeout (seconds)", value=item.timeout_seconds if item else 30, min=0.1)
                self.timeout.props('outlined hint="For connecting, and for each call"').classes("w-64").mark("timeout")
                self.error = error_label()
            self._show(transport)
            self.transport.on_value_change(lambda e: self._show(e.value))
            actions(self.box, "Save", self.save)

    def _show(self, transport: str) -> None:
        self.stdio.set_visibility(transport == "stdio")
        self.http.set_visibility(transport == "http")

    async def save(self) -> None:
        transport = self.transport.value
        needed = Permission.MANAGE if "stdio" in (transport, self.item.transport if self.item else None) else (
            Permission.EDIT)  # fmt: skip
        if not await access.may(needed):
            return
        stdio = transport == "stdio"
        fields: dict[str, Any] = {
            "name": (self.name.value or "").strip(),
            "description": self.description.value or "",
            "transport": transport,
            "timeout_seconds": float(self.timeout.value or 30),
        }
        if stdio:
            fields["command"] = (self.command.value or "").strip()
            fields["args"] = [line for line in (self.args.value or "").splitlines() if line.strip()]
            fields["env"] = self.env.value()
        else:
            fields["url"] = (self.url.value or "").strip()
            fields["credential"] = self.credential.value.get("credential") or None
            fields["headers"] = self.headers.value()
        mcp = services().mcp
        try:
            if self.item is None:
                fields["env"] = {k: v or "" for k, v in fields.get("env", {}).items()}
                fields["headers"] = {k: v or "" for k, v in fields.get("headers", {}).items()}
                saved = await mcp.create(McpServerCreate.model_validate(fields), by=access.principal())
            else:
                saved = await mcp.update(self.item.id, McpServerUpdate.model_validate(fields), by=access.principal())
        except InvalidInput as exc:
            show(self.error, f"{_label(exc.field)}: {exc.message}")
            return
        except FlowyardError as exc:
            show(self.error, str(exc))
            return
        except ValueError as exc:  # pydantic's: a field the form could not fill as the model needs
            show(self.error, _validation_text(exc))
            return
        self.env.forget()
        self.headers.forget()
        ui.notify(f"Saved “{saved.name}”", type="positive")
        done = self.on_saved(saved)
        if done is not None:
            await done
        self.box.close()


class Rows:
    """Name / value rows for secrets (environment variables, headers). Values are write-only: when editing, the
    stored names come back with empty values, which keep what is stored unless something is typed."""

    def __init__(self, title: str, what: str, names: list[str], *, editing: bool) -> None:
        self.what = what
        self.rows: list[tuple[ui.input, ui.input, ui.row]] = []
        self.kept = set(names)
        ui.label(title).classes("text-xs fy-muted")
        self.box = ui.column().classes("w-full gap-1").mark(f"rows-{title.lower()}")
        for name in names:
            self.add(name, placeholder="unchanged" if editing else "")
        ui.button(f"Add {what.lower()}", icon="add", on_click=lambda: self.add("")).props("flat dense no-caps").mark(
            f"add-{what.lower()}"
        )

    def add(self, name: str, *, placeholder: str = "") -> None:
        with self.box, ui.row().classes("w-full items-center gap-2 no-wrap") as row:
            key = ui.input(self.what, value=name).props("outlined dense").classes("flex-1 font-mono")
            key.mark(f"{self.what.lower()}-name")
            value = ui.input("Value", password=True, password_toggle_button=True).props(
                f'outlined dense autocomplete=off placeholder="{placeholder}"'
            )
            value.classes("flex-1").mark(f"{self.what.lower()}-value")
            ui.button(icon="close", on_click=lambda: self.remove(row)).props(
                f'flat round dense aria-label="Remove this {self.what.lower()}"'
            )
        self.rows.append((key, value, row))

    def remove(self, row: ui.row) -> None:
        self.rows = [r for r in self.rows if r[2] is not row]
        row.delete()

    def value(self) -> dict[str, str | None]:
        """Name → typed value; None (keep what is stored) for a stored name left empty."""
        found: dict[str, str | None] = {}
        for key, value, _ in self.rows:
            name = (key.value or "").strip()
            if not name:
                continue
            typed = value.value or ""
            found[name] = typed if typed or name not in self.kept else None
        return found

    def forget(self) -> None:
        """The secrets leave the page as soon as they are saved."""
        for _, value, _ in self.rows:
            value.set_value("")


def _where(item: McpServerPublic) -> str:
    if item.transport == "stdio":
        return " ".join([item.command or "", *item.args]).strip()
    return item.url or ""


_FIELD_LABELS = {"command": "Command", "args": "Arguments", "url": "URL", "credential": "Credential",
                 "headers": "Headers", "env": "Environment", "name": "Name", "timeout_seconds": "Timeout"}  # fmt: skip


def _label(field: str) -> str:
    head, _, rest = field.partition(".")
    label = _FIELD_LABELS.get(head, head)
    return f"{label} {rest}" if rest else label


def _validation_text(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{_label(where)}: {str(first.get('msg', '')).removeprefix('Value error, ')}"
    return str(exc)


def _example(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments to start from: each required property with an empty value of its type."""
    blanks = {"string": "", "number": 0, "integer": 0, "boolean": False, "array": [], "object": {}}
    properties = schema.get("properties") or {}
    required = schema.get("required") or list(properties)
    return {
        name: blanks.get(str((properties.get(name) or {}).get("type")), None) for name in required if name in properties
    }
