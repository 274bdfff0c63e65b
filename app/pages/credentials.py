"""The credentials page (`/credentials`): named secrets agents refer to by name. Write-only: a value is typed
once (in a password field), stored encrypted, and never shown again; it can be replaced or deleted (refused
while an agent or a workflow step refers to it, naming which). The page is for admins, and each of its actions
checks that again when it is asked for.

Its "New credential" dialog also serves the credential pickers of settings forms (`credential_choices`): an admin
creates one there without leaving the step or agent, and the picker selects it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.engine.exceptions import FlowyardError, InvalidInput
from app.models.agents import CREDENTIAL_TYPES, VALUE_FIELDS, CredentialPublic
from app.models.people import Permission
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.dialogs import actions, dialog, error_label, show
from app.pages.layout import frame
from components.schema_form import CredentialChoices

__all__ = ["ask_new_credential", "credential_choices", "register"]

TYPE_LABELS = {
    "api_key": "API key (sent as a Bearer token)",
    "bearer": "Bearer token",
    "basic": "Basic auth (user name and password)",
    "header": "Custom header (name and value)",
}
FIELD_LABELS = {"token": "Token or key", "username": "User name", "password": "Password", "name": "Header name",
                "value": "Header value"}  # fmt: skip
SECRET_FIELDS = {"token", "password", "value"}


def register() -> None:
    @guard.page("/credentials", Permission.MANAGE)
    async def credentials_page() -> None:
        with frame("Credentials"):
            page = CredentialsPage()
            await page.build()


class CredentialsPage:
    def __init__(self) -> None:
        self.items: list[CredentialPublic] = []

    async def build(self) -> None:
        with ui.row().classes("fy-page-header"):
            with ui.column().classes("gap-1"):
                ui.label("Credentials").classes("fy-title")
                ui.label(
                    "Secrets your agents use, referred to by name. Stored encrypted; never shown again after saving."
                ).classes("fy-subtitle")
            ui.space()
            ui.button("New credential", icon="add", on_click=self.open_create).props("unelevated no-caps").mark(
                "create"
            )
        self.items = await services().credentials.list()
        self.listing()
        self.host = ui.element("div")

    async def reload(self) -> None:
        self.items = await services().credentials.list()
        self.listing.refresh()

    @ui.refreshable_method
    def listing(self) -> None:
        with ui.column().classes("fy-list fy-card fy-credentials gap-0"):
            if not self.items:
                with ui.column().classes("fy-empty"):
                    with ui.element("div").classes("fy-empty__icon"):
                        ui.icon("key")
                    ui.label("No credentials yet").classes("fy-empty__title")
                    ui.label(
                        "Add an API key or a token once, then refer to it by name in an agent's settings "
                        "(the Credential field of an HTTP request, an LLM or a notification)."
                    ).classes("fy-empty__text")
                return
            with ui.element("div").classes("fy-list__head"):
                with ui.element("div").classes("fy-list__cells"):
                    for label in ("Name", "Type", "Updated"):
                        ui.label(label)
                ui.element("div").classes("fy-list__actions")
            for item in self.items:
                with ui.element("div").classes("fy-list__row").mark("credential-row", item.name):
                    with ui.element("div").classes("fy-list__cells"):
                        with ui.row().classes("items-center gap-2 no-wrap"):
                            ui.icon("key").classes("fy-muted")
                            ui.label(item.name).classes("fy-workflow__name font-mono")
                        ui.label(TYPE_LABELS.get(item.type, item.type).split(" (")[0]).classes("fy-cell-text")
                        theme.time_label(item.updated_at)
                    with (
                        ui.element("div").classes("fy-list__actions"),
                        ui.button(icon="more_vert", color=None).props('flat round dense aria-label="More actions"'),
                        ui.menu().props("anchor='bottom right' self='top right'"),
                    ):
                        ui.menu_item("Replace value", lambda i=item: self.open_replace(i)).mark(f"replace-{item.name}")
                        ui.separator()
                        ui.menu_item("Delete", lambda i=item: self.open_delete(i)).classes("text-negative").mark(
                            f"delete-{item.name}"
                        )

    def open_create(self) -> None:
        async def saved(_: CredentialPublic) -> None:
            await self.reload()

        with self.host:
            ask_new_credential(saved)

    def open_replace(self, item: CredentialPublic) -> None:
        if not access.allowed(Permission.MANAGE):
            return
        with self.host, dialog(f"Replace “{item.name}”") as box:
            ui.label("The current value cannot be shown; type the new one.").classes("fy-subtitle")
            inputs = _value_inputs(item.type, ui.column().classes("w-full gap-2"))
            error = error_label()

            async def replace() -> None:
                if not await access.may(Permission.MANAGE):
                    return
                values = {field: widget.value or "" for field, widget in inputs.items()}
                try:
                    await services().credentials.update(item.name, values, by=access.principal())
                except InvalidInput as exc:
                    show(error, f"{FIELD_LABELS.get(exc.field.removeprefix('values.'), exc.field)}: {exc.message}")
                    return
                except FlowyardError as exc:
                    show(error, str(exc))
                    return
                ui.notify(f"Replaced the value of “{item.name}”", type="positive")
                await self.reload()
                box.close()

            actions(box, "Save", replace)

    def open_delete(self, item: CredentialPublic) -> None:
        if not access.allowed(Permission.MANAGE):
            return
        with self.host, dialog(f"Delete “{item.name}”?") as box:
            ui.label("Agents that refer to it by name would fail. This cannot be undone.").classes("fy-subtitle")
            error = error_label()

            async def delete() -> None:
                if not await access.may(Permission.MANAGE):
                    return
                try:
                    await services().credentials.delete(item.name, by=access.principal())
                except FlowyardError as exc:
                    show(error, str(exc))
                    return
                ui.notify(f"Deleted “{item.name}”")
                await self.reload()
                box.close()

            actions(box, "Delete", delete, color="negative")


def _value_inputs(kind: str, box: ui.column) -> dict[str, ui.input]:
    box.clear()
    inputs: dict[str, ui.input] = {}
    with box:
        for field in VALUE_FIELDS[kind]:
            secret = field in SECRET_FIELDS
            widget = ui.input(FIELD_LABELS.get(field, field), password=secret, password_toggle_button=secret)
            inputs[field] = widget.props("outlined autocomplete=off").classes("w-full").mark(f"value-{field}")
    return inputs


def ask_new_credential(on_saved: Callable[[CredentialPublic], Awaitable[None] | None]) -> None:
    """The "New credential" dialog (name, type, its values); `on_saved` gets the new credential (never its values).

    The Credentials page opens it, and so does every credential picker of a settings form (then the picker
    selects what was saved). Only for admins: it asks again when saving.
    """
    if not access.allowed(Permission.MANAGE):
        return
    with dialog("New credential") as box:
        name = ui.input("Name (how agents refer to it)").props("outlined autofocus").classes("w-full font-mono")
        name.mark("name")
        kind = ui.select({t: TYPE_LABELS.get(t, t) for t in CREDENTIAL_TYPES}, label="Type", value="api_key")
        kind.props("outlined").classes("w-full").mark("type")
        fields = ui.column().classes("w-full gap-2")
        inputs = _value_inputs("api_key", fields)

        def retype(value: str) -> None:
            inputs.clear()
            inputs.update(_value_inputs(value, fields))

        kind.on_value_change(lambda e: retype(e.value))
        error = error_label()

        async def create() -> None:
            if not await access.may(Permission.MANAGE):
                return
            values = {field: widget.value or "" for field, widget in inputs.items()}
            chosen = (name.value or "").strip()
            try:
                created = await services().credentials.create(chosen, kind.value, values, by=access.principal())
            except InvalidInput as exc:
                show(error, f"{FIELD_LABELS.get(exc.field.removeprefix('values.'), exc.field)}: {exc.message}")
                return
            except FlowyardError as exc:
                show(error, str(exc))
                return
            for widget in inputs.values():  # the secret leaves the page as soon as it is saved
                widget.set_value("")
            ui.notify(f"Saved “{chosen}”", type="positive")
            done = on_saved(created)
            if done is not None:
                await done
            box.close()  # last: closing deletes the dialog, and this handler's context with it

        actions(box, "Save", create)


async def credential_choices() -> CredentialChoices:
    """What a settings form's credential fields offer this person: the stored credentials by name and type,
    and "Create new credential…" for admins (others are told to ask one). A credential created from one
    picker is offered by the forms drawn after it too."""
    names = {item.name: _choice(item) for item in await services().credentials.list()}
    if not access.allowed(Permission.MANAGE, quiet=True):
        return CredentialChoices(names, hint="Only an admin can add a credential: ask one to add it under Credentials.")

    def create(select: Callable[[str], None]) -> None:
        def saved(new: CredentialPublic) -> None:
            names[new.name] = _choice(new)
            select(new.name)

        ask_new_credential(saved)

    return CredentialChoices(names, create=create)


def _choice(item: CredentialPublic) -> str:
    """How a picker shows a credential: its name and the short name of its type."""
    return f"{item.name} · {TYPE_LABELS.get(item.type, item.type).split(' (')[0]}"
