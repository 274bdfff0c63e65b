"""The shell every page sits in: `frame(title)` draws the header, the left navigation and the content area.

The header carries the product name, a live count of active runs and the light/dark toggle (remembered
per browser in `app.storage.user`); the navigation lists every section, with the Inbox's pending
approvals as a badge. Every section in the navigation is a page that does its job: a section is listed
once its page exists.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from nicegui import app as nicegui_app
from nicegui import ui

from app.engine.events import Event
from app.engine.exceptions import FlowyardError
from app.models.instance import Theme
from app.models.people import Permission, Principal
from app.models.runs import Activity
from app.pages import access, live, theme
from app.pages.context import services

__all__ = ["NAVIGATION", "Section", "frame"]

log = logging.getLogger("flowyard")

THEME_KEY = "dark_mode"
LOGIN_CHECK_SECONDS = 60.0
ACTIVITY_REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class Section:
    """An entry of the left navigation, with what its page will hold (shown until the page exists)."""

    label: str
    path: str
    icon: str
    purpose: str
    permission: Permission | None = None
    """Listed only for people who may open it (the page checks again on the server)."""


P = Permission
NAVIGATION = (
    Section("Workflows", "/workflows", "account_tree", "Build, run and share multi-step agent workflows.",
            P.VIEW_WORKFLOWS),
    Section("Runs", "/runs", "play_circle", "Every run of every workflow, live: status, trigger, duration, progress.",
            P.VIEW_RUNS),
    Section("Inbox", "/inbox", "inbox", "Steps waiting for your approval, with their context: approve, edit, reject.",
            P.VIEW_RUNS),
    Section("Schedules", "/schedules", "event_repeat", "Workflows that run on a cron or an interval, and when next.",
            P.VIEW_WORKFLOWS),
    Section("Agents", "/agents", "smart_toy", "The saved, configured agents your workflows use, each with a test.",
            P.VIEW_WORKFLOWS),
    Section("Credentials", "/credentials", "key", "Secrets your agents use, stored write-only.", P.MANAGE),
    Section("MCP servers", "/mcp-servers", "hub", "Servers whose tools your steps and agents call.",
            P.VIEW_WORKFLOWS),
    Section("Settings", "/settings", "settings",
            "Your account and API tokens; for admins, people, the audit log and the instance's settings."),
)  # fmt: skip


@contextmanager
def frame(title: str, *, full_width: bool = False) -> Iterator[ui.element]:
    """Draw the shell around the page's content and yield the content area.

    :param title: the page's title (the browser tab reads "<title> · Flowyard")
    :param full_width: let the content fill the whole area without margins (the editor's canvas)
    """
    client = ui.context.client
    ui.page_title(f"{title} · Flowyard")
    ui.colors(primary=theme.ACCENT)
    client.content.classes("fy-page")
    ui.on_exception(_report_failure)
    dark = ui.dark_mode(nicegui_app.storage.user.get(THEME_KEY, _default_dark()))

    inbox_badge: ui.label | None = None
    # Full-width pages (the editor) keep the navigation as a rail of icons: the canvas needs the room.
    rail = " mini mini-width=60" if full_width else ""
    with ui.left_drawer(bordered=True).props(f"width=228{rail}").classes("fy-drawer") as drawer:
        current = client.request.url.path
        who = access.principal()
        with ui.column().classes("fy-nav"):
            for section in NAVIGATION:
                if section.permission is not None and not who.can(section.permission):
                    continue
                active = current == section.path or current.startswith(section.path + "/")
                with (
                    ui.link(target=section.path)
                    .classes("fy-nav__item" + (" fy-nav__item--active" if active else ""))
                    .props('aria-current="page"' if active else "")
                    .mark(f"nav-{section.label.lower()}")
                ):
                    icon = ui.icon(section.icon).classes("fy-nav__icon")
                    if full_width:  # a rail of icons (the label is there for screen readers only)
                        icon.tooltip(section.label)
                    ui.label(section.label).classes("fy-nav__label q-mini-drawer-hide")
                    if section.path == "/inbox":
                        inbox_badge = ui.label().classes("fy-nav__badge").mark("inbox-badge")

    with ui.header().classes("fy-header"):
        ui.button(icon="menu", on_click=drawer.toggle, color=None).props(
            'flat round dense aria-label="Show or hide the navigation"'
        ).classes("fy-menu-button")
        with ui.link(target="/workflows").classes("fy-brand"):
            ui.icon("hub").classes("fy-brand__mark")
            ui.label("Flowyard").classes("fy-brand__name")
        ui.space()
        activity = _ActivityIndicator(inbox_badge)
        _theme_toggle(dark)
        _account_menu(who)

    with ui.element("main").classes("fy-content" + (" fy-content--full" if full_width else "")) as content:
        yield content

    # A timer waits for the browser's connection, and NiceGUI then sends the page at once: start it only
    # when the page is complete, or the page would arrive half built. Events make the counts live; the slow
    # timer catches runs moved by other processes (until their events arrive over Redis as well).
    with ui.context.client.layout:
        ui.timer(0.05, activity.refresh, once=True)
        ui.timer(ACTIVITY_REFRESH_SECONDS, activity.refresh)
        ui.timer(LOGIN_CHECK_SECONDS, _check_login)
        throttle = live.Throttle(activity.refresh, interval=0.3)
        live.follow(lambda _: throttle.poke(), accept=lambda e: e.node_key is None or e.status == "WAITING_APPROVAL")
        live.follow(_announce_approval, accept=lambda e: e.node_key is not None and e.status == "WAITING_APPROVAL")


async def _announce_approval(event: Event) -> None:
    """A notification in every open page when a step starts waiting for a person (but the run's own notice)."""
    if event.run_id in live.runs_with_notice():  # that notice says it: "Run waiting for approval"
        return
    try:
        name = (await services().workflows.get(event.workflow_id)).name
    except FlowyardError:
        name = event.workflow_id
    message = f"Approval needed: {html.escape(name)} · {html.escape(event.node_key or '')}"
    if ui.context.client.page.path != "/inbox":  # (in the inbox it is already in the list)
        message += ' — <a class="fy-notify-link" href="/inbox">Open inbox</a>'
    ui.notify(message, html=True, type="warning", icon="how_to_reg", position="bottom-right", timeout=8000)


class _ActivityIndicator:
    """The header's live count of queued and running runs and of pending approvals (also the Inbox badge)."""

    def __init__(self, inbox_badge: ui.label | None) -> None:
        with ui.link(target="/runs").classes("fy-activity").mark("active-runs") as self.link:
            ui.element("span").classes("fy-activity__dot")
            self.label = ui.label("No active runs").classes("fy-activity__label")
        self.inbox_badge = inbox_badge
        self.show(Activity(active_runs=0, pending_approvals=0))

    async def refresh(self) -> None:
        self.show(await services().runs.activity())

    def show(self, activity: Activity) -> None:
        running, pending = activity.active_runs, activity.pending_approvals
        parts = [f"{running} running"] if running else []
        if pending:
            parts.append(f"{pending} awaiting approval")
        self.label.set_text(" · ".join(parts) or "No active runs")
        self.link.props(f"href={'/inbox' if pending and not running else '/runs'}")
        self.link.classes(add="fy-activity--busy" if running else "", remove="" if running else "fy-activity--busy")
        if self.inbox_badge is not None:
            pending = activity.pending_approvals
            self.inbox_badge.set_text(str(pending) if pending < 100 else "99+")
            self.inbox_badge.set_visibility(pending > 0)


def _default_dark() -> bool | None:
    """The theme of someone who has not used the toggle: the instance's default (None follows the system)."""
    return {Theme.LIGHT: False, Theme.DARK: True, Theme.SYSTEM: None}[services().instance.defaults.theme]


def _theme_toggle(dark: ui.dark_mode) -> None:
    def icon() -> str:
        if dark.value is None:
            return "brightness_auto"
        return "light_mode" if dark.value else "dark_mode"

    def tip() -> str:
        if dark.value is None:
            return "The theme follows your system: switch to the other one"
        return "Switch to the light theme" if dark.value else "Switch to the dark theme"

    async def toggle() -> None:
        shown = dark.value
        if shown is None:  # following the system: switch away from what it shows now
            try:
                shown = await ui.run_javascript("window.matchMedia('(prefers-color-scheme: dark)').matches")
            except TimeoutError:
                shown = False
        dark.set_value(not shown)
        nicegui_app.storage.user[THEME_KEY] = dark.value
        button.set_icon(icon())
        button.props(f'aria-label="{tip()}"')
        tooltip.set_text(tip())

    with (
        ui.button(icon=icon(), on_click=toggle, color=None)
        .props(f'flat round aria-label="{tip()}"')
        .classes("fy-theme-toggle")
        .mark("theme-toggle") as button
    ):
        tooltip = ui.tooltip(tip())


def _account_menu(who: Principal) -> None:
    """The person's initials in the header, opening their name and role, Settings and Log out."""
    name = who.name or who.label
    initials = "".join(part[0] for part in name.split()[:2]).upper() or "?"
    with ui.button(color=None).props("flat round").classes("fy-account").mark("account-menu") as account:
        account.props["aria-label"] = f"Account: {name}, {initials}"  # (a name holds the text it shows)
        ui.label(initials).classes("fy-account__initials")
        with ui.menu().classes("fy-account__menu"):
            with ui.column().classes("fy-account__who gap-0"):
                ui.label(name).classes("fy-account__name")
                ui.label(f"{who.email or ''} · {who.role.value if who.role else who.kind}").classes("fy-muted")
            ui.separator()
            ui.menu_item("Settings", on_click=lambda: ui.navigate.to("/settings")).mark("menu-settings")
            ui.menu_item("Log out", on_click=_log_out).mark("log-out")


def _log_out() -> None:
    # A POST from the page itself (same origin): the server ends the login and clears the HttpOnly cookie.
    ui.run_javascript("fetch('/auth/logout', {method: 'POST'}).finally(() => { window.location.href = '/login'; })")


async def _check_login() -> None:
    """A page left open after its login ended (logged out elsewhere, expired, deactivated) goes to the login."""
    request = ui.context.client.request
    if request is not None and await access.request_principal(request) is None:
        ui.navigate.to("/login")


def _report_failure(exception: Exception) -> None:
    """An unexpected error in a page's handler: a toast for the person (NiceGUI logs the traceback).

    A browser that did not answer a JavaScript request in time (a slow or just reconnected connection, as when
    NiceGUI asks whether the drawer is open) is not something the person can act on: it is only logged.
    """
    if isinstance(exception, TimeoutError):
        log.warning("%s", exception)
        return
    ui.notify(f"Something went wrong: {exception}", type="negative", multi_line=True)
