"""The editor's "Callback secret" dialog: the key a run's callback is signed with, for the receiver to verify.

Whoever may see the workflow sees the secret in force (a receiver can't verify without it); whoever may edit
the workflow gives it a secret of its own (or a new one), or sends it back to the shared one.
"""

from __future__ import annotations

from nicegui import ui

from app.engine.exceptions import NotFound
from app.models.people import Permission
from app.models.workflows import CallbackSecret
from app.pages import access
from app.pages.context import services
from app.pages.dialogs import dialog

__all__ = ["show_callback_secret"]


async def show_callback_secret(workflow_id: str) -> None:
    try:
        current = await services().callback_secrets.get(workflow_id)
    except NotFound as exc:
        ui.notify(str(exc), type="warning")
        return
    with ui.context.client.content, dialog("Callback secret", wide=True) as box:  # not in the menu that asked
        ui.label(
            "Runs started with a callbackUrl are sent their result signed with this secret "
            "(X-Flowyard-Signature: HMAC-SHA256 of “timestamp.body”). Give it to the receiver so it can verify."
        ).classes("fy-subtitle")
        _SecretView(workflow_id, current, box).build()


class _SecretView:
    def __init__(self, workflow_id: str, current: CallbackSecret, box: ui.dialog) -> None:
        self.workflow_id = workflow_id
        self.current = current
        self.box = box

    def build(self) -> None:
        self.view()

    @ui.refreshable_method
    def view(self) -> None:
        current = self.current
        ui.label(
            "This workflow has a secret of its own."
            if not current.shared
            else "This workflow uses the shared secret (FLOWYARD_CALLBACK_SECRET), like every workflow without its own."
        ).classes("fy-muted").mark("callback-secret-kind")
        with ui.row().classes("items-center w-full no-wrap"):
            ui.input(value=current.secret, password=True, password_toggle_button=True).props(
                'outlined readonly aria-label="Callback secret"'
            ).classes("w-full font-mono").mark("callback-secret")
            ui.button(icon="content_copy", on_click=lambda: ui.clipboard.write(current.secret)).props(
                'flat round aria-label="Copy"'
            ).tooltip("Copy").mark("copy-callback-secret")
        with ui.row().classes("fy-dialog__actions"):
            ui.button("Close", on_click=self.box.close).props("flat no-caps").mark("close")
            if not access.principal().can(Permission.EDIT):
                return
            if not current.shared:
                ui.button("Use the shared secret", on_click=self.use_shared).props("flat no-caps").mark(
                    "use-shared-secret"
                )
            label = "Rotate" if not current.shared else "Give it its own secret"
            ui.button(label, icon="autorenew", on_click=self.rotate).props("unelevated no-caps").mark(
                "rotate-callback-secret"
            ).tooltip("Callbacks sent from now on are signed with a new secret: give it to the receiver")

    async def rotate(self) -> None:
        if not await access.may(Permission.EDIT):
            return
        self.current = await services().callback_secrets.rotate(self.workflow_id, by=access.principal())
        ui.notify("New callback secret: callbacks from now on are signed with it", type="positive")
        self.view.refresh()

    async def use_shared(self) -> None:
        if not await access.may(Permission.EDIT):
            return
        self.current = await services().callback_secrets.use_shared(self.workflow_id, by=access.principal())
        ui.notify("This workflow's callbacks are signed with the shared secret again", type="positive")
        self.view.refresh()
