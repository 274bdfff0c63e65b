"""`AgentLoop`: an agent step's loop as a nested timeline — each model turn, the tool calls it made, and how
each ended — with totals on top.

Plain data in: `set(entries, approvals=..., now=...)` takes the loop's entries as dicts (the fields of the run
detail's `loop`: seq, kind "turn"|"tool", status, turn, tool, arguments (JSON text), result, text, error, usage,
approval_id, started_at, finished_at, duration_ms) and the step's approvals as dicts (id, status, decided_by,
reason, edited, seq: the tool call's seq, budget: {"used", "budget", "more"} for a token budget). `stream(text)`
shows the text a running turn has produced so far, without redrawing anything else.

A turn shows its iteration number, its text and its tokens; under it, each tool call with its name, status,
duration, arguments and result (long results folded) or error, and its approval ("approved by ann (edited)",
"rejected by ann: reason", or a link to decide it in the inbox). The next turn is the model's next move.
Redrawn only when an entry changes, so a fold opened by the reader stays open while the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nicegui import ui

from components.json_view import JsonView
from components.timeline import duration_text

__all__ = ["AgentLoop", "loop_totals", "totals_text"]

FINAL_ANSWER = "final_answer"

# an entry's status → (the status colour's key, the chip's label)
_CHIPS = {
    "PENDING": ("queued", "Queued"),
    "RUNNING": ("running", "Running"),
    "COMPLETED": ("completed", "Completed"),
    "FAILED": ("failed", "Failed"),
    "WAITING_APPROVAL": ("waiting", "Waiting for approval"),
    "REJECTED": ("cancelled", "Rejected"),
    "CANCELLED": ("cancelled", "Cancelled"),
}


def loop_totals(entries: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(turns, tool calls, tokens) of a loop's entries."""
    turns = sum(1 for e in entries if e.get("kind") == "turn")
    calls = sum(1 for e in entries if e.get("kind") == "tool" and e.get("tool") != FINAL_ANSWER)
    tokens = sum(_tokens(e.get("usage")) for e in entries if e.get("kind") == "turn")
    return turns, calls, tokens


def totals_text(entries: list[dict[str, Any]], *, tokens: bool = True) -> str:
    """ "3 turns · 2 tool calls · 1,234 tokens" (`tokens=False`: without the tokens, said elsewhere)."""
    turns, calls, used = loop_totals(entries)
    parts = [_count(turns, "turn"), _count(calls, "tool call")]
    if tokens and used:
        parts.append(f"{used:,} tokens")
    return " · ".join(parts)


