"""One run (`/runs/{id}`), live: the workflow's graph coloured by node status, what each node got and
gave, a timeline, the run's input and output, its approvals and callback deliveries, and what can be
done with it (cancel, re-run, re-run from the failed node: for whoever may run workflows).

Node colours change the moment an event arrives (the canvas is told directly); everything else is
re-read from the store, throttled, so a burst of events is one redraw.
"""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments

from app import clock
from app.engine.events import Event
from app.engine.exceptions import FlowyardError, NotFound
from app.engine.model import ApprovalStatus, CallbackDelivery, RunStatus, Trigger, WorkflowDefinition
from app.engine.store import AgentRecord
from app.models.people import Permission
from app.models.runs import ApprovalPublic, NodeRunPublic, RunDetail
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.layout import frame
from app.pages.live import Throttle, follow, on_reconnect
from app.pages.runs import TRIGGER_OPTIONS
from app.services.graph import definition_to_graph
from components.agent_loop import AgentLoop, totals_text
from components.graph_editor import GraphEditor
from components.json_view import JsonView
from components.timeline import Timeline, duration_text

__all__ = ["register"]


def register() -> None:
    @guard.page("/runs/{run_id}", Permission.VIEW_RUNS)
    async def run_page(run_id: str) -> None:
        try:
            detail, definition = await services().runs.detail(run_id)
        except NotFound:
            with frame("Run not found"), ui.column().classes("fy-empty"):
                ui.label(f"There is no run “{run_id}”").classes("fy-empty__title")
                ui.label("It may have been pruned from the history.").classes("fy-empty__text")
                ui.button("All runs", on_click=lambda: ui.navigate.to("/runs")).props("outline no-caps")
            return
        with frame(f"Run {run_id}", full_width=False):
            page = RunView(run_id, await services().agents.by_id())
            await page.build(detail, definition)


