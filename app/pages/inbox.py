"""The approval inbox (`/inbox`): every step waiting for a person, across all workflows, and the context to
decide one — the run's input, what the steps before it produced, the proposal in an editor — with Approve,
Approve with edits and Reject with a reason. New approvals appear live. `?approval=<id>` opens one.

Only whoever may decide a step is offered the decision: a person without the approve permission, one the
workflow does not name as its approver, or the run's starter where self-approval is forbidden sees why instead
(and the service checks again when a decision is made).
"""

from __future__ import annotations

import html
import json
from typing import Any

from nicegui import ui

from app import clock
from app.engine.events import Event
from app.engine.exceptions import FlowyardError, NotFound
from app.engine.model import ApprovalStatus, NodeStatus
from app.models.approvals import ApprovalContext, ApprovalPage
from app.models.people import Permission
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.layout import frame
from app.pages.live import Throttle, follow, on_reconnect
from components.json_view import JsonView
from components.schema_form import SchemaForm
from components.timeline import duration_text

__all__ = ["register"]

PAGE_SIZE = 100

ON_DEADLINE = {"approve": "approved", "reject": "rejected"}


def register() -> None:
    @guard.page("/inbox", Permission.VIEW_RUNS)
    async def inbox_page(approval: str | None = None) -> None:
        with frame("Inbox"):
            await Inbox(approval).build()


