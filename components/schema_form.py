"""A form generated from a JSON Schema (as pydantic writes them): the one generator wherever a schema
becomes a form — agent configs in the editor and the agents page, run inputs.

Plain data in, plain data out: `SchemaForm(schema, value, on_change=..., on_commit=...)`; `value` is the
current dict; `show_errors({"field.path": "message"})` puts messages beside their fields.

`on_change` follows every keystroke; `on_commit` follows finished edits only (a typed field left, a switch or a
choice changed), for callers whose reaction would redraw the form under the person typing in it.

A field whose schema says `"format": "credential"` (an agent's `credential` setting) is a picker of the stored
credentials when the page gives them (`credentials=CredentialChoices(...)`), with "Create new credential…"
when the page gives a way to create one; without them it is a text field. A field whose schema says
`"format": "agent_tools"` (an agent's `tools`) is a list of tool cards (`components.agent_tools.ToolsEditor`)
offering what the page gives (`tools=ToolChoices(...)`). With those choices, `"format": "mcp_server"` picks an MCP
server by name and `"format": "mcp_tool"` one of the tools that server listed (both also take a name typed in).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

from nicegui import ui

from components.agent_tools import ToolChoices, ToolsEditor

__all__ = ["NEW_CREDENTIAL", "CredentialChoices", "SchemaForm", "plain_message"]

Change = Callable[[dict[str, Any]], Any]

NEW_CREDENTIAL = "\x00new"
"""The picker's option that opens the page's "new credential" dialog instead of being chosen."""


@dataclasses.dataclass
class CredentialChoices:
    """What a credential field offers: the stored credentials, and a way to add one (or why there is none).

    :param names: each stored credential's name → what the picker shows for it ("name · type")
    :param create: opens the page's "new credential" dialog; it calls the callback it is given with the new
        credential's name once saved (the field then selects it). None: this person may not add credentials.
    :param hint: shown under the field when there is no `create` (who may add one)
    """

    names: dict[str, str] = dataclasses.field(default_factory=dict)
    create: Callable[[Callable[[str], None]], Any] | None = None
    hint: str = ""


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` and collapse `anyOf: [X, null]` (an optional field) into X."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**root.get("$defs", {}).get(name, {}), **{k: v for k, v in schema.items() if k != "$ref"}}
    options = schema.get("anyOf")
    if options:
        concrete = [o for o in options if o.get("type") != "null"]
        if len(concrete) == 1:
            merged = {**schema, **_resolve(concrete[0], root), "nullable": True}
            merged.pop("anyOf", None)
            return merged
    return schema


def _label(name: str, schema: dict[str, Any]) -> str:
    return str(schema.get("title") or name.replace("_", " ").capitalize())


class SchemaForm(ui.column):
    def __init__(
        self,
        schema: dict[str, Any],
        value: dict[str, Any] | None = None,
        *,
        on_change: Change | None = None,
        on_commit: Change | None = None,
        credentials: CredentialChoices | None = None,
        tools: ToolChoices | None = None,
    ) -> None:
        """A form for the object described by `schema`.

        :param schema: a JSON Schema of an object (``model_json_schema()`` of a pydantic model)
        :param value: the current values; fields left out show the schema's defaults
        :param on_change: called with the whole value after every edit, each keystroke included
        :param on_commit: called with the whole value when an edit is finished: a typed field loses focus (or
            Enter is pressed in it), a switch, choice or list item changes, or `commit()` is called
        :param credentials: the choices of credential fields (`"format": "credential"`); None: typed as text
        :param tools: what tool lists (`"format": "agent_tools"`) offer; None: nothing to pick from
        """
        super().__init__()
        self.classes("w-full gap-2")
        self.schema = schema
        self.value: dict[str, Any] = dict(value or {})
        self._on_change = on_change
        self._on_commit = on_commit
        self._credentials = credentials
        self._tools = tools
        self._mcp_tool_picker: tuple[ui.select, Callable[[Any], dict[str, str]]] | None = None  # follows `server`
        self._nested: dict[str, Callable[[dict[str, str]], None]] = {}  # fields that show their parts' errors
        self._committed = json.dumps(self.value, sort_keys=True, default=str)
        self._errors: dict[str, ui.label] = {}
        with self:
            self._render()

    # --- public ----------------------------------------------------------------------------------------

    @property
    def uncommitted(self) -> bool:
        """Whether the value changed since it was last reported to `on_commit` (a field is being typed in)."""
        return json.dumps(self.value, sort_keys=True, default=str) != self._committed

    def commit(self) -> None:
        """Report the value to `on_commit` if it changed since it was last reported (what was typed so far)."""
        current = json.dumps(self.value, sort_keys=True, default=str)
        if current == self._committed:
            return
        self._committed = current
        if self._on_commit is not None:
            self._on_commit(dict(self.value))

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show `errors` (field path → message) beside their fields, as sentences; clears the others.

        A message about a part of a field (`tools.0.name`) goes to the field's own display of its parts (the tool
        cards), else beside the field with the part named."""
        for name, label in self._errors.items():
            parts = {
                path.removeprefix(f"{name}."): plain_message(message)
                for path, message in errors.items()
                if path.startswith(f"{name}.")
            }
            shown = self._nested.get(name)
            if shown is not None:
                shown(parts)
                parts = {}
            messages = [plain_message(errors[name])] if errors.get(name) else []
            messages += [f"{part}: {message}" for part, message in parts.items()]
            label.set_text(" · ".join(messages))
            label.set_visibility(bool(messages))

    # --- rendering -------------------------------------------------------------------------------------------

    def _render(self) -> None:
        properties = self.schema.get("properties", {})
        if not properties:
            ui.label("No settings for this kind.").classes("text-sm text-gray-500")
            return
        required = set(self.schema.get("required", []))
        for name, raw in properties.items():
            field = _resolve(raw, self.schema)
            with ui.column().classes("w-full gap-0"):
                self._field(name, field, name in required)
                if field.get("description"):
                    ui.label(field["description"]).classes("text-xs text-gray-500")
                error = ui.label().classes("text-xs text-negative")
                error.set_visibility(False)
                self._errors[name] = error

    def _current(self, name: str, field: dict[str, Any]) -> Any:
        return self.value.get(name, field.get("default"))

    def _set(self, name: str, value: Any, *, done: bool = False) -> None:
        """Take a field's new value; `done`: the edit is finished (not a keystroke), so commit it too."""
        self.value[name] = value
        if self._on_change is not None:
            self._on_change(dict(self.value))
        if done:
            self.commit()

    def _typed(self, field: ui.element) -> ui.element:
        """A field typed into: its edits are finished when it loses focus or Enter is pressed."""
        field.on("blur", lambda _: self.commit())
        if not isinstance(field, ui.textarea):
            field.on("keydown.enter", lambda _: self.commit())
        return field

    def _field(self, name: str, field: dict[str, Any], required: bool) -> None:
        label = _label(name, field) + (" *" if required else "")
        current = self._current(name, field)
        kind = field.get("type")
        if field.get("format") == "credential" and self._credentials is not None:
            self._credential(name, label, current, self._credentials)
        elif field.get("format") == "agent_tools":
            self._tool_list(name, label, current)
        elif field.get("format") in ("mcp_server", "mcp_tool") and self._tools is not None:
            self._mcp_pick(name, label, current, server=field["format"] == "mcp_server")
        elif "enum" in field or "const" in field:
            options = field.get("enum") or [field["const"]]
            ui.select(
                options, label=label, value=current, on_change=lambda e: self._set(name, e.value, done=True)
            ).classes("w-full")
        elif kind == "boolean":
            ui.switch(label, value=bool(current), on_change=lambda e: self._set(name, e.value, done=True))
        elif kind in ("integer", "number"):
            number = ui.number(
                label,
                value=current,
                min=field.get("minimum", field.get("exclusiveMinimum")),
                max=field.get("maximum", field.get("exclusiveMaximum")),
                precision=0 if kind == "integer" else None,
                on_change=lambda e: self._set(name, _number(e.value, kind, field)),
            ).classes("w-full")
            self._typed(number)
        elif kind == "string":
            # a prompt is written in paragraphs: a growing text area, like any long or multi-line text
            long_text = (field.get("maxLength") or 0) > 500 or "\n" in str(current or "") or name.endswith("prompt")
            widget = ui.textarea if long_text else ui.input
            text = widget(label, value=current or "", on_change=lambda e: self._set(name, e.value)).classes(
                "w-full font-mono" if "{{" in str(current or "") else "w-full"
            )
            if long_text:
                text.props("autogrow")
            self._typed(text)
        elif kind == "array" and _resolve(field.get("items", {}), self.schema).get("type") == "object":
            self._object_list(name, label, field)
        else:
            self._json(name, label, current)

    def _credential(self, name: str, label: str, current: Any, choices: CredentialChoices) -> None:
        """A picker of the stored credentials by name; "Create new credential…" opens the page's dialog."""
        options = dict(choices.names)
        if current and current not in options:  # named in the settings but not stored (deleted, or not added yet)
            options[current] = f"{current} · not found"
        if choices.create is not None:
            options[NEW_CREDENTIAL] = "Create new credential…"
        picker = (
            ui.select(options, label=label, value=current or None, clearable=True)
            .classes("w-full")
            .mark(f"credential-{name}")
        )

        def select(new: str) -> None:  # the dialog saved a credential: offer it and choose it
            offered = {k: v for k, v in options.items() if k != NEW_CREDENTIAL}
            options.clear()
            options.update({**offered, new: choices.names.get(new, new), NEW_CREDENTIAL: "Create new credential…"})
            picker.set_options(dict(options), value=new)

        def chosen(event: Any) -> None:
            if event.value == NEW_CREDENTIAL:
                picker.set_value(event.previous_value)  # (not a credential: the field keeps what it had)
                if choices.create is not None:
                    choices.create(select)
                return
            if (event.value or None) != self.value.get(name, current or None):
                self._set(name, event.value or None, done=True)

        picker.on_value_change(chosen)
        if choices.create is None and choices.hint:
            ui.label(choices.hint).classes("text-xs text-gray-500").mark(f"credential-hint-{name}")

    def _mcp_pick(self, name: str, label: str, current: Any, *, server: bool) -> None:
        """An MCP server by name, or a tool of the server chosen in the form's `server` field (as last listed)."""
        assert self._tools is not None
        choices = self._tools

        def options(chosen: Any) -> dict[str, str]:
            if server:
                found = {s.name: s.name for s in choices.servers.values()}
            else:
                listed = choices.servers.get(choices.server_id(self.value.get("server")) or "")
                found = {tool: f"{tool} · {text[:80]}" if text else tool for tool, text in (listed.tools or [])} if (
                    listed) else {}  # fmt: skip
            if chosen and chosen not in found:
                found[chosen] = chosen  # a name typed in (or a template), or one not listed (yet)
            return found

        picker = (
            ui.select(options(current), label=label, value=current or None, with_input=True, clearable=True)
            .props('new-value-mode="add-unique"')
            .classes("w-full font-mono")
            .mark(f"mcp-{name}")
        )
        if not server:
            self._mcp_tool_picker = (picker, options)

        def chosen(event: Any) -> None:
            self._set(name, event.value or "", done=True)
            follower = self._mcp_tool_picker
            if server and follower is not None:  # another server: offer its tools
                follower[0].set_options(follower[1](follower[0].value), value=follower[0].value)

        picker.on_value_change(chosen)

    def _tool_list(self, name: str, label: str, current: Any) -> None:
        """An agent's tools: a card per tool (a saved agent, a workflow, an MCP server's tools)."""
        editor = ToolsEditor(
            current if isinstance(current, list) else [],
            self._tools,
            label=label,
            on_change=lambda value, done: self._set(name, value, done=done),
        ).mark(f"tools-{name}")
        self._nested[name] = editor.show_errors

    def _json(self, name: str, label: str, current: Any) -> None:
        """Free-form values (dicts, lists of scalars, anything) as JSON text, parsed on every edit."""
        text = json.dumps(current, indent=2) if current is not None else ""
        error = ui.label().classes("text-xs text-negative")
        error.set_visibility(False)

        def parse(event: Any) -> None:
            try:
                value = json.loads(event.value) if event.value.strip() else None
            except json.JSONDecodeError as exc:
                error.set_text(f"not valid JSON: {exc.msg} (line {exc.lineno})")
                error.set_visibility(True)
                return
            error.set_visibility(False)
            self._set(name, value)

        self._typed(ui.textarea(label, value=text, on_change=parse).classes("w-full font-mono").props("autogrow"))

    def _object_list(self, name: str, label: str, field: dict[str, Any]) -> None:
        """A list of small objects (a branch's outcomes): one row per item, add and remove."""
        item_schema = _resolve(field.get("items", {}), self.schema)
        keys = list(item_schema.get("properties", {}))
        items: list[dict[str, Any]] = [dict(i) for i in (self._current(name, field) or [])]
        ui.label(label).classes("text-sm font-medium")
        rows = ui.column().classes("w-full gap-1")

        def publish(*, done: bool = False) -> None:
            self._set(name, [dict(i) for i in items], done=done)

        def draw() -> None:
            rows.clear()
            with rows:
                for index, item in enumerate(items):
                    with ui.row().classes("w-full items-center gap-1 no-wrap"):
                        for key in keys:
                            sub = _resolve(item_schema["properties"][key], self.schema)

                            def update(event: Any, index: int = index, key: str = key) -> None:
                                items[index][key] = event.value
                                publish()

                            self._typed(
                                ui.input(_label(key, sub), value=item.get(key, ""), on_change=update)
                                .classes("grow font-mono" if key == "when" else "w-28")
                                .props("dense")
                            )

                        def remove(index: int = index) -> None:
                            items.pop(index)
                            publish(done=True)
                            draw()

                        ui.button(icon="delete", on_click=remove).props(
                            'flat dense round size=sm aria-label="Remove"'
                        ).tooltip("Remove")

                def add() -> None:
                    items.append(dict.fromkeys(keys, ""))
                    publish(done=True)
                    draw()

                ui.button("Add", icon="add", on_click=add).props("flat dense size=sm")

        draw()