class AgentLoop(ui.column):
    def __init__(self, *, inbox_href: Callable[[str], str] | None = None) -> None:
        """An empty loop; `set` fills it.

        :param inbox_href: the address of an approval in the inbox (by its id), for the link of a call waiting
            for a decision; None: the waiting call is said, not linked (the reader may not decide it)
        """
        super().__init__()
        self.classes("fy-loop w-full gap-0")
        self._inbox_href = inbox_href
        self._shown: str | None = None
        self._open: set[str] = set()  # the folds the reader opened, kept across redraws
        self._stream: ui.label | None = None
        self._thinking: ui.label | None = None
        self._streamed = ""
        self._clocks: list[tuple[ui.label, datetime]] = []  # the running entries' durations, counted by `tick`

    def set(self, entries: list[dict[str, Any]], *, approvals: list[dict[str, Any]], now: datetime) -> None:
        """Show `entries` (in `seq` order) with their `approvals`; running durations are counted up to `now`.
        Nothing is redrawn when they are what is shown already (only the running durations move on)."""
        shown = json.dumps([entries, approvals], sort_keys=True, default=str)
        if shown == self._shown:
            self.tick(now)
            return
        self._shown = shown
        self.clear()
        self._stream, self._thinking, self._clocks = None, None, []
        ordered = sorted(entries, key=lambda e: e["seq"])
        with self:
            with ui.row().classes("fy-loop__totals w-full items-center gap-2 text-sm").mark("loop-totals"):
                ui.icon("all_inclusive").classes("text-base fy-muted")
                ui.label(totals_text(ordered))
            if not ordered:
                ui.label("The agent has not started its first turn yet.").classes("fy-muted text-sm")
            budgets = sorted((a for a in approvals if a.get("budget")), key=lambda a: str(a.get("created_at")))
            for entry in ordered:
                if entry["kind"] != "turn":
                    continue  # drawn inside its turn
                while budgets and _before(budgets[0], entry):
                    self._budget(budgets.pop(0))
                calls = [e for e in ordered if e["kind"] == "tool" and e["turn"] == entry["turn"]]
                self._turn(entry, calls, approvals, now)
            for budget in budgets:
                self._budget(budget)

    def tick(self, now: datetime) -> None:
        """Count the running entries' durations on, up to `now`."""
        for label, started in self._clocks:
            label.set_text(duration_text(max((now - started).total_seconds(), 0)) + "…")

    def restart(self) -> None:
        """A turn started or ended: what streams next belongs to the next turn (the shown text stays)."""
        self._streamed, self._stream, self._thinking = "", None, None

    def stream(self, text: str) -> None:
        """The text the running turn has produced so far (shown as it streams in)."""
        self._streamed = text
        if self._stream is not None:
            self._stream.set_text(text)
            self._stream.set_visibility(bool(text))
        if self._thinking is not None:
            self._thinking.set_visibility(not text)

    # --- entries -----------------------------------------------------------------------------------------

    def _turn(
        self, entry: dict[str, Any], calls: list[dict[str, Any]], approvals: list[dict[str, Any]], now: datetime
    ) -> None:
        """A model turn: its header, its text (streamed while it runs) or error, then the tool calls it made."""
        status = entry["status"]
        answered = status == "COMPLETED" and not calls
        rail = _CHIPS.get(status, ("queued", ""))[0]
        with ui.element("div").classes(f"fy-loop__turn fy-loop__turn--{rail}").mark("loop-turn"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon("task_alt" if answered else "chat_bubble_outline").classes("fy-loop__icon")
                ui.label(f"Turn {entry['turn']}").classes("font-medium")
                if answered:
                    ui.label("· the answer").classes("fy-muted text-sm")
                elif calls:
                    ui.label(f"· {_count(len(calls), 'tool call')}").classes("fy-muted text-sm")
                if status != "COMPLETED":
                    _chip(status)
                ui.space()
                tokens = _tokens(entry.get("usage"))
                if tokens:
                    usage = entry.get("usage") or {}
                    ui.label(f"{tokens:,} tokens").classes("fy-muted text-xs").tooltip(
                        f"{usage.get('prompt_tokens', '?')} in · {usage.get('completion_tokens', '?')} out"
                    )
                self._duration(entry, now)
            text = (entry.get("text") or "").strip()
            if status == "RUNNING":
                live = text or self._streamed
                self._stream = ui.label(live).classes("fy-loop__text fy-loop__text--live").mark("loop-stream")
                self._stream.set_visibility(bool(live))
                self._thinking = ui.label("The model is thinking…").classes("fy-loop__text fy-muted text-sm italic")
                self._thinking.set_visibility(not live)
            elif text:
                ui.label(text).classes("fy-loop__text").mark("loop-text")
            elif answered:
                ui.label("(no text)").classes("fy-loop__text fy-muted text-sm italic")
            if entry.get("error"):
                ui.label(entry["error"]).classes("fy-error fy-loop__error").mark("loop-error")
            for call in calls:
                self._call(call, approvals, now)

    def _call(self, entry: dict[str, Any], approvals: list[dict[str, Any]], now: datetime) -> None:
        """A tool call: name, arguments (on the line when short), status, duration; its result or error."""
        status, tool = entry["status"], entry.get("tool") or "?"
        final = tool == FINAL_ANSWER
        arguments = _parsed(entry.get("arguments"))
        inline = _one_line(arguments)
        with ui.element("div").classes("fy-loop__call").mark("loop-call", f"call-{entry['seq']}"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.icon("flag" if final else "build").classes("fy-loop__icon")
                ui.label("final answer" if final else tool).classes("font-mono font-medium flex-none")
                if inline is not None:
                    ui.label(inline).classes("fy-loop__args font-mono truncate").mark("loop-arguments").tooltip(inline)
                ui.space()
                _chip(status)
                self._duration(entry, now)
            if inline is None:
                self._value("Arguments", arguments, f"a{entry['seq']}", marker="loop-arguments")
            if entry.get("error") and status != "REJECTED":
                ui.label(entry["error"]).classes("fy-error fy-loop__error").mark("loop-error")
            elif status == "COMPLETED" and not final:
                self._value("Result", entry.get("result"), f"r{entry['seq']}", marker="loop-result")
            self._decision(entry, approvals)

    def _decision(self, entry: dict[str, Any], approvals: list[dict[str, Any]]) -> None:
        approval = next((a for a in approvals if entry.get("approval_id") and a["id"] == entry["approval_id"]), None)
        if approval is None:
            approval = next((a for a in reversed(approvals) if a.get("seq") == entry["seq"]), None)
        if approval is None:
            return
        who = approval.get("decided_by") or "someone"
        with ui.row().classes("fy-loop__approval items-center gap-1 text-sm no-wrap").mark("loop-approval"):
            if approval["status"] == "APPROVED":
                ui.icon("how_to_reg").classes("text-base")
                ui.label(f"approved by {who}" + (" (edited)" if approval.get("edited") else ""))
            elif approval["status"] == "REJECTED":
                ui.icon("block").classes("text-base")
                ui.label(f"rejected by {who}: {approval.get('reason') or 'no reason given'}")
            elif approval["status"] == "PENDING":
                ui.icon("hourglass_top").classes("text-base fy-loop__waiting")
                ui.label("waiting for approval")
                if self._inbox_href is not None:
                    ui.label("—")
                    ui.link("open in inbox", self._inbox_href(approval["id"])).mark("loop-inbox-link")
            else:
                ui.label(str(approval["status"]).lower())

    def _budget(self, approval: dict[str, Any]) -> None:
        budget = approval["budget"]
        who = approval.get("decided_by") or "someone"
        said = {
            "PENDING": "waiting for a person to allow more",
            "APPROVED": f"{who} allowed {_int(budget.get('more')):,} more",
            "REJECTED": f"{who} stopped it" + (f": {approval['reason']}" if approval.get("reason") else ""),
        }.get(approval["status"], str(approval["status"]).lower())
        with ui.row().classes("fy-loop__budget w-full items-center gap-2 text-sm no-wrap").mark("loop-budget"):
            ui.icon("savings").classes("fy-loop__icon")
            ui.label(
                f"Token budget reached: {_int(budget.get('used')):,} of {_int(budget.get('budget')):,} used — {said}"
            )
            if approval["status"] == "PENDING" and self._inbox_href is not None:
                ui.link("open in inbox", self._inbox_href(approval["id"])).mark("loop-inbox-link")

    def _duration(self, entry: dict[str, Any], now: datetime) -> None:
        if entry.get("duration_ms") is not None and entry.get("finished_at") is not None:
            ui.label(duration_text(entry["duration_ms"] / 1000)).classes("fy-muted text-xs fy-loop__time")
        elif entry.get("started_at") is not None and entry.get("finished_at") is None:
            seconds = max((now - entry["started_at"]).total_seconds(), 0)
            label = ui.label(duration_text(seconds) + "…").classes("fy-muted text-xs fy-loop__time")
            self._clocks.append((label, entry["started_at"]))

    def _value(self, label: str, value: Any, key: str, *, marker: str) -> None:
        """A labelled JSON value: a short one on a line, a longer one folded under a one-line preview (the fold
        remembered across redraws)."""
        if value is None or value in ("", {}, []):
            return
        line = _one_line(value)
        if line is not None:
            with ui.row().classes("w-full items-baseline gap-2 no-wrap"):
                ui.label(label).classes("fy-loop__label flex-none")
                ui.label(line).classes("fy-loop__args font-mono truncate").mark(marker).tooltip(line)
            return
        compact = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        with (
            ui.expansion(value=key in self._open)
            .props("dense switch-toggle-side expand-separator=false")
            .classes("fy-loop__fold w-full")
            .on_value_change(lambda e: self._open.add(key) if e.value else self._open.discard(key)) as fold
        ):
            with fold.add_slot("header"), ui.row().classes("w-full items-baseline gap-2 no-wrap min-w-0"):
                ui.label(label).classes("fy-loop__label flex-none")
                ui.label(compact[:300]).classes("fy-loop__args font-mono truncate")
            JsonView(value, max_height="20rem").mark(marker)


def _chip(status: str) -> None:
    key, label = _CHIPS.get(status, ("queued", status.capitalize()))
    with ui.element("span").classes(f"fy-status fy-status--{key}").mark("loop-status"):
        ui.element("span").classes("fy-status__dot")
        ui.label(label).classes("fy-status__label")


def _before(approval: dict[str, Any], entry: dict[str, Any]) -> bool:
    asked, started = approval.get("created_at"), entry.get("started_at")
    return asked is not None and started is not None and asked <= started


def _parsed(arguments: Any) -> Any:
    """Arguments as the model wrote them (JSON text) as a value to show; text that is not JSON as it is."""
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments


def _one_line(value: Any, limit: int = 110) -> str | None:
    """`value` on one line when it is short enough to read there (a flat, small object or a short text)."""
    if isinstance(value, str):
        return value if len(value) <= limit and "\n" not in value else None
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else None


def _tokens(usage: Any) -> int:
    if not isinstance(usage, dict):
        return 0
    total = usage.get("total_tokens")
    if total is None:
        total = _int(usage.get("prompt_tokens")) + _int(usage.get("completion_tokens"))
    return _int(total)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