class Inbox:
    def __init__(self, selected: str | None) -> None:
        self.selected = selected
        self.result = ApprovalPage([], None)
        self.context: ApprovalContext | None = None
        self.missing = False
        self.refusal: str | None = None
        """Why the page's person may not decide the selected step, or None when they may."""

    async def build(self) -> None:
        with ui.row().classes("fy-page-header"):
            with ui.column().classes("gap-1"):
                ui.label("Inbox").classes("fy-title")
                ui.label(
                    "Steps waiting for your approval, from every workflow. Paused runs go on when you decide."
                    if access.principal().can(Permission.APPROVE)
                    else "Steps waiting for approval, from every workflow. Paused runs go on when someone decides."
                ).classes("fy-subtitle")
        await self.load()
        with ui.row().classes("w-full no-wrap gap-4 items-start fy-inbox"):
            with ui.column().classes("fy-card fy-inbox__list gap-0"):
                self.listing()
            with ui.column().classes("fy-card fy-inbox__detail grow gap-3"):
                self.detail()
        throttle = Throttle(self.reload, interval=0.3)
        follow(lambda _: throttle.poke(), accept=_concerns_approvals)
        on_reconnect(self.reload)

    async def load(self) -> None:
        self.result = await services().approvals.pending(size=PAGE_SIZE)
        if self.selected is None and self.result.items:
            self.selected = self.result.items[0].id
        await self.load_context()

    async def load_context(self) -> None:
        self.context, self.missing, self.refusal = None, False, None
        if self.selected is None:
            return
        try:
            self.context = await services().approvals.context(self.selected)
        except NotFound:
            self.missing = True
            return
        if self.context.status == ApprovalStatus.PENDING:
            self.refusal = await _refusal(self.context.run_id)

    async def reload(self) -> None:
        shown = self.context.status if self.context else None
        self.result = await services().approvals.pending(size=PAGE_SIZE)
        self.listing.refresh()
        if self.selected is None and self.result.items:
            await self.select(self.result.items[0].id)
            return
        if self.selected is not None and self.context is not None and shown == ApprovalStatus.PENDING:
            still = any(item.id == self.selected for item in self.result.items)
            if not still:  # decided elsewhere (another page, the API, its deadline): show how
                await self.load_context()
                self.detail.refresh()

    async def select(self, approval_id: str) -> None:
        self.selected = approval_id
        ui.navigate.history.replace(f"/inbox?approval={approval_id}")
        await self.load_context()
        self.listing.refresh()
        self.detail.refresh()

    # --- the list ---------------------------------------------------------------------------------------------

    @ui.refreshable_method
    def listing(self) -> None:
        items = self.result.items
        with ui.row().classes("fy-inbox__count w-full items-center"):
            ui.label("Waiting" if items else "Nothing waiting").classes("font-medium")
            ui.space()
            if items:
                ui.label(str(len(items)) + ("+" if self.result.next_cursor else "")).classes("fy-nav__badge")
        if not items:
            ui.label("When a step needs approval it appears here, and open pages show a notification.").classes(
                "fy-muted text-sm p-4"
            )
            return
        for item in items:
            active = item.id == self.selected
            with (
                ui.element("div")
                .classes("fy-inbox__item" + (" fy-inbox__item--active" if active else ""))
                .on("click", lambda _, i=item.id: self.select(i))
                .props("tabindex=0 role=button")
                .mark("approval-item", item.id)
            ):
                ui.label(item.node_title).classes("font-medium truncate")
                ui.label(item.workflow_name).classes("text-sm truncate")
                about = _about(item.details)
                if about:
                    ui.label(about).classes("text-xs font-mono truncate fy-inbox__about")
                with ui.row().classes("items-center gap-1 text-xs fy-muted"):
                    ui.label(f"waiting {theme.relative_time(item.waiting_since)}")
                    if item.deadline_at is not None:
                        ui.label("· " + _deadline_text(item.deadline_at, item.on_deadline))

    # --- one approval -----------------------------------------------------------------------------------------

    @ui.refreshable_method
    def detail(self) -> None:
        context = self.context
        if context is None:
            if self.missing:
                ui.label(f"There is no approval “{self.selected}”.").classes("fy-empty__title")
            with ui.column().classes("fy-empty"):
                with ui.element("div").classes("fy-empty__icon"):
                    ui.icon("inbox")
                ui.label("All caught up").classes("fy-empty__title")
                ui.label("No step is waiting for a decision.").classes("fy-empty__text")
            return
        with ui.row().classes("w-full items-start no-wrap"):
            with ui.column().classes("gap-1 grow"):
                ui.label(context.node_title).classes("fy-title").mark("approval-title")
                with ui.row().classes("items-center gap-2 text-sm fy-muted"):
                    ui.link(context.workflow_name, f"/workflows/{context.workflow_id}").classes("fy-crumb")
                    ui.label("·")
                    ui.link(context.run_id, f"/runs/{context.run_id}").classes("fy-crumb font-mono").mark("run-link")
                    ui.label("·")
                    pending = context.status == ApprovalStatus.PENDING
                    theme.time_label(context.waiting_since, prefix="waiting since " if pending else "asked ")
            if context.deadline_at is not None and context.status == ApprovalStatus.PENDING:
                ui.label(_deadline_text(context.deadline_at, context.on_deadline)).classes("fy-deadline")
        if context.details:
            self.agent_detail(context, context.details)
            return
        if context.instructions:
            with ui.row().classes("fy-instructions w-full no-wrap items-start"):
                ui.icon("info").classes("text-lg")
                ui.label(context.instructions).classes("whitespace-pre-wrap")
        if context.status != ApprovalStatus.PENDING:
            self.decided(context)
            return
        if self.refusal is not None:
            with ui.row().classes("fy-instructions w-full no-wrap items-start").mark("may-not-decide"):
                ui.icon("lock").classes("text-lg")
                ui.label(self.refusal)
            ui.label("Proposal").classes("fy-section-label")
            JsonView(context.proposal, empty="No proposal").mark("proposal")
        else:
            self.decision_controls(context)
        ui.label("Context").classes("fy-section-label mt-2")
        with ui.row().classes("w-full no-wrap gap-4 items-start"):
            with ui.column().classes("w-1/2 gap-1"):
                ui.label("Run input").classes("text-sm font-medium")
                JsonView(context.run_input, empty="No input").mark("context-input")
            with ui.column().classes("w-1/2 gap-1"):
                ui.label("Earlier steps' outputs").classes("text-sm font-medium")
                if not context.upstream:
                    ui.label("No earlier steps").classes("text-sm fy-muted italic")
                for key, output in context.upstream.items():
                    with ui.expansion(key, value=len(context.upstream) <= 3).classes("w-full").props("dense"):
                        JsonView(output, empty="No output")

    def decision_controls(self, context: ApprovalContext) -> None:
        """The proposal in an editor, the reason, and Approve · Approve with edits · Reject."""
        ui.label("Proposal — edit it before approving if it needs changes").classes("fy-section-label")
        editor = self.proposal_editor(context.proposal)
        reason = ui.input("Reason (needed to reject; kept with the decision)").props("outlined dense").classes("w-full")
        reason.mark("reason")
        error = ui.label().classes("text-negative text-sm")
        with ui.row().classes("gap-2"):
            ui.button("Approve", icon="check", on_click=lambda: self.decide("approve", None, reason.value)).props(
                "unelevated no-caps color=positive"
            ).mark("approve")
            edited = (
                ui.button(
                    "Approve with edits",
                    icon="edit_note",
                    on_click=lambda: self.decide("approve_edited", editor, reason.value, error),
                )
                .props("outline no-caps")
                .mark("approve-edited")
            )
            ui.button("Reject", icon="close", on_click=lambda: self.reject(reason.value, error)).props(
                "outline no-caps color=negative"
            ).mark("reject")
        original = editor.value
        edited.bind_enabled_from(editor, "value", backward=lambda text: text != original)

    def proposal_editor(self, proposal: Any) -> ui.textarea | ui.codemirror:
        if isinstance(proposal, str):
            return (
                ui.textarea(value=proposal)
                .props('outlined autogrow aria-label="Proposal"')
                .classes("w-full")
                .mark("proposal")
            )
        text = json.dumps(proposal, indent=2, ensure_ascii=False, default=str)
        return (
            ui.codemirror(text, language="JSON", line_wrapping=True)
            .classes("w-full fy-proposal border border-(--fy-border) rounded")
            .props('data-label="Proposal"')
            .mark("proposal")
        )

    def decided(self, context: ApprovalContext) -> None:
        verbs = {ApprovalStatus.APPROVED.value: "Approved", ApprovalStatus.REJECTED.value: "Rejected"}
        verb = verbs.get(context.status, context.status.capitalize())
        who = f" by {context.decided_by}" if context.decided_by else ""
        when = f", {theme.exact_time(context.decided_at)}" if context.decided_at else ""
        details = context.details or {}
        edited = context.status == ApprovalStatus.APPROVED and context.output != context.proposal
        shown_edit = " (edited)" if edited and "tool_call" in details else ""
        ui.label(f"{verb}{who}{when}{shown_edit}").classes("text-base font-medium").mark("decision")
        if context.status == ApprovalStatus.REJECTED:
            if "tool_call" in details:
                effect = "The call was not made: the agent read the reason as the tool's answer and went on."
            elif "budget" in details:
                effect = "The agent stopped at its token budget: the step failed."
            else:
                effect = "The step failed with this reason, and so did its run."
            ui.label(effect).classes("text-sm").mark("decision-effect")
        if context.reason:
            ui.label(f"Reason: {context.reason}").classes("text-sm")
        if context.status == ApprovalStatus.APPROVED and "budget" in details:
            more = _int((details.get("budget") or {}).get("more"))
            ui.label(f"The agent went on with {more:,} more tokens.").classes("text-sm").mark("decision-effect")
        elif context.status == ApprovalStatus.APPROVED:
            call = details.get("tool_call")
            if isinstance(call, dict):
                _tool_card(call, "The agent called")
            ui.label("With these arguments" if call else "Approved output").classes("fy-section-label")
            JsonView(context.output)
        next_item = next((i for i in self.result.items if i.id != context.id), None)
        if next_item is not None:
            ui.button("Next approval", icon="arrow_forward", on_click=lambda: self.select(next_item.id)).props(
                "unelevated no-caps"
            )

    # --- an agent step's approval: a tool call it wants to make, or its token budget ---------------------------

    def agent_detail(self, context: ApprovalContext, details: dict[str, Any]) -> None:
        call, budget = details.get("tool_call"), details.get("budget")
        if context.status != ApprovalStatus.PENDING:
            self.decided(context)
        elif self.refusal is not None:
            with ui.row().classes("fy-instructions w-full no-wrap items-start").mark("may-not-decide"):
                ui.icon("lock").classes("text-lg")
                ui.label(self.refusal)
        if isinstance(budget, dict):
            if context.status == ApprovalStatus.PENDING:
                self.budget_controls(budget)
            return
        if not isinstance(call, dict):
            return
        if context.status == ApprovalStatus.PENDING:
            _tool_card(call, "The agent wants to call a tool")
            if self.refusal is None:
                self.call_controls(context, call)
            else:
                JsonView(context.proposal, empty="No arguments").mark("proposal")
        conversation = call.get("conversation") or []
        if conversation:
            ui.label("The conversation so far").classes("fy-section-label mt-2")
            _conversation(conversation, call.get("call_id"))

    def call_controls(self, context: ApprovalContext, call: dict[str, Any]) -> None:
        """The call's arguments in a form (a flat schema) or a JSON editor, and Approve · Reject with a reason."""
        proposal = context.proposal if isinstance(context.proposal, dict) else {}
        parameters = call.get("parameters")
        schema: dict[str, Any] = parameters if isinstance(parameters, dict) else {}
        ui.label("Arguments — edit before approving").classes("fy-section-label")
        form: SchemaForm | None = None
        editor: ui.codemirror | None = None
        if _flat(schema):
            form = SchemaForm(schema, proposal, on_change=lambda _: edited()).classes("fy-call-form").mark("arguments")
            for field in form.descendants():  # compact: the decision's buttons stay in view on a small screen
                if isinstance(field, (ui.input, ui.number, ui.select, ui.textarea)):
                    field.props("outlined dense")
        else:
            editor = ui.codemirror(
                json.dumps(proposal, indent=2, ensure_ascii=False, default=str),
                language="JSON",
                line_wrapping=True,
                on_change=lambda _: edited(),
            ).classes("w-full fy-proposal border border-(--fy-border) rounded")
            editor.props('data-label="Arguments"').mark("arguments")
        reason = ui.input("Reason (needed to reject; the agent reads it)").props("outlined dense").classes("w-full")
        reason.mark("reason")
        error = ui.label().classes("text-negative text-sm")

        def arguments() -> dict[str, Any] | None:
            """The arguments as edited (None while the JSON does not parse: said beside the editor)."""
            if form is not None:
                return dict(form.value)
            assert editor is not None
            try:
                value = json.loads(editor.value)
            except json.JSONDecodeError as exc:
                error.set_text(f"The arguments are not valid JSON: {exc.msg} (line {exc.lineno})")
                return None
            if not isinstance(value, dict):
                error.set_text("The arguments must be a JSON object ({ … }).")
                return None
            return value

        def changed() -> bool:
            if form is not None:
                return dict(form.value) != proposal
            assert editor is not None
            try:
                return bool(json.loads(editor.value) != proposal)
            except json.JSONDecodeError:
                return True

        def edited() -> None:
            is_edited = changed()
            approve.set_text("Approve with edits" if is_edited else "Approve")
            approve.props(f"icon={'edit_note' if is_edited else 'check'}")
            undo.set_visibility(is_edited)
            error.set_text("")

        async def approve_clicked() -> None:
            value = arguments()
            if value is None:
                return
            if value == proposal:
                await self._decide("approve", output=None, reason=(reason.value or "").strip() or None)
            else:
                await self._decide("approve_edited", output=value, reason=(reason.value or "").strip() or None)

        async def reject_clicked() -> None:
            if not (reason.value or "").strip():
                error.set_text("Give a reason to reject: the agent reads it as the tool's answer.")
                return
            await self._decide("reject", output=None, reason=reason.value.strip())

        with ui.row().classes("gap-2 items-center"):
            approve = (
                ui.button("Approve", icon="check", on_click=approve_clicked)
                .props("unelevated no-caps color=positive")
                .mark("approve")
            )
            ui.button("Reject", icon="close", on_click=reject_clicked).props("outline no-caps color=negative").mark(
                "reject"
            )
            undo = ui.button("Undo edits", icon="undo", on_click=self.detail.refresh).props("flat no-caps")
            undo.mark("undo-edits").set_visibility(False)

    def budget_controls(self, budget: dict[str, Any]) -> None:
        used, allowed, more = (_int(budget.get(k)) for k in ("used", "budget", "more"))
        with ui.row().classes("fy-budget w-full items-center no-wrap gap-3").mark("budget"):
            ui.icon("savings").classes("text-2xl")
            with ui.column().classes("gap-0"):
                ui.label(f"The agent used {used:,} of its {allowed:,} tokens; allow {more:,} more?").classes(
                    "text-base"
                )
                if used >= allowed + more:  # each allowance is as much again: say when that is still too little
                    ui.label(
                        f"That makes {allowed + more:,} in all, still less than it used: it will ask again at once."
                    ).classes("text-sm fy-muted")
        if self.refusal is not None:
            return
        reason = ui.input("Why stop it (optional; kept with the decision)").props("outlined dense").classes("w-full")
        reason.mark("reason")
        with ui.row().classes("gap-2"):
            ui.button(
                f"Allow {more:,} more",
                icon="check",
                on_click=lambda: self._decide("approve", output=None, reason=None),
            ).props("unelevated no-caps color=positive").mark("allow-more")
            ui.button(
                "Stop",
                icon="stop_circle",
                on_click=lambda: self._decide(
                    "reject", output=None, reason=(reason.value or "").strip() or "no more tokens allowed"
                ),
            ).props("outline no-caps color=negative").mark("stop")

    async def decide(
        self, decision: str, editor: ui.textarea | ui.codemirror | None, reason: str, error: ui.label | None = None
    ) -> None:
        assert self.context is not None
        output: Any = None
        if decision == "approve_edited" and editor is not None:
            if isinstance(editor, ui.textarea):
                output = editor.value
            else:
                try:
                    output = json.loads(editor.value)
                except json.JSONDecodeError as exc:
                    if error is not None:
                        error.set_text(f"The edited proposal is not valid JSON: {exc.msg} (line {exc.lineno})")
                    return
        await self._decide(decision, output=output, reason=(reason or "").strip() or None)

    async def reject(self, reason: str, error: ui.label) -> None:
        if not (reason or "").strip():
            error.set_text("Give a reason to reject: it is kept with the run and shown to whoever looks at it.")
            return
        await self._decide("reject", output=None, reason=reason.strip())

    async def _decide(self, decision: str, *, output: Any, reason: str | None) -> None:
        assert self.context is not None
        if not await access.may(Permission.APPROVE):
            return
        approval_id = self.context.id
        try:
            await services().approvals.decide(
                approval_id,
                decision,  # type: ignore[arg-type]
                by=access.principal(),
                output=output,
                reason=reason,
            )
        except FlowyardError as exc:
            ui.notify(str(exc), type="warning")
            await self.load_context()
            self.detail.refresh()
            return
        details = self.context.details or {}
        if "tool_call" in details:  # the step goes on either way: the agent reads the decision
            said = {
                "approve": "Approved: the agent goes on",
                "approve_edited": "Approved with edits: the agent goes on",
                "reject": "Rejected: the agent reads your reason and goes on",
            }[decision]
            ui.notify(said, type="positive" if decision != "reject" else "info", timeout=2500)
        elif "budget" in details and decision != "reject":
            ui.notify("Allowed: the agent goes on", type="positive", timeout=2500)
        elif decision == "reject":  # the step fails, and so does its run: said as a failure, with the way to it
            run_id, title = self.context.run_id, self.context.node_title
            ui.notification(
                f"Rejected: “{html.escape(title)}” failed, and so did its run — "
                f'<a class="fy-notify-link" href="/runs/{html.escape(run_id)}">open the run</a>',
                html=True,
                type="negative",
                actions=[{"label": "Close", "color": "white", "noCaps": True}],
                timeout=None,
                multi_line=True,
            ).mark("decision-notice")
        else:
            said = (
                "Approved with edits: the run goes on" if decision == "approve_edited" else "Approved: the run goes on"
            )
            ui.notify(said, type="positive", timeout=2000)
        self.result = await services().approvals.pending(size=PAGE_SIZE)
        following = next((i.id for i in self.result.items if i.id != approval_id), None)
        if following is not None:
            await self.select(following)
        else:
            await self.load_context()
            self.listing.refresh()
            self.detail.refresh()


