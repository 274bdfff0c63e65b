"""`TemplateEditor`: a code editor for templates that completes the names a template can use.

Type inside `{{ … }}` (or press Ctrl+Space anywhere) and the names given as `completions` are offered;
outside a tag a chosen name is inserted as a whole `{{ name }}` expression. The browser sends the text on
every edit (templates are short), so `value` is always current, and `blur` says the person is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nicegui import ui
from nicegui.elements.codemirror import CodeMirror  # registers the "nicegui-codemirror" bundle this editor uses
from nicegui.events import GenericEventArguments, Handler, ValueChangeEventArguments, handle_event

__all__ = ["TemplateEditor"]

_ = CodeMirror


class TemplateEditor(ui.element, component="template_editor.js", default_classes="fy-template-editor"):
    def __init__(
        self,
        value: str = "",
        *,
        completions: Iterable[str] = (),
        placeholder: str = "",
        language: str = "Jinja2",
        on_change: Handler[ValueChangeEventArguments[str]] | None = None,
        on_blur: Handler[ValueChangeEventArguments[str]] | None = None,
    ) -> None:
        super().__init__()
        self._props["value"] = value
        self._props["completions"] = sorted(completions)
        self._props["placeholder"] = placeholder
        self._props["language"] = language
        self._change_handlers: list[Handler[ValueChangeEventArguments[str]]] = [on_change] if on_change else []
        self._blur_handlers: list[Handler[ValueChangeEventArguments[str]]] = [on_blur] if on_blur else []
        self.on("change", self._typed)
        self.on("blur", self._left)

    @property
    def value(self) -> str:
        return str(self._props["value"])

    def set_value(self, value: str) -> None:
        """Replace the text (sent to the browser; not reported back as an edit)."""
        if value != self._props["value"]:
            self._props["value"] = value
            self.update()

    def set_completions(self, names: Iterable[str]) -> None:
        self._props["completions"] = sorted(names)
        self.update()

    def insert(self, text: str) -> None:
        """Insert `text` at the cursor in the browser, as if typed (it comes back as a `change`)."""
        self.run_method("insert", text)

    def on_change(self, handler: Handler[ValueChangeEventArguments[str]]) -> TemplateEditor:
        self._change_handlers.append(handler)
        return self

    def on_blur(self, handler: Handler[ValueChangeEventArguments[str]]) -> TemplateEditor:
        self._blur_handlers.append(handler)
        return self

    def _typed(self, event: GenericEventArguments) -> None:
        previous = self._props["value"]
        with self._props.suspend_updates():
            self._props["value"] = str(event.args)
        self._emit(self._change_handlers, previous)

    def _left(self, event: GenericEventArguments) -> None:
        previous = self._props["value"]
        with self._props.suspend_updates():
            self._props["value"] = str(event.args)
        self._emit(self._blur_handlers, previous)

    def _emit(self, handlers: list[Handler[ValueChangeEventArguments[str]]], previous: Any) -> None:
        arguments = ValueChangeEventArguments[str](
            sender=self, client=self.client, value=self.value, previous_value=previous
        )
        for handler in handlers:
            handle_event(handler, arguments)
