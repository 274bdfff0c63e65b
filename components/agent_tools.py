"""The tools an agent may call, edited as cards: saved agents, workflows and MCP servers' tools.

Plain data in, plain data out: `ToolsEditor(value, choices, on_change=...)` edits a list of tool entries as
the agent kind stores them (`{"type": "agent", "agent_id": …}`, `{"type": "mcp", "server": …, "tools": […]}`…)
and calls `on_change(entries, done)` after every edit (`done`: the edit is finished, not a keystroke).
`ToolChoices` is what the pickers offer; `show_errors({"0": "…", "1.name": "…"})` puts messages on their cards.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

__all__ = ["TOOL_TYPES", "McpChoice", "ToolChoices", "ToolsEditor"]

Entry = dict[str, Any]

TOOL_TYPES: dict[str, tuple[str, str]] = {
    "agent": ("Saved agent", "support_agent"),
    "workflow": ("Workflow", "account_tree"),
    "mcp": ("MCP server", "dns"),
}
"""Each type of tool: what it is called and its icon."""

_TARGET = {"agent": "agent_id", "workflow": "workflow_id", "mcp": "server"}
_CHOOSE = {"agent": "Choose a saved agent", "workflow": "Choose a workflow", "mcp": "Choose an MCP server"}
_NEEDS_TARGET = re.compile(r"a tool of type (\w+) needs \w+")

_CSS = """
.fy-tools { width: 100%; }
.fy-tool { width: 100%; border: 1px solid var(--fy-border); border-radius: var(--fy-radius);
  background: var(--fy-surface); padding: 10px 12px; }
.fy-tool__icon { color: var(--fy-accent); font-size: 20px; }
.fy-tool__type { font-size: 12px; letter-spacing: 0.04em; text-transform: uppercase; color: var(--fy-muted); }
.fy-tool__grid { display: grid; width: 100%; grid-template-columns: minmax(0, 1fr) auto auto;
  column-gap: 0; align-items: stretch; }
.fy-tool__grid > .fy-tool__head { font-size: 12px; color: var(--fy-muted); padding: 2px 0; }
.fy-tool__grid > .fy-tool__head--check { text-align: center; padding: 2px 6px; }
.fy-tool__name { font-family: var(--fy-mono); font-size: 13px; overflow-wrap: anywhere; }
.fy-tool__about { font-size: 12px; color: var(--fy-muted); line-height: 1.35; }
.fy-tool__row { padding: 4px 0; border-top: 1px solid var(--fy-border); min-width: 0; }
.fy-tool__cell--check { display: flex; align-items: center; justify-content: center; padding: 0 6px; }
.fy-tools__empty { border: 1px dashed var(--fy-border); border-radius: var(--fy-radius); padding: 12px;
  color: var(--fy-muted); font-size: 13px; width: 100%; }
"""


@dataclasses.dataclass
class McpChoice:
    """An MCP server a tool entry may name.

    :param name: the server's name
    :param tools: its tools as last listed, `(name, description)` each; None: never listed yet
    """

    name: str
    tools: list[tuple[str, str]] | None = None


@dataclasses.dataclass
class ToolChoices:
    """What the tool pickers offer.

    :param agents: each saved agent's id → what the picker shows ("Lead lookup · HTTP request")
    :param workflows: each workflow's id → its name
    :param servers: each MCP server's id → the server
    :param refresh: asks a server (by id) for its tools now and returns them as `(name, description)`; raises
        with a message for people when it cannot. None: the tools cannot be listed again from here.
    """

    agents: dict[str, str] = dataclasses.field(default_factory=dict)
    workflows: dict[str, str] = dataclasses.field(default_factory=dict)
    servers: dict[str, McpChoice] = dataclasses.field(default_factory=dict)
    refresh: Callable[[str], Awaitable[list[tuple[str, str]]]] | None = None

    def without(self, *, agent: str | None = None, workflow: str | None = None) -> ToolChoices:
        """The same choices but the agent being edited and the workflow it is in (neither is a tool of its own)."""
        agents = {k: v for k, v in self.agents.items() if k != agent}
        workflows = {k: v for k, v in self.workflows.items() if k != workflow}
        return dataclasses.replace(self, agents=agents, workflows=workflows)

    def server_id(self, server: str | None) -> str | None:
        """The id of the server an entry names by id or by name; None when there is none such."""
        if not server:
            return None
        if server in self.servers:
            return server
        return next((key for key, found in self.servers.items() if found.name == server), None)


@dataclasses.dataclass
class _ServerBoxes:
    """An MCP card's "none chosen" note and its "may call" and "needs approval" boxes by tool."""

    note: ui.label
    calls: dict[str, ui.checkbox] = dataclasses.field(default_factory=dict)
    approvals: dict[str, ui.checkbox] = dataclasses.field(default_factory=dict)
    every_call: bool = False
    """Every call of the server needs approval: the approval boxes only show it."""

    def may_call(self, tool: str, allowed: bool) -> None:
        """Whether `tool` may be called now: its approval box is for a tool the model may call."""
        box = self.approvals.get(tool)
        if box is None:
            return
        if allowed and not self.every_call:
            box.props(remove="disable")
        else:
            box.props("disable")