async def _refusal(run_id: str) -> str | None:
    """Why the page's person may not decide the steps of run `run_id`, in their words; None when they may."""
    who = access.principal()
    if not who.can(Permission.APPROVE):
        role = who.role.value if who.role else who.kind
        return f"Only approvers decide this step: your role ({role}) may look, not decide."
    try:
        problem = await services().approvers.problem(who, run_id)
    except NotFound:  # the run went meanwhile: deciding says so
        return None
    return f"{problem[0].upper()}{problem[1:]}." if problem else None


def _about(details: dict[str, Any] | None) -> str:
    """What an agent step's approval is about, in the list: "calls lookup", "token budget"."""
    details = details or {}
    call = details.get("tool_call")
    if isinstance(call, dict):
        return f"calls {call.get('tool') or 'a tool'}"
    if "budget" in details:
        return "token budget reached"
    return ""


def _tool_card(call: dict[str, Any], heading: str) -> None:
    """The tool an agent calls: its name and its description (what the model was told it does)."""
    with ui.row().classes("fy-tool-card w-full no-wrap items-start gap-3").mark("tool-call"):
        ui.icon("build").classes("text-xl fy-tool-card__icon")
        with ui.column().classes("gap-0 min-w-0"):
            ui.label(heading).classes("fy-tool-card__heading")
            ui.label(str(call.get("tool") or "?")).classes("font-mono font-medium")
            if call.get("description"):
                ui.label(str(call["description"])).classes("text-sm fy-muted whitespace-pre-wrap")