class RunView:
    """The run as last read, the node shown in the side panel, and the elements that follow it."""

    def __init__(self, run_id: str, agents: dict[str, AgentRecord]) -> None:
        self.run_id = run_id
        self.agents = agents
        self.selected: str | None = None
        self.run: RunDetail
        self.nodes: dict[str, NodeRunPublic] = {}
        self.approvals: list[ApprovalPublic] = []
        self.deliveries: list[CallbackDelivery] = []
        self.definition: WorkflowDefinition | None = None
        self.workflow_name = ""
        self.workflow_href = ""
        self._ticks = 0
        self.streams: dict[str, str] = {}  # output streamed so far by running nodes (an llm's tokens)
        self.stream_label: ui.label | None = None
        self.loop_views: dict[str, AgentLoop] = {}  # the loops of agent steps, under the timeline
        self.duration_label: ui.label | None = None
        self._header_shown: tuple[object, ...] = ()
        self.may_run = access.principal().can(Permission.RUN)  # cancel and re-run are offered only then

    def title_of(self, key: str) -> str:
        node = next((n for n in self.definition.nodes if n.key == key), None) if self.definition else None
        if node is not None:
            agent = self.agents.get(node.agent_id)
            return node.name or (agent.name if agent else key)
        return key

    async def build(self, run: RunDetail, definition: WorkflowDefinition | None) -> None:
        self._take(run, definition)
        self.deliveries = await services().runs.callback_deliveries(self.run_id)
        try:
            workflow = await services().workflows.get(run.workflow_id)
            self.workflow_name = workflow.name
            # An agent called directly has a workflow of its own that is not edited: its crumb leads to the agents.
            self.workflow_href = "/agents" if workflow.for_agent else f"/workflows/{run.workflow_id}"
        except NotFound:
            self.workflow_name = f"{run.workflow_id} (deleted)"
            self.workflow_href = f"/workflows/{run.workflow_id}"
        self.header()
        with ui.row().classes("w-full no-wrap gap-4 items-stretch fy-run-body"):
            with ui.element("div").classes("fy-card fy-run-graph grow"):
                if self.definition is not None:
                    graph = definition_to_graph(self.definition, self.agents)
                    self.canvas: GraphEditor | None = GraphEditor(
                        graph, readonly=True, wheel_zoom=False, on_select=self._selected
                    )
                    self.canvas.classes("w-full h-full").mark("run-canvas")
                    self.canvas.set_statuses(self._statuses())
                    self.canvas.set_notes(self._token_notes())
                else:
                    self.canvas = None
                    ui.label("The definition this run used is no longer stored.").classes("fy-muted m-4")
            with ui.column().classes("fy-card fy-run-panel gap-2"):
                self.panel()
        with ui.tabs().props("dense no-caps inline-label align=left").classes("w-full fy-run-tabs") as tabs:
            self.timeline_tab = ui.tab("Timeline", icon="view_timeline")
            data_tab = ui.tab("Input and output", icon="data_object")
            approvals_tab = ui.tab("Approvals", icon="how_to_reg")
            callbacks_tab = ui.tab("Callbacks", icon="send")
        self.tabs = tabs
        with ui.tab_panels(tabs, value=self.timeline_tab).classes("w-full fy-card").props("animated=false"):
            with ui.tab_panel(self.timeline_tab):
                self.timeline = Timeline(status_key=theme.status_key, on_click=self._focus)
                self.loops_box = ui.column().classes("w-full gap-4")
                self._draw_timeline()
            with ui.tab_panel(data_tab):
                self.data()
            with ui.tab_panel(approvals_tab):
                self.approvals_list()
            with ui.tab_panel(callbacks_tab):
                self.callbacks()
        throttle = Throttle(self.refresh, interval=0.25)

        def event(event: Event) -> None:
            delta = event.data.get("delta")
            if event.node_key is not None and isinstance(delta, str):  # a piece of output as it is produced
                self.streams[event.node_key] = self.streams.get(event.node_key, "") + delta
                if self.selected == event.node_key and self.stream_label is not None:
                    self.stream_label.set_text(self.streams[event.node_key])
                if event.node_key in self.loop_views:  # an agent's turn: its text streams into the loop
                    self.loop_views[event.node_key].stream(self.streams[event.node_key])
                return
            if event.node_key is not None and "loop" in event.data:  # loop entries saved: a turn starts or ends
                self.streams[event.node_key] = ""
                if event.node_key in self.loop_views:
                    self.loop_views[event.node_key].restart()
            if event.node_key is not None and self.canvas is not None:
                self.canvas.set_statuses({event.node_key: event.status})  # at once: this is what people watch
            throttle.poke()

        follow(event, accept=lambda e: e.run_id == self.run_id)
        on_reconnect(self.refresh)
        if not RunStatus(self.run.status).is_terminal:
            ui.timer(1.0, self._tick)  # running durations keep counting between events

    def _take(self, run: RunDetail, definition: WorkflowDefinition | None) -> None:
        self.run, self.approvals, self.definition = run, run.approvals, definition
        self.nodes = {n.key: n for n in run.nodes}

    def _keys(self) -> list[str]:
        return [n.key for n in self.definition.nodes] if self.definition is not None else list(self.nodes)

    def _statuses(self) -> dict[str, str | None]:
        return {key: self._status(key) for key in self._keys()}

    def _status(self, key: str) -> str:
        """A step's status; once the run has ended, a step still queued (or never reached) is SKIPPED: it will not
        run."""
        node = self.nodes.get(key)
        status = node.status if node is not None else "PENDING"
        return "SKIPPED" if status == "PENDING" and RunStatus(self.run.status).is_terminal else status

    def _not_run(self, key: str) -> bool:
        """Whether the run ended without reaching this step (rather than skipping it on a branch)."""
        node = self.nodes.get(key)
        ended = RunStatus(self.run.status).is_terminal
        return ended and (node is None or node.status == "PENDING")

    def _token_notes(self) -> dict[str, str | None]:
        """ "412 tokens" on the nodes that report token usage (llm steps)."""
        notes: dict[str, str | None] = {}
        for key, node in self.nodes.items():
            tokens = (node.usage or {}).get("total_tokens")
            if tokens:
                notes[key] = f"{int(tokens):,} tokens"
        return notes

    async def refresh(self) -> None:
        try:
            run, definition = await services().runs.detail(self.run_id)
        except NotFound:
            return
        self._take(run, definition)
        self.deliveries = await services().runs.callback_deliveries(self.run_id)
        if self.canvas is not None:
            self.canvas.set_statuses(self._statuses())
            self.canvas.set_notes(self._token_notes())
        if self._header_shows() != self._header_shown:  # redrawn only when it changes: its buttons stay clickable
            self.header.refresh()
        else:
            self._show_duration()
        self.panel.refresh()
        self._draw_timeline()
        self.data.refresh()
        self.approvals_list.refresh()
        self.callbacks.refresh()

    async def _tick(self) -> None:
        """Every second of an active run: durations count on; every fifth, a re-read (events from other
        processes arrive over the bus only once it spans processes, and this catches anything missed)."""
        if RunStatus(self.run.status).is_terminal:
            return
        self._ticks += 1
        if self._ticks % 5 == 0:
            await self.refresh()
            return
        self._show_duration()
        self._draw_timeline()

    def _header_shows(self) -> tuple[object, ...]:
        """What the header's content depends on, but for the running duration (updated in place)."""
        run = self.run
        tokens = sum(int((n.usage or {}).get("total_tokens") or 0) for n in self.nodes.values() if n.usage)
        return (run.status, run.error, run.started_at, run.finished_at, run.session_id, tokens, self.workflow_name)

    def _duration_text(self) -> str:
        run = self.run
        if run.started_at is None:
            return ""
        end = run.finished_at or clock.now()
        return f"took {duration_text((end - run.started_at).total_seconds())}{'' if run.finished_at else ' so far'}"

    def _show_duration(self) -> None:
        if self.duration_label is not None:
            self.duration_label.set_text(self._duration_text())

    # --- the header -------------------------------------------------------------------------------------------

    @ui.refreshable_method
    def header(self) -> None:
        run = self.run
        status = RunStatus(run.status)
        self._header_shown = self._header_shows()
        with ui.row().classes("fy-page-header w-full items-start"):
            with ui.column().classes("gap-1"):
                with ui.row().classes("items-center gap-2 text-sm fy-muted"):
                    ui.link("Runs", "/runs").classes("fy-crumb")
                    ui.icon("chevron_right").classes("text-base")
                    if access.principal().can(Permission.VIEW_WORKFLOWS):
                        ui.link(self.workflow_name, self.workflow_href).classes("fy-crumb").mark("workflow-link")
                    else:  # (an approver sees runs, not how workflows are built)
                        ui.label(self.workflow_name).classes("fy-crumb")
                with ui.row().classes("items-center gap-3"):
                    ui.label(run.id).classes("fy-title font-mono").mark("run-id")
                    theme.status_chip(status.value).mark("run-status")
                with ui.row().classes("items-center gap-3 fy-muted text-sm"):
                    ui.label(f"Triggered by {TRIGGER_OPTIONS.get(run.trigger, run.trigger)}")
                    if run.until:
                        ui.label("·")
                        ui.label(f"Ran up to {self.title_of(run.until)}").mark("run-until").tooltip(
                            "Only this step and the steps it depends on ran; its output is the run's"
                        )
                    ui.label("·")
                    ui.label(f"version {run.workflow_version}").tooltip("The workflow version this run ran")
                    ui.label("·")
                    theme.time_label(run.created_at, prefix="created ")
                    self.duration_label = None
                    if run.started_at is not None:
                        ui.label("·")
                        self.duration_label = ui.label(self._duration_text()).mark("run-duration")
                    tokens = sum(int((n.usage or {}).get("total_tokens") or 0) for n in self.nodes.values() if n.usage)
                    if tokens:
                        ui.label("·")
                        ui.label(f"{tokens:,} tokens").mark("run-tokens")
                    if run.session_id:
                        ui.label("·")
                        ui.label(f"session {run.session_id}").classes("font-mono")
            ui.space()
            if self.may_run:
                self._actions(status)
        if run.error:
            with ui.row().classes("fy-error w-full items-start no-wrap"):
                ui.icon("error").classes("text-lg")
                ui.label(run.error).classes("whitespace-pre-wrap font-mono text-sm").mark("run-error")
            failed = next((n for n in self.nodes.values() if n.status == "FAILED"), None)
            hint = self._hint(failed.key) if failed is not None else None
            if hint:
                with ui.row().classes("w-full items-center no-wrap gap-2 text-sm"):
                    ui.icon("lightbulb").classes("text-lg fy-muted")
                    ui.label(f"How to fix: {hint}").classes("font-medium").mark("run-hint")

    def _hint(self, key: str) -> str | None:
        """What the run's input lacked for step `key` (its templates read more than it had), if that is why."""
        if self.definition is None:
            return None
        return services().inputs.hint(self.definition, key, self.run.input, self.agents)

    def _actions(self, status: RunStatus) -> None:
        with ui.row().classes("gap-2"):
            if status.is_active:
                ui.button("Cancel run", icon="stop_circle", on_click=self.cancel).props(
                    "outline no-caps color=negative"
                ).mark("cancel-run")
            if status == RunStatus.FAILED:
                ui.button("Re-run from failed step", icon="replay", on_click=self.rerun_failed).props(
                    "outline no-caps"
                ).mark("rerun-failed").tooltip("Keeps the completed steps' outputs and runs the rest again")
            ui.button("Re-run", icon="play_arrow", on_click=self.rerun).props("unelevated no-caps").mark(
                "rerun"
            ).tooltip(
                "A new run of the current version with the same input"
                + (f", up to {self.title_of(self.run.until)}" if self.run.until else "")
            )

    async def cancel(self) -> None:
        if not await access.may(Permission.RUN):
            return
        try:
            await services().runs.cancel(self.run_id)
        except FlowyardError as exc:
            ui.notify(str(exc), type="warning")
            return
        ui.notify("Cancelling…", type="info", timeout=1000)
        await self.refresh()

    async def rerun(self) -> None:
        if not await access.may(Permission.RUN):
            return
        try:
            run = await services().runs.start(
                self.run.workflow_id,
                input=self.run.input,
                trigger=Trigger.UI,
                session_id=self.run.session_id,
                started_by=access.principal().label,
                until=self.run.until,
            )
        except FlowyardError as exc:
            ui.notify(f"Cannot re-run: {exc}", type="negative")
            return
        ui.navigate.to(f"/runs/{run.id}")

    async def rerun_failed(self) -> None:
        if not await access.may(Permission.RUN):
            return
        try:
            await services().runs.rerun_failed(self.run_id)
        except FlowyardError as exc:
            ui.notify(f"Cannot re-run: {exc}", type="negative")
            return
        ui.notify("Re-running from the failed step", type="info", timeout=1500)
        await self.refresh()

    # --- the node panel ---------------------------------------------------------------------------------------

    def _selected(self, event: GenericEventArguments) -> None:
        nodes = (event.args or {}).get("nodes") or []
        self.selected = nodes[0] if len(nodes) == 1 else None
        self.panel.refresh()

    def _focus(self, key: str) -> None:
        self.selected = key
        if self.canvas is not None:
            self.canvas.select_node(key)
        self.panel.refresh()

    @ui.refreshable_method
    def panel(self) -> None:
        key = self.selected
        if key is None:
            ui.label("Select a step").classes("text-base font-medium")
            ui.label("Click a step on the graph or in the timeline to see what it got and what it gave.").classes(
                "fy-muted text-sm"
            )
            self._summary()
            return
        node = self.nodes.get(key)
        with ui.row().classes("w-full items-center gap-2 no-wrap"):
            ui.label(self.title_of(key)).classes("text-base font-medium grow truncate").mark("panel-title")
            theme.status_chip(self._status(key))
        ui.label(key).classes("font-mono text-xs fy-muted")
        if self._not_run(key):
            ui.label("Not run: the run ended before it reached this step.").classes("fy-muted text-sm").mark(
                "node-not-run"
            )
            return
        if node is None:
            ui.label("This step has not started.").classes("fy-muted text-sm")
            return
        with ui.element("div").classes("fy-facts"):
            _fact("Attempts", str(node.attempt))
            _fact("Started", theme.exact_time(node.started_at) if node.started_at else "—")
            _fact("Finished", theme.exact_time(node.finished_at) if node.finished_at else "—")
            if node.started_at is not None:
                end = node.finished_at or clock.now()
                _fact("Duration", duration_text((end - node.started_at).total_seconds()))
            if node.usage:
                _fact("Tokens", str(node.usage.get("total_tokens", node.usage)))
            if node.loop is not None:
                _fact("Loop", totals_text([entry.model_dump() for entry in node.loop], tokens=False))
        pending = next((a for a in self.approvals if a.node_key == key and a.status == ApprovalStatus.PENDING), None)
        if pending is not None and access.principal().can(Permission.APPROVE):
            ui.button(
                "Review in the inbox",
                icon="how_to_reg",
                on_click=lambda: ui.navigate.to(f"/inbox?approval={pending.id}"),
            ).props("unelevated no-caps").mark("review-approval")
        if node.loop is not None:
            ui.button("Show the loop", icon="all_inclusive", on_click=lambda: self._show_loop(key)).props(
                "outline no-caps"
            ).mark("show-loop").tooltip("Every model turn and tool call, under the timeline")
        self.stream_label = None
        if node.status == "RUNNING" and node.loop is None and (key in self.streams or node.output is None):
            ui.label("Output so far").classes("fy-section-label")
            self.stream_label = (
                ui.label(self.streams.get(key, "")).classes("fy-stream whitespace-pre-wrap text-sm").mark("node-stream")
            )
        if node.error:
            ui.label("Error").classes("fy-section-label")
            ui.label(node.error).classes("fy-error whitespace-pre-wrap font-mono text-sm").mark("node-error")
            hint = self._hint(key) if node.status == "FAILED" else None
            if hint:
                ui.label(f"How to fix: {hint}").classes("text-sm font-medium").mark("node-hint")
        ui.label("Input").classes("fy-section-label")
        JsonView(node.input, empty="No input").mark("node-input")
        ui.label("Output").classes("fy-section-label")
        JsonView(node.output, empty="No output yet" if not node.finished_at else "No output").mark("node-output")

    def _summary(self) -> None:
        counts: dict[str, int] = {}
        for status in self._statuses().values():
            key = theme.status_key(status or "PENDING")
            counts[key] = counts.get(key, 0) + 1
        with ui.column().classes("gap-1 mt-2"):
            for key, count in sorted(counts.items()):
                with ui.row().classes("items-center gap-2"):
                    theme.status_chip(key.upper() if key != "waiting" else "PAUSED")
                    ui.label(str(count)).classes("text-sm fy-muted")

    # --- the tabs ---------------------------------------------------------------------------------------------

    def _draw_timeline(self) -> None:
        items: list[dict[str, Any]] = []
        for key in dict.fromkeys([*self._keys(), *self.nodes]):
            node = self.nodes.get(key)
            status = self._status(key)
            label = "Not run" if self._not_run(key) else theme.STATUS_LABELS[theme.status_key(status)]
            start, end = (node.started_at, node.finished_at) if node is not None else (None, None)
            items.append({"key": key, "title": self.title_of(key), "status": status, "start": start, "end": end})
            items[-1]["label"] = label  # shown instead of a bar by a step that did not start
        self.timeline.set(items, now=clock.now())
        self._draw_loops()

    def _draw_loops(self) -> None:
        """Each agent step's loop under the timeline: its turns and tool calls, nested under the step's name."""
        keys = [key for key in dict.fromkeys([*self._keys(), *self.nodes]) if self._loop(key) is not None]
        if keys != list(self.loop_views):
            self.loops_box.clear()
            self.loop_views = {}
            with self.loops_box:
                for key in keys:
                    with ui.column().classes("fy-loop-step w-full gap-1").mark("agent-loop", key) as section:
                        section.props(f'id="loop-{key}"')
                        with ui.row().classes("w-full items-center gap-2"):
                            ui.icon("smart_toy").classes("text-lg fy-muted")
                            ui.label(self.title_of(key)).classes("font-medium")
                            ui.label("· agent loop").classes("fy-muted text-sm")
                        view = AgentLoop(inbox_href=lambda approval_id: f"/inbox?approval={approval_id}")
                        view.stream(self.streams.get(key, ""))
                        self.loop_views[key] = view
        now = clock.now()
        for key, view in self.loop_views.items():
            entries = [entry.model_dump() for entry in self._loop(key) or []]
            view.set(entries, approvals=self._loop_approvals(key), now=now)

    def _loop(self, key: str) -> list[Any] | None:
        node = self.nodes.get(key)
        return node.loop if node is not None else None

    def _loop_approvals(self, key: str) -> list[dict[str, Any]]:
        """The approvals of an agent step's tool calls and token budget, as its loop shows them."""
        shown = []
        for approval in self.approvals:
            details = approval.details or {}
            if approval.node_key != key or not details:
                continue
            call = details.get("tool_call") or {}
            shown.append(
                {
                    "id": approval.id,
                    "status": approval.status,
                    "decided_by": approval.decided_by,
                    "reason": approval.reason,
                    "edited": approval.status == ApprovalStatus.APPROVED and approval.output != approval.proposal,
                    "seq": call.get("seq"),
                    "budget": details.get("budget"),
                    "created_at": approval.created_at,
                }
            )
        return shown

    def _show_loop(self, key: str) -> None:
        self.tabs.set_value(self.timeline_tab)
        ui.run_javascript(
            f"document.getElementById({json.dumps('loop-' + key)})?.scrollIntoView({{behavior: 'smooth'}})"
        )

    @ui.refreshable_method
    def data(self) -> None:
        with ui.row().classes("w-full no-wrap gap-4 items-start"):
            with ui.column().classes("w-1/2 gap-1"):
                ui.label("Run input").classes("fy-section-label")
                JsonView(self.run.input, empty="No input").mark("run-input")
            with ui.column().classes("w-1/2 gap-1"):
                ui.label("Final output").classes("fy-section-label")
                empty = "No output yet" if not RunStatus(self.run.status).is_terminal else "No output"
                JsonView(self.run.output, empty=empty).mark("run-output")

    @ui.refreshable_method
    def approvals_list(self) -> None:
        if not self.approvals:
            ui.label("No step of this run asked for approval.").classes("fy-muted text-sm")
            return
        for approval in self.approvals:
            with ui.column().classes("w-full gap-1 fy-approval-record").mark("approval-record"):
                with ui.row().classes("items-center gap-2"):
                    ui.label(self.title_of(approval.node_key)).classes("font-medium")
                    about = approval.details or {}
                    if "tool_call" in about:  # an agent step's call of one tool, or its token budget
                        ui.label(f"calls {about['tool_call'].get('tool')}").classes("font-mono text-sm")
                    elif "budget" in about:
                        ui.label("token budget").classes("text-sm")
                    ui.label(_decision_text(approval)).classes("text-sm fy-muted").mark("approval-decision")
                    if approval.status == ApprovalStatus.PENDING:
                        ui.button(
                            "Review",
                            on_click=lambda a=approval: ui.navigate.to(f"/inbox?approval={a.id}"),
                        ).props("flat dense no-caps")
                if approval.reason:
                    ui.label(f"Reason: {approval.reason}").classes("text-sm")
                if approval.status == ApprovalStatus.APPROVED and approval.output != approval.proposal:
                    ui.label("Edited before approval:").classes("text-sm fy-muted")
                    changes = services().approvals.changes(approval.proposal, approval.output)
                    with ui.column().classes("fy-diff w-full gap-0").mark("approval-diff"):
                        for change in changes:
                            with ui.row().classes("gap-2 no-wrap items-baseline font-mono text-xs"):
                                ui.label("(whole value)" if change.path == "$" else change.path).classes(
                                    "fy-diff__path"
                                )
                                if change.kind != "added":
                                    ui.label(_short(change.before)).classes("fy-diff__before")
                                if change.kind != "removed":
                                    ui.label(_short(change.after)).classes("fy-diff__after")

    @ui.refreshable_method
    def callbacks(self) -> None:
        run = self.run
        if not run.callback_url:
            ui.label("This run has no callback URL.").classes("fy-muted text-sm")
            return
        with ui.row().classes("items-center gap-2 text-sm"):
            ui.label("POST to").classes("fy-muted")
            ui.label(run.callback_url).classes("font-mono")
            state = getattr(run, "callback_state", None)
            if state:
                ui.label(f"· {str(state).lower()}").classes("fy-muted").mark("callback-state")
        if not self.deliveries:
            when = "when the run ends" if not RunStatus(run.status).is_terminal else "soon"
            ui.label(f"Not sent yet: the result is sent {when}.").classes("fy-muted text-sm")
            return
        with ui.column().classes("fy-deliveries w-full gap-0"):
            for delivery in self.deliveries:
                ok = delivery.status_code is not None and 200 <= delivery.status_code < 300
                with ui.row().classes("items-center gap-3 text-sm no-wrap").mark("delivery"):
                    ui.icon("check_circle" if ok else "error").classes("text-positive" if ok else "text-negative")
                    ui.label(f"Attempt {delivery.attempt}").classes("w-20")
                    ui.label(str(delivery.status_code) if delivery.status_code else "no answer").classes(
                        "w-20 font-mono"
                    )
                    ui.label(f"{delivery.duration_ms:.0f} ms").classes("w-16 fy-muted")
                    ui.label(theme.exact_time(delivery.created_at)).classes("fy-muted")
                    if delivery.error:
                        ui.label(delivery.error).classes("text-negative truncate")


def _fact(label: str, value: str) -> None:
    ui.label(label).classes("fy-facts__label")
    ui.label(value).classes("fy-facts__value")


def _decision_text(approval: ApprovalPublic) -> str:
    if approval.status == ApprovalStatus.PENDING:
        since = f" since {theme.relative_time(approval.created_at)}" if approval.created_at else ""
        return f"waiting for a decision{since}"
    verb = "approved" if approval.status == ApprovalStatus.APPROVED else "rejected"
    who = f" by {approval.decided_by}" if approval.decided_by else ""
    when = f", {theme.exact_time(approval.decided_at)}" if approval.decided_at else ""
    return f"{verb}{who}{when}"


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