class ToolsEditor(ui.column):
    def __init__(
        self,
        value: list[Entry] | None,
        choices: ToolChoices | None = None,
        *,
        label: str = "Tools",
        on_change: Callable[[list[Entry], bool], Any] | None = None,
    ) -> None:
        """A list of tool cards with "Add tool".

        :param value: the tool entries as stored (a list of dicts)
        :param choices: what the pickers offer; None: nothing to pick from (stored entries still show)
        :param label: the field's label
        :param on_change: called with the entries after each edit, and whether the edit is finished (a choice,
            a switch, a removal, a typed field left) rather than a keystroke
        """
        super().__init__()
        ui.add_css(_CSS)
        self.classes("fy-tools gap-2")
        self.entries: list[Entry] = [dict(e) for e in (value or []) if isinstance(e, dict)]
        self.choices = choices or ToolChoices()
        self._on_change = on_change
        self._errors: list[ui.label] = []
        self._bodies: dict[int, ui.column] = {}  # each MCP card's part below its picker
        self._boxes: dict[int, _ServerBoxes] = {}  # each MCP card's checkboxes, changed in place
        self._focus_last = False
        with self:
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.label(label).classes("text-sm font-medium grow")
                with (
                    ui.button("Add tool", icon="add").props("flat dense no-caps").mark("add-tool") as button,
                    ui.menu().props("auto-close no-refocus") as menu,  # (the new tool's picker takes the focus)
                ):
                    for kind, (title, icon) in TOOL_TYPES.items():
                        with ui.menu_item(on_click=lambda k=kind: self.add(k)).mark(f"add-tool-{kind}"):
                            with ui.row().classes("items-center gap-3 no-wrap"):
                                ui.icon(icon).classes("fy-tool__icon")
                                ui.label(title)
                menu.on("escape-key", self._focus_add)
                self._add_button = button
            self._cards = ui.column().classes("w-full gap-2")
        self._draw()

    # --- public -----------------------------------------------------------------------------------------

    def add(self, kind: str) -> None:
        """Add an entry of `kind` (agent, workflow, mcp) whose target is still to be chosen; its picker gets focus."""
        entry: Entry = {"type": kind, _TARGET[kind]: None}
        if kind == "mcp":
            entry.update(tools=None, approve_tools=[])
        self.entries.append(entry)
        self._focus_last = True
        self._draw()
        self._publish(done=True)  # (after drawing: what the page says is wrong goes on the cards drawn)

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show `errors` (entry index, or index.field → message) on their cards; clears the others."""
        for index, label in enumerate(self._errors):
            messages = [
                _plain(message, path.partition(".")[2])
                for path, message in errors.items()
                if path.partition(".")[0] == str(index)
            ]
            label.set_text(" · ".join(m for m in messages if m))
            label.set_visibility(any(messages))

    # --- edits -------------------------------------------------------------------------------------------

    def _publish(self, *, done: bool) -> None:
        if self._on_change is not None:
            self._on_change([_clean(e) for e in self.entries], done)

    def _remove(self, index: int) -> None:
        self.entries.pop(index)
        self._draw()
        self._publish(done=True)
        self._focus_add()  # (the removed card's button had it)

    def _focus_add(self) -> None:
        # (through the client: the slot a removed card's button was clicked in is gone)
        self.client.run_javascript(f"getHtmlElement({self._add_button.id})?.focus()")

    def _set(self, index: int, *, done: bool = True, redraw: bool = False, **changes: Any) -> None:
        """Take changes of one entry; `redraw`: draw its MCP server's tools anew (another server, a new listing)."""
        self.entries[index].update(changes)
        self._publish(done=done)
        if redraw:
            self._redraw_body(index)

    def _redraw_body(self, index: int) -> None:
        body = self._bodies[index]
        body.clear()
        with body:
            self._mcp(index, self.entries[index])

    # --- drawing -----------------------------------------------------------------------------------------

    def _draw(self) -> None:
        self._cards.clear()
        self._errors, self._bodies, self._boxes = [], {}, {}
        with self._cards:
            if not self.entries:
                ui.label(
                    "No tools yet: the model can only answer. Add a saved agent, a workflow or an MCP server's tools."
                ).classes("fy-tools__empty").mark("tools-empty")
            for index, entry in enumerate(self.entries):
                self._card(index, entry)
        self._focus_last = False

    def _card(self, index: int, entry: Entry) -> None:
        kind = str(entry.get("type") or "agent")
        title, icon = TOOL_TYPES.get(kind, (kind, "extension"))
        with ui.column().classes("fy-tool gap-2").mark("tool-card", f"tool-{index}"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon(icon).classes("fy-tool__icon")
                picker = self._picker(index, entry, kind, title)
                ui.button(icon="delete", on_click=lambda i=index: self._remove(i)).props(
                    f'flat dense round size=sm aria-label="Remove tool {index + 1} ({title})"'
                ).tooltip("Remove this tool").mark(f"remove-tool-{index}")
            if self._focus_last and index == len(self.entries) - 1:  # (once the browser has drawn it)
                ui.timer(0.05, lambda: picker.run_method("focus"), once=True)
            if kind == "mcp":  # (drawn anew alone when another server is chosen or its tools are listed again)
                with ui.column().classes("w-full gap-2") as body:
                    self._mcp(index, entry)
                self._bodies[index] = body
            else:
                self._overrides(index, entry, kind)
            error = ui.label().classes("text-xs text-negative").mark(f"tool-error-{index}")
            error.set_visibility(False)
            self._errors.append(error)

    def _picker(self, index: int, entry: Entry, kind: str, title: str) -> ui.select:
        field = _TARGET.get(kind, "agent_id")
        current = entry.get(field)
        if kind == "mcp":
            options = {key: server.name for key, server in self.choices.servers.items()}
            current = self.choices.server_id(current) or current
        else:
            options = dict(self.choices.agents if kind == "agent" else self.choices.workflows)
        if current and current not in options:  # named in the settings, but not here (deleted, or renamed)
            options[current] = f"{current} · not found"

        def chosen(event: Any) -> None:
            if event.value == self.entries[index].get(field):
                return
            changes: dict[str, Any] = {field: event.value}
            if kind == "mcp":  # another server's tools: the chosen ones no longer apply
                changes.update(tools=None, approve_tools=[])
            self._set(index, redraw=kind == "mcp", **changes)

        empty = {"agent": "No saved agents", "workflow": "No workflows", "mcp": "No MCP servers: add one first"}
        return (
            ui.select(options, label=title, value=current or None, on_change=chosen)
            .props(f'dense outlined options-dense no-error-icon aria-label="{title} for tool {index + 1}"')
            .props(f'hint="{empty[kind]}"' if not options else "")
            .classes("grow min-w-0")
            .mark(f"tool-target-{index}")
        )

    def _overrides(self, index: int, entry: Entry, kind: str) -> None:
        """A saved agent's or a workflow's: the name and description the model sees, and approval of each call."""
        what = "agent's" if kind == "agent" else "workflow's"
        name = (
            ui.input(
                "Tool name (optional)",
                value=entry.get("name") or "",
                placeholder=f"Empty: the {what} name",
                on_change=lambda e, i=index: self._set(i, done=False, name=e.value or None),
            )
            .props('dense outlined stack-label maxlength=64 input-class="font-mono"')
            .classes("w-full")
            .mark(f"tool-name-{index}")
        )
        about = (
            ui.textarea(
                "Description for the model (optional)",
                value=entry.get("description") or "",
                placeholder=f"Empty: the {what} description",
                on_change=lambda e, i=index: self._set(i, done=False, description=e.value or None),
            )
            .props("dense outlined stack-label autogrow maxlength=2000")
            .classes("w-full")
            .mark(f"tool-description-{index}")
        )
        for typed in (name, about):
            typed.on("blur", lambda _: self._publish(done=True))
        ui.switch(
            "Needs approval (a person approves every call)",
            value=bool(entry.get("needs_approval")),
            on_change=lambda e, i=index: self._set(i, needs_approval=bool(e.value)),
        ).props("dense").mark(f"tool-approval-{index}")

    def _mcp(self, index: int, entry: Entry) -> None:
        """An MCP server's: its tools as last listed, each with "may call" and "needs approval"."""
        server_id = self.choices.server_id(entry.get("server"))
        if server_id is None:
            if entry.get("server"):
                ui.label("This server is not among the MCP servers: choose another, or add it.").classes(
                    "fy-tool__about"
                )
            return
        server = self.choices.servers[server_id]
        chosen: list[str] | None = entry.get("tools")
        approve = set(entry.get("approve_tools") or [])
        every_call = bool(entry.get("needs_approval"))
        listed = list(server.tools or [])
        names = [name for name, _ in listed]
        missing = [n for n in [*(chosen or []), *sorted(approve)] if n not in names]
        rows = listed + [(n, "Not offered by the server (as last listed): it fails when called") for n in missing]
        rows = list(dict.fromkeys(rows))

        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            if server.tools is None:
                note = "Its tools have not been listed yet."
            else:
                count = len(listed)
                note = f"It offers {count} tool{'' if count == 1 else 's'}" + (":" if count else ".")
            ui.label(note).classes("fy-tool__about grow").mark(f"tool-listing-{index}")
            status = ui.label().classes("fy-tool__about text-negative")
            status.set_visibility(False)
            if self.choices.refresh is not None:
                refresh = self.choices.refresh

                async def again(button: ui.button, key: str = server_id, i: int = index) -> None:
                    button.props("loading")
                    try:
                        found = await refresh(key)
                    except Exception as exc:  # (whatever stopped the server from answering, in its words)
                        button.props(remove="loading")
                        status.set_text(str(exc) or type(exc).__name__)
                        status.set_visibility(True)
                        return
                    self.choices.servers[key].tools = list(found)
                    self._redraw_body(i)

                listing = "List tools" if server.tools is None else "List again"
                button = ui.button(listing, icon="refresh").props("flat dense no-caps size=sm")
                button.on_click(lambda b=button: again(b)).tooltip("Ask the server for its tools now").mark(
                    f"tool-refresh-{index}"
                )
        if not rows:
            return
        ui.switch(
            "Every tool it offers, also ones it adds later",
            value=chosen is None,
            on_change=lambda e, i=index: self._every_tool(i, bool(e.value)),
        ).props("dense").mark(f"tool-all-{index}")
        boxes = self._boxes[index] = _ServerBoxes(
            ui.label("Tick the tools the model may call: none is chosen yet.").classes("fy-tool__about"),
            every_call=every_call,
        )
        boxes.note.set_visibility(chosen == [])
        with ui.element("div").classes("fy-tool__grid").mark(f"tool-grid-{index}"):
            ui.label("Tool").classes("fy-tool__head")
            ui.label("May call").classes("fy-tool__head fy-tool__head--check")
            ui.label("Needs approval").classes("fy-tool__head fy-tool__head--check")
            for tool, about in rows:
                with ui.column().classes("fy-tool__row gap-0"):
                    ui.label(tool).classes("fy-tool__name")
                    if about:
                        ui.label(about).classes("fy-tool__about")
                with ui.element("div").classes("fy-tool__cell--check fy-tool__row"):
                    boxes.calls[tool] = (
                        ui.checkbox(
                            value=chosen is None or tool in chosen,
                            on_change=lambda e, t=tool, i=index: self._may_call(i, t, bool(e.value)),
                        )
                        .props(f'dense aria-label="May call {tool}"' + (" disable" if chosen is None else ""))
                        .mark(f"tool-call-{index}-{tool}")
                    )
                with ui.element("div").classes("fy-tool__cell--check fy-tool__row"):
                    boxes.approvals[tool] = (
                        ui.checkbox(
                            value=every_call or tool in approve,
                            on_change=lambda e, t=tool, i=index: self._approve(i, t, bool(e.value)),
                        )
                        .props(f'dense aria-label="{tool} needs approval"')
                        .mark(f"tool-approve-{index}-{tool}")
                    )
                    boxes.may_call(tool, chosen is None or tool in chosen)
        if every_call:  # (set in the settings' JSON: shown so that it can be turned off)
            ui.switch(
                "Every call of this server needs approval",
                value=True,
                on_change=lambda e, i=index: self._set(i, redraw=True, needs_approval=bool(e.value)),
            ).props("dense").mark(f"tool-approval-{index}")

    # (ticks change their boxes in place: drawn anew, a box would lose the keyboard's focus and a quick next click)

    def _every_tool(self, index: int, every: bool) -> None:
        """All of the server's tools (the boxes ticked and fixed), or the ones ticked, none at first."""
        self._set(index, tools=None if every else [])
        boxes = self._boxes[index]
        for tool, box in boxes.calls.items():
            box.set_value(every)
            if every:
                box.props("disable")
            else:
                box.props(remove="disable")
            boxes.may_call(tool, every)
        boxes.note.set_visibility(not every)

    def _may_call(self, index: int, tool: str, allowed: bool) -> None:
        before = self.entries[index].get("tools")
        if before is None:  # every tool: the boxes only show it
            return
        chosen = [t for t in before if t != tool] + ([tool] if allowed else [])
        self._set(index, tools=chosen)
        self._boxes[index].note.set_visibility(not chosen)
        self._boxes[index].may_call(tool, allowed)

    def _approve(self, index: int, tool: str, needed: bool) -> None:
        approve = [t for t in self.entries[index].get("approve_tools") or [] if t != tool]
        self._set(index, approve_tools=[*approve, tool] if needed else approve)


def _clean(entry: Entry) -> Entry:
    """An entry as the agent kind takes it: only its type's fields, empty overrides left out."""
    kind = entry.get("type")
    kept = {"type": kind, _TARGET.get(str(kind), "agent_id"): entry.get(_TARGET.get(str(kind), "agent_id"))}
    if kind == "mcp":
        kept["tools"] = entry.get("tools")
        kept["approve_tools"] = list(entry.get("approve_tools") or [])
    else:
        for key in ("name", "description"):
            if entry.get(key):
                kept[key] = entry[key]
    if entry.get("needs_approval"):
        kept["needs_approval"] = True
    return kept


def _plain(message: str, field: str) -> str:
    """A validation message about one entry, in words ("a tool of type agent needs agent_id" → "Choose a saved
    agent"); one about a field of it names the field."""
    found = _NEEDS_TARGET.fullmatch(message.strip())
    if found is not None:
        return _CHOOSE.get(found[1], message)
    if not field:
        return message
    names = {"name": "Tool name", "description": "Description", "tools": "Tools", "approve_tools": "Approval"}
    return f"{names.get(field, field)}: {message}"