def _conversation(messages: list[dict[str, Any]], current: Any) -> None:
    """The end of the agent's conversation as compact chat bubbles; tool calls as `calls tool({…})`."""
    names: dict[str, str] = {}
    with ui.column().classes("fy-chat w-full gap-2").mark("conversation"):
        for message in messages:
            role = message.get("role")
            content = message.get("content")
            text = content if isinstance(content, str) else "" if content is None else json.dumps(content)
            if role == "system":
                with ui.element("div").classes("fy-chat__system w-full"):
                    ui.label(f"Instructions: {_cut(text, 300)}").classes("text-xs fy-muted").tooltip(_cut(text, 2000))
            elif role == "user":
                with ui.column().classes("fy-chat__bubble fy-chat__bubble--user gap-0"):
                    ui.label("Input").classes("fy-chat__who")
                    ui.label(_cut(text, 1500)).classes("whitespace-pre-wrap text-sm")
            elif role == "assistant":
                with ui.column().classes("fy-chat__bubble fy-chat__bubble--agent gap-1"):
                    ui.label("Agent").classes("fy-chat__who")
                    if text.strip():
                        ui.label(_cut(text, 1500)).classes("whitespace-pre-wrap text-sm")
                    for tool_call in message.get("tool_calls") or []:
                        function = tool_call.get("function") or {}
                        name = str(function.get("name") or "?")
                        names[str(tool_call.get("id"))] = name
                        waiting = tool_call.get("id") == current
                        ui.label(f"calls {name}({_compact(function.get('arguments'))})").classes(
                            "fy-chat__call font-mono text-xs" + (" fy-chat__call--current" if waiting else "")
                        ).tooltip("The call waiting for your decision" if waiting else "")
            elif role == "tool":
                name = names.get(str(message.get("tool_call_id")), "the tool")
                with ui.column().classes("fy-chat__bubble fy-chat__bubble--tool gap-0"):
                    ui.label(f"{name} answered").classes("fy-chat__who")
                    ui.label(_compact(text, 300)).classes("font-mono text-xs break-all").tooltip(_cut(text, 2000))