def _number(value: Any, kind: str | None, field: dict[str, Any]) -> Any:
    if value is None:
        return field.get("default")
    return int(value) if kind == "integer" else float(value)


_TYPE_WORDS = {
    "number": "Enter a number",
    "integer": "Enter a whole number",
    "string": "Enter text",
    "boolean": "Choose yes or no",
    "array": "Enter a list",
    "object": "Enter an object",
}
_SENTENCES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"(?:String should have|must be|must have)? ?at least (\d+) characters?(?:\(s\))?", re.I),
        lambda m: f"Use at least {m[1]} characters",
    ),
    (
        re.compile(r"(?:String should have|must be|must have)? ?at most (\d+) characters?(?:\(s\))?", re.I),
        lambda m: f"Use at most {m[1]} characters",
    ),
    (re.compile(r"must be (\w+)(?: or null)?, not \w+", re.I), lambda m: _TYPE_WORDS.get(m[1].lower(), m[0])),
    (re.compile(r"Input should be a valid (?:number|float)\b.*", re.I), lambda m: "Enter a number"),
    (re.compile(r"Input should be a valid integer\b.*", re.I), lambda m: "Enter a whole number"),
    (re.compile(r"Input should be greater than or equal to (\S+)", re.I), lambda m: f"Enter {m[1]} or more"),
    (re.compile(r"Input should be less than or equal to (\S+)", re.I), lambda m: f"Enter {m[1]} or less"),
    (re.compile(r"Field required", re.I), lambda m: "Required"),
]


def plain_message(message: str) -> str:
    """A validation message as a sentence for people ("String should have at least 10 characters" → "Use at
    least 10 characters", "must be number, not null" → "Enter a number"); other messages as they are."""
    for pattern, sentence in _SENTENCES:
        match = pattern.fullmatch(message.strip())
        if match is not None:
            return sentence(match)
    return message
