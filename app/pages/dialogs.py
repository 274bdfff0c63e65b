"""The small dialogs every page uses: a titled card that opens at once and goes when closed, its buttons,
and an error line that appears only with a message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from nicegui import ui

__all__ = ["actions", "body", "confirm", "dialog", "error_label", "show"]


@contextmanager
def dialog(title: str, *, wide: bool = False) -> Iterator[ui.dialog]:
    """A dialog that opens at once and is removed when it closes (however it closes).

    Closing deletes the dialog with the handler's own context, so a handler closes it as its last act.
    """
    with ui.dialog() as box, ui.card().classes("fy-dialog" + (" fy-dialog--wide" if wide else "")):
        ui.label(title).classes("fy-dialog__title")
        yield box
    box.on_value_change(lambda e: None if e.value else box.delete())
    box.open()


def body() -> ui.column:
    """The part of a long dialog that scrolls, so that its title and its buttons stay in view in a short window."""
    return ui.column().classes("fy-dialog__body")


def error_label() -> ui.label:
    label = ui.label().classes("fy-error").mark("error")
    label.set_visibility(False)
    return label


def show(label: ui.label, message: str) -> None:
    label.set_text(message)
    label.set_visibility(True)


def actions(box: ui.dialog, confirm: str, on_confirm: Callable[[], Awaitable[None]], *, color: str = "primary") -> None:
    """Cancel and the confirming button; Enter in any one-line field of the dialog confirms too."""
    with ui.row().classes("fy-dialog__actions"):
        ui.button("Cancel", on_click=box.close).props("flat no-caps")
        ui.button(confirm, on_click=on_confirm, color=color).props("unelevated no-caps").mark("confirm")
    for field in box.descendants():
        if isinstance(field, ui.input) and not isinstance(field, ui.textarea) and not _on_enter(field):
            field.on("keydown.enter", on_confirm)


def _on_enter(field: ui.element) -> bool:
    """Whether the field already does something on Enter (then Enter must not also confirm: that would act twice)."""
    return any(listener.type.startswith("keydown.enter") for listener in field._event_listeners.values())


def confirm(title: str, text: str, button: str, on_confirm: Callable[[], Awaitable[None]]) -> None:
    """Ask before something that can't be taken back (or only by another step): the button is red."""
    with dialog(title) as box:
        ui.label(text).classes("fy-subtitle")

        async def go() -> None:
            await on_confirm()
            box.close()

        actions(box, button, go, color="negative")