def _flat(schema: dict[str, Any]) -> bool:
    """Whether a tool's parameters are an object of simple fields (text, numbers, switches, choices): a form."""
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict) or not properties:
        return False
    for declared in properties.values():
        if not isinstance(declared, dict):
            return False
        options = [o for o in declared.get("anyOf") or [] if isinstance(o, dict) and o.get("type") != "null"]
        field = options[0] if len(options) == 1 and len(declared.get("anyOf") or []) == 2 else declared
        if "enum" not in field and field.get("type") not in ("string", "number", "integer", "boolean"):
            return False
    return True


def _compact(value: Any, limit: int = 200) -> str:
    """JSON (a value, or its text) on one line, cut at `limit`; text that is not JSON as it is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return _cut(value, limit)
    return _cut(json.dumps(value, ensure_ascii=False), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _concerns_approvals(event: Event) -> bool:
    """Events that can add or remove a pending approval: a step starting to wait, or a run moving on or ending."""
    if event.node_key is not None:
        return event.status == NodeStatus.WAITING_APPROVAL
    return True


def _deadline_text(deadline: Any, on_deadline: str) -> str:
    seconds = (deadline - clock.now()).total_seconds()
    then = ON_DEADLINE.get(on_deadline)
    if seconds <= 0:
        return "deadline passed" + (f": being {then}" if then else "")
    return f"deadline in {duration_text(seconds)}" + (f", then {then}" if then else "")
