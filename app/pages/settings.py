"""Settings: your account and API tokens (`/settings`); for admins, people (`/settings/people`), the audit
log (`/settings/audit`) and the instance (`/settings/instance`: run retention, defaults, facts).

A new token is shown once, in a dialog with a copy button, and never again: Flowyard keeps only its hash and
its first characters. People are added by an admin with a role and a first password to pass on.
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from urllib.parse import urlencode

from nicegui import ui
from pydantic import ValidationError

from app import clock
from app.engine.exceptions import FlowyardError, InvalidInput
from app.models.instance import MAX_RETENTION_DAYS, InstanceSettingsUpdate, PruneReport, Retention, Theme
from app.models.people import (
    MIN_PASSWORD_LENGTH,
    ROLE_DESCRIPTIONS,
    AuditEntry,
    Permission,
    Role,
    Scope,
    TokenCreate,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
    scopes_for,
)
from app.pages import access, guard, theme
from app.pages.context import services
from app.pages.dialogs import actions, confirm, dialog, error_label, show
from app.pages.layout import frame
from app.services.audit import AuditQuery
from app.services.instance import describe_change
from components.schema_form import plain_message

__all__ = ["register"]

SCOPE_LABELS = {
    Scope.READ: "read — see what your role may see (every other scope includes it)",
    Scope.RUN: "run — start, cancel and re-run runs and batches",
    Scope.WRITE: "write — change workflows, agents, schedules, webhooks",
    Scope.APPROVE: "approve — decide paused steps",
    Scope.ADMIN: "admin — everything your role allows",
}
EXPIRY = {"30": "30 days", "90": "90 days", "365": "1 year", "": "Never"}


def _tabs(current: str) -> None:
    tabs = [("Account", "/settings")]
    if access.principal().can(Permission.MANAGE):
        tabs += [("People", "/settings/people"), ("Audit log", "/settings/audit"), ("Instance", "/settings/instance")]
    with ui.row().classes("fy-tabs"):
        for label, path in tabs:
            active = " fy-tabs__tab--active" if path == current else ""
            ui.link(label, path).classes("fy-tabs__tab" + active).mark(f"tab-{label.split()[0].lower()}")


def _validation_message(exc: ValidationError) -> str:
    """Every problem of a form, each as '<field>: <what is wrong>'."""
    said = []
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem["loc"]).replace("_", " ").capitalize()
        message = plain_message(str(problem["msg"]).removeprefix("Value error, "))
        said.append(f"{where}: {message}" if where else message)
    return "; ".join(said)


def register() -> None:
    @guard.page("/settings")
    async def account_page() -> None:
        with frame("Settings"):
            _header("Settings", "Your account and the API tokens that act for you.")
            _tabs("/settings")
            await AccountSection().build()
            await TokensSection().build()

    @guard.page("/settings/people", Permission.MANAGE)
    async def people_page() -> None:
        with frame("People"):
            _header("Settings", "Who may use this Flowyard, and with which role.")
            _tabs("/settings/people")
            await PeopleSection().build()

    @guard.page("/settings/audit", Permission.MANAGE)
    async def audit_page(who: str = "", what: str = "", since: str = "") -> None:
        with frame("Audit log"):
            _header("Settings", "Who did what, when, and from where.")
            _tabs("/settings/audit")
            await AuditSection(who, what, since).build()

    @guard.page("/settings/instance", Permission.MANAGE)
    async def instance_page() -> None:
        with frame("Instance"):
            _header("Settings", "How long runs are kept, the defaults for everyone, and what this Flowyard runs on.")
            _tabs("/settings/instance")
            await InstanceSection().build()


def _header(title: str, subtitle: str) -> None:
    with ui.row().classes("fy-page-header"), ui.column().classes("gap-1"):
        ui.label(title).classes("fy-title")
        ui.label(subtitle).classes("fy-subtitle")


class AccountSection:
    async def build(self) -> None:
        who = access.principal()
        with ui.column().classes("fy-card fy-settings__card"):
            ui.label("Account").classes("fy-section-title")
            with ui.element("div").classes("fy-facts"):
                for label, value in (
                    ("Name", who.name or ""),
                    ("Email", who.email or ""),
                    ("Role", f"{who.role.value} — {ROLE_DESCRIPTIONS[who.role]}" if who.role else who.kind),
                ):
                    ui.label(label).classes("fy-facts__label")
                    ui.label(value).mark(f"account-{label.lower()}")
            ui.button("Change password", icon="password", on_click=self.open_password).props("outline no-caps").mark(
                "change-password"
            )
        self.host = ui.element("div")

    def open_password(self) -> None:
        with self.host, dialog("Change password") as box:
            current = ui.input("Current password", password=True).props("outlined autofocus").classes("w-full")
            new = ui.input(f"New password ({MIN_PASSWORD_LENGTH} characters or more)", password=True)
            new.props("outlined").classes("w-full")
            again = ui.input("New password again", password=True).props("outlined").classes("w-full")
            current.mark("current-password")
            new.mark("new-password")
            again.mark("new-password-again")
            error = error_label()

            async def change() -> None:
                if (new.value or "") != (again.value or ""):
                    show(error, "The two new passwords differ.")
                    return
                try:
                    await services().users.change_own_password(access.principal(), current.value or "", new.value or "")
                except InvalidInput as exc:
                    said = plain_message(exc.message)
                    show(error, said[0].upper() + said[1:] + ".")
                    return
                ui.notify("Password changed. Your other logins have ended.", type="positive")
                box.close()

            actions(box, "Change password", change)


class TokensSection:
    def __init__(self) -> None:
        self.items: list[TokenPublic] = []

    async def build(self) -> None:
        with ui.column().classes("fy-card fy-settings__card"):
            with ui.row().classes("items-center w-full"):
                with ui.column().classes("gap-0"):
                    ui.label("API tokens").classes("fy-section-title")
                    ui.label(
                        "Send one as 'Authorization: Bearer <token>'. It may do what its scopes and your role allow."
                    ).classes("fy-muted")
                ui.space()
                ui.button("New token", icon="add", on_click=self.open_create).props("unelevated no-caps").mark(
                    "new-token"
                )
            self.items = await services().tokens.list(access.principal())
            self.listing()
            self.host = ui.element("div")

    async def reload(self) -> None:
        self.items = await services().tokens.list(access.principal())
        self.listing.refresh()

    @ui.refreshable_method
    def listing(self) -> None:
        if not self.items:
            ui.label("No tokens yet.").classes("fy-muted").mark("no-tokens")
            return
        with ui.column().classes("fy-list gap-0 w-full"):
            with ui.element("div").classes("fy-list__head"):
                with ui.element("div").classes("fy-list__cells fy-tokens__cells"):
                    for label in ("Name", "Token", "Scopes", "Expires", "Last used"):
                        ui.label(label)
                ui.element("div").classes("fy-list__actions")
            for item in self.items:
                revoked = item.revoked_at is not None
                expired = item.expires_at is not None and item.expires_at <= clock.now()
                with ui.element("div").classes("fy-list__row").mark("token-row", item.name):
                    with ui.element("div").classes("fy-list__cells fy-tokens__cells"):
                        ui.label(item.name).classes("fy-workflow__name")
                        ui.label(f"{item.prefix}…").classes("font-mono fy-cell-text")
                        ui.label(", ".join(item.scopes)).classes("fy-cell-text")
                        if revoked:
                            ui.label("Revoked").classes("fy-muted")
                        elif expired:
                            ui.label("Expired").classes("fy-muted")
                        elif item.expires_at:
                            ui.label(f"{item.expires_at:%d %b %Y}").classes("fy-cell-text").tooltip(
                                theme.exact_time(item.expires_at)
                            )
                        else:
                            ui.label("Never").classes("fy-muted")
                        if item.last_used_at:
                            theme.time_label(item.last_used_at)
                        else:
                            ui.label("Never").classes("fy-muted")
                    with ui.element("div").classes("fy-list__actions"):
                        if not revoked:
                            ui.button("Revoke", on_click=lambda i=item: self.ask_revoke(i)).props(
                                "flat no-caps color=negative"
                            ).mark(f"revoke-{item.name}")

    def open_create(self) -> None:
        who = access.principal()
        usable = scopes_for(who.permissions)
        with self.host, dialog("New API token") as box:
            name = ui.input("Name (what it is for)").props("outlined autofocus").classes("w-full").mark("token-name")
            ui.label("Scopes").classes("fy-section-label")
            boxes = {scope: ui.checkbox(SCOPE_LABELS[scope], value=scope is Scope.READ).mark(f"scope-{scope.value}")
                     for scope in usable}  # fmt: skip
            expiry = ui.select(EXPIRY, label="Expires", value="90").props("outlined").classes("w-full").mark("expiry")
            error = error_label()

            async def create() -> None:
                scopes = [scope for scope, check in boxes.items() if check.value]
                try:
                    request = TokenCreate(
                        name=(name.value or "").strip(),
                        scopes=scopes,
                        expires_in_days=int(expiry.value) if expiry.value else None,
                    )
                    created = await services().tokens.create(access.principal(), request)
                except ValidationError as exc:
                    show(error, _validation_message(exc))
                    return
                except FlowyardError as exc:
                    show(error, str(exc))
                    return
                await self.reload()
                box.close()
                self.show_once(created.token)

            actions(box, "Create token", create)

    def show_once(self, token: str) -> None:
        with self.host, dialog("Your new token", wide=True) as box:
            ui.label("Copy it now: it is shown only this once.").classes("fy-muted")
            with ui.row().classes("items-center w-full no-wrap"):
                ui.input(value=token).props("outlined readonly").classes("w-full font-mono").mark("new-token-value")
                ui.button(icon="content_copy", on_click=lambda: ui.clipboard.write(token)).props(
                    'flat round aria-label="Copy"'
                ).tooltip("Copy").mark("copy-token")
            with ui.row().classes("fy-dialog__actions"):
                ui.button("Done", on_click=box.close).props("unelevated no-caps").mark("done")

    def ask_revoke(self, item: TokenPublic) -> None:
        with self.host:
            confirm(
                f"Revoke “{item.name}”?",
                "Whatever sends this token is refused from now on. A revoked token can't be brought back.",
                "Revoke",
                lambda: self.revoke(item),
            )

    async def revoke(self, item: TokenPublic) -> None:
        try:
            await services().tokens.revoke(access.principal(), item.id)
        except FlowyardError as exc:
            ui.notify(str(exc), type="negative")
            return
        ui.notify(f"Revoked “{item.name}”", type="positive")
        await self.reload()


class PeopleSection:
    def __init__(self) -> None:
        self.items: list[UserPublic] = []

    async def build(self) -> None:
        with ui.column().classes("fy-card fy-settings__card"):
            with ui.row().classes("items-center w-full"):
                ui.label("People").classes("fy-section-title")
                ui.space()
                ui.button("Add person", icon="person_add", on_click=self.open_add).props("unelevated no-caps").mark(
                    "add-person"
                )
            self.items = await services().users.list()
            self.listing()
            self.host = ui.element("div")

    async def reload(self) -> None:
        self.items = await services().users.list()
        self.listing.refresh()

    @ui.refreshable_method
    def listing(self) -> None:
        me = access.principal().user_id
        with ui.column().classes("fy-list gap-0 w-full"):
            with ui.element("div").classes("fy-list__head"):
                with ui.element("div").classes("fy-list__cells fy-people__cells"):
                    for label in ("Name", "Email", "Role", "Last login"):
                        ui.label(label)
                ui.element("div").classes("fy-list__actions")
            for user in self.items:
                with ui.element("div").classes("fy-list__row").mark("person-row", user.email):
                    with ui.element("div").classes("fy-list__cells fy-people__cells"):
                        suffix = " (you)" if user.id == me else "" if user.active else " (deactivated)"
                        ui.label(user.name + suffix).classes("fy-workflow__name")
                        ui.label(user.email).classes("fy-cell-text")
                        role = ui.select([r.value for r in Role], value=user.role).props("dense outlined")
                        role.mark(f"role-{user.email}").on_value_change(
                            lambda e, u=user: self.change(u, UserUpdate(role=Role(e.value)))
                        )
                        if user.last_login_at:
                            theme.time_label(user.last_login_at)
                        else:
                            ui.label("Never").classes("fy-muted")
                    with (
                        ui.element("div").classes("fy-list__actions"),
                        ui.button(icon="more_vert", color=None)
                        .props('flat round dense aria-label="More actions"')
                        .mark(f"more-{user.email}"),
                        ui.menu().props("anchor='bottom right' self='top right'"),
                    ):
                        ui.menu_item("Set a new password", lambda u=user: self.open_password(u)).mark(
                            f"password-{user.email}"
                        )
                        label = "Deactivate" if user.active else "Activate"
                        ui.menu_item(label, lambda u=user: self.ask_active(u)).mark(f"{label.lower()}-{user.email}")

    async def ask_active(self, user: UserPublic) -> None:
        """Deactivating ends someone's logins and tokens at once: ask first. Activating asks nothing."""
        if not user.active:
            await self.change(user, UserUpdate(active=True))
            return
        with self.host:
            confirm(
                f"Deactivate {user.name}?",
                f"{user.email} can no longer log in; their open pages and API tokens stop working at once. "
                "Their runs and records stay. You can activate them again later.",
                "Deactivate",
                lambda: self.change(user, UserUpdate(active=False)),
            )

    async def change(self, user: UserPublic, change: UserUpdate) -> None:
        if not await access.may(Permission.MANAGE):
            return
        try:
            await services().users.update(user.id, change, by=access.principal())
        except FlowyardError as exc:
            message = str(exc)
            ui.notify(message[:1].upper() + message[1:], type="negative")
        else:
            if change.role is not None:
                done = f"{user.name} is now {'an' if change.role.value[0] in 'ae' else 'a'} {change.role.value}"
            else:
                done = f"{user.name} {'may log in again' if change.active else 'can no longer log in'}"
            ui.notify(done + "; their open pages ask them to log in again", type="positive")
        await self.reload()

    def open_add(self) -> None:
        with self.host, dialog("Add a person") as box:
            name = ui.input("Name").props("outlined autofocus").classes("w-full").mark("person-name")
            email = ui.input("Email").props("outlined").classes("w-full").mark("person-email")
            options = {r.value: f"{r.value} — {ROLE_DESCRIPTIONS[r]}" for r in Role}
            role = ui.select(options, label="Role", value=Role.VIEWER.value).props("outlined").classes("w-full")
            role.mark("person-role")
            password = ui.input(f"First password ({MIN_PASSWORD_LENGTH}+ characters; pass it on)", password=True)
            password.props("outlined password-toggle-button").classes("w-full").mark("person-password")
            error = error_label()

            async def add() -> None:
                if not await access.may(Permission.MANAGE):
                    return
                try:
                    user = UserCreate(
                        email=email.value or "",
                        name=name.value or "",
                        role=Role(role.value),
                        password=password.value or "",
                    )
                    await services().users.create(user, by=access.principal())
                except ValidationError as exc:
                    show(error, _validation_message(exc))
                    return
                except FlowyardError as exc:
                    show(error, str(exc))
                    return
                ui.notify(f"Added {user.name} as {user.role.value}", type="positive")
                await self.reload()
                box.close()

            actions(box, "Add person", add)

    def open_password(self, user: UserPublic) -> None:
        with self.host, dialog(f"New password for {user.name}") as box:
            password = ui.input(f"Password ({MIN_PASSWORD_LENGTH}+ characters)", password=True)
            password.props("outlined autofocus password-toggle-button").classes("w-full").mark("set-password")
            error = error_label()

            async def set_password() -> None:
                if not await access.may(Permission.MANAGE):
                    return
                try:
                    await services().users.set_password(user.id, password.value or "", by=access.principal())
                except InvalidInput as exc:
                    show(error, f"Password: {plain_message(exc.message)}")
                    return
                ui.notify(f"Set a new password for {user.name}; their logins ended", type="positive")
                box.close()

            actions(box, "Set password", set_password)


AUDIT_ACTIONS = {
    "login": "Logged in",
    "login.failed": "Login failed",
    "login.throttled": "Login refused (too many tries)",
    "logout": "Logged out",
    "user.create": "Added a person",
    "user.update": "Changed a person",
    "user.password": "Set a password",
    "token.create": "Created an API token",
    "token.revoke": "Revoked an API token",
    "credential.create": "Added a credential",
    "credential.replace": "Replaced a credential",
    "credential.delete": "Deleted a credential",
    "workflow.create": "Created a workflow",
    "workflow.update": "Changed a workflow",
    "workflow.save": "Saved a workflow",
    "workflow.delete": "Deleted a workflow",
    "workflow.step.add": "Added a step",
    "workflow.step.delete": "Removed a step",
    "workflow.access": "Changed who approves",
    "workflow.callback_secret.rotate": "Rotated a callback secret",
    "workflow.callback_secret.shared": "Went back to the shared callback secret",
    "approval.approve": "Approved a step",
    "approval.approve_edited": "Approved a step with edits",
    "approval.reject": "Rejected a step",
    "settings.update": "Changed the instance's settings",
    "settings.prune": "Pruned old runs",
    "runs.delete": "Deleted runs",
}
"""What an audit action is called on the page (the API gives the action itself)."""

SINCE = {"": "Any time", "1": "Last 24 hours", "7": "Last 7 days", "30": "Last 30 days"}


def action_label(action: str) -> str:
    return AUDIT_ACTIONS.get(action) or action.replace(".", " ").replace("_", " ").capitalize()


class AuditSection:
    """The audit log with its filters; the filters live in the address, so a filtered view can be shared."""

    def __init__(self, who: str = "", what: str = "", since: str = "") -> None:
        self.items: list[AuditEntry] = []
        self.filters = {"who": who, "what": what, "since": since if since in SINCE else ""}

    async def build(self) -> None:
        actions_seen = await services().audit.actions()
        with ui.row().classes("fy-run-filters items-center"):
            self.actor = ui.input("Who", value=self.filters["who"], on_change=self.reload)
            self.actor.props("outlined dense clearable debounce=300").mark("audit-actor")
            choices = {"": "Everything", **{a: action_label(a) for a in actions_seen}}
            if self.filters["what"] and self.filters["what"] not in choices:
                choices[self.filters["what"]] = action_label(self.filters["what"])
            self.action = ui.select(choices, label="What", value=self.filters["what"], on_change=self.reload)
            self.action.props("outlined dense").classes("w-56").mark("audit-action")
            self.since = ui.select(SINCE, label="When", value=self.filters["since"], on_change=self.reload)
            self.since.props("outlined dense").classes("w-40").mark("audit-since")
        with ui.column().classes("fy-card fy-settings__card"):
            await self.load()
            self.listing()

    async def load(self) -> None:
        days = self.since.value
        query = AuditQuery(
            actor=self.actor.value or None,
            action=self.action.value or None,
            since=clock.now() - timedelta(days=int(days)) if days else None,
            limit=200,
        )
        self.items = await services().audit.list(query)

    async def reload(self) -> None:
        await self.load()
        self.listing.refresh()
        shown = {"who": self.actor.value or "", "what": self.action.value or "", "since": self.since.value or ""}
        query = urlencode({key: value for key, value in shown.items() if value})
        ui.navigate.history.replace("/settings/audit" + (f"?{query}" if query else ""))

    @ui.refreshable_method
    def listing(self) -> None:
        if not self.items:
            ui.label("Nothing recorded matches.").classes("fy-muted").mark("audit-empty")
            return
        with ui.column().classes("fy-list gap-0 w-full"):
            with (
                ui.element("div").classes("fy-list__head"),
                ui.element("div").classes("fy-list__cells fy-audit__cells"),
            ):
                for label in ("When", "Who", "What", "On", "Detail", "From"):
                    ui.label(label)
            for entry in self.items:
                with (
                    ui.element("div").classes("fy-list__row").mark("audit-row", entry.action),
                    ui.element("div").classes("fy-list__cells fy-audit__cells"),
                ):
                    theme.time_label(entry.at)
                    ui.label(entry.actor).classes("fy-cell-text")
                    ui.label(action_label(entry.action)).classes("fy-cell-text").tooltip(entry.action)
                    ui.label(entry.target or "").classes("fy-cell-text")
                    ui.label(entry.detail or "").classes("fy-cell-text fy-muted")
                    ui.label(entry.ip or "").classes("fy-cell-text fy-muted")


RETENTION_FIELDS = (
    ("completed_days", "Completed runs", "retention-completed"),
    ("failed_days", "Failed runs", "retention-failed"),
    ("cancelled_days", "Cancelled runs", "retention-cancelled"),
)
THEMES = {Theme.LIGHT.value: "Light", Theme.DARK.value: "Dark", Theme.SYSTEM.value: "Follow the system"}


def _zones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def _days_problem(label: str, value: float | None) -> str | None:
    """Why `value` is no number of days to keep runs for (None: it is one, or empty for "forever")."""
    if value is None:
        return None
    if value != int(value):
        return f"{label}: a whole number of days"
    if value < 1:
        return f"{label}: at least 1 day (leave it empty to keep them forever)"
    if value > MAX_RETENTION_DAYS:
        return f"{label}: at most {MAX_RETENTION_DAYS} days"
    return None


def _deleted(report: PruneReport) -> str:
    if not report.runs:
        return "Deleted no runs: none was past its retention"
    runs = "1 run" if report.runs == 1 else f"{report.runs} runs"
    return (
        f"Deleted {runs} (with {report.node_runs} step runs, {report.approvals} approvals and"
        f" {report.callback_deliveries} callback deliveries)"
    )


class InstanceSection:
    """The instance's settings (admins): run retention with "Prune now", the defaults, and facts."""

    async def build(self) -> None:
        self.current = await services().instance.get()
        self.host = ui.element("div")
        self.retention_card()
        self.defaults_card()
        self.about_card()

    def retention_card(self) -> None:
        retention = self.current.retention
        with ui.column().classes("fy-card fy-settings__card").mark("retention"):
            ui.label("Data retention").classes("fy-section-title")
            ui.label(
                "Finished runs older than this are deleted once a day, with their step runs, approvals and callback "
                "deliveries. Leave a field empty to keep those runs forever. Queued, running and paused runs are "
                "never deleted."
            ).classes("fy-muted")
            self.days: dict[str, ui.number] = {}
            with ui.row().classes("w-full gap-3"):
                for field, label, marker in RETENTION_FIELDS:
                    days = getattr(retention, field)
                    box = ui.number(f"{label}: keep (days)", value=days, placeholder="forever")
                    self.days[field] = box.props("outlined dense stack-label").classes("w-52").mark(marker)
            self.retention_error = error_label().mark("retention-error")
            with ui.row().classes("items-center gap-3"):
                ui.button("Save retention", on_click=self.save_retention).props("unelevated no-caps").mark(
                    "save-retention"
                )
                ui.button("Prune now", icon="delete_sweep", on_click=self.ask_prune).props("outline no-caps").mark(
                    "prune-now"
                )
                self.last_prune()

    @ui.refreshable_method
    def last_prune(self) -> None:
        last = self.current.last_prune
        if last is None:
            ui.label("Not pruned yet.").classes("fy-muted").mark("last-prune")
            return
        with ui.row().classes("items-center gap-1 fy-muted").mark("last-prune"):
            ui.label("Last pruned")
            theme.time_label(last.at)
            ui.label(f"· {last.runs} run{'' if last.runs == 1 else 's'} deleted")

    def wanted_retention(self) -> Retention | None:
        """The retention in the fields, or None after saying what is wrong with them (all of it at once)."""
        problems = [_days_problem(label, self.days[field].value) for field, label, _ in RETENTION_FIELDS]
        said = [p for p in problems if p]
        if said:
            show(self.retention_error, "; ".join(said))
            return None
        self.retention_error.set_visibility(False)
        values = {field: self.days[field].value for field, _, _ in RETENTION_FIELDS}
        return Retention(**{field: int(value) if value is not None else None for field, value in values.items()})

    async def save_retention(self) -> None:
        if not await access.may(Permission.MANAGE):
            return
        retention = self.wanted_retention()
        if retention is not None:
            await self.save(InstanceSettingsUpdate(retention=retention))

    async def save(self, change: InstanceSettingsUpdate) -> None:
        before = self.current
        try:
            self.current = await services().instance.update(change, by=access.principal())
        except FlowyardError as exc:
            ui.notify(str(exc), type="negative")
            return
        said = describe_change(before, self.current)
        if said == "nothing":
            ui.notify("Nothing changed: those are the settings already")
        else:
            ui.notify(f"Saved: {said}", type="positive")

    async def ask_prune(self) -> None:
        retention = self.wanted_retention()
        if retention is None:
            return
        if retention != self.current.retention:
            show(self.retention_error, "Save the retention first: Prune now deletes by the saved one")
            return
        if not retention.active:
            show(self.retention_error, "Nothing to prune: every status is kept forever. Set a number of days first")
            return
        rules = [
            f"{label.lower()} older than {getattr(retention, field)} days"
            for field, label, _ in RETENTION_FIELDS
            if getattr(retention, field) is not None
        ]
        with self.host:
            confirm(
                "Prune old runs now?",
                f"This deletes {', '.join(rules)}, with their step runs, approvals and callback deliveries. "
                "It can't be undone.",
                "Prune now",
                self.prune,
            )

    async def prune(self) -> None:
        if not await access.may(Permission.MANAGE):
            return
        try:
            report = await services().instance.prune(by=access.principal())
        except FlowyardError as exc:
            ui.notify(str(exc), type="negative")
            return
        ui.notify(_deleted(report), type="positive")
        self.current = await services().instance.get()
        self.last_prune.refresh()

    def defaults_card(self) -> None:
        with ui.column().classes("fy-card fy-settings__card").mark("defaults"):
            ui.label("Defaults for everyone").classes("fy-section-title")
            ui.label(
                "What applies where nobody chose: exact times on pages are shown in this time zone, and new "
                "schedules start in it when the browser does not tell its own (and over the API when they name "
                "none). The theme is what people see until they use the header's light/dark toggle."
            ).classes("fy-muted")
            with ui.row().classes("w-full gap-3"):
                self.zone = ui.select(
                    _zones(), label="Default time zone", value=self.current.default_time_zone, with_input=True
                )
                self.zone.props("outlined dense").classes("w-72").mark("default-time-zone")
                self.theme = ui.select(THEMES, label="Default theme", value=self.current.default_theme.value)
                self.theme.props("outlined dense").classes("w-56").mark("default-theme")
            self.defaults_error = error_label().mark("defaults-error")
            ui.button("Save defaults", on_click=self.save_defaults).props("unelevated no-caps").mark("save-defaults")

    async def save_defaults(self) -> None:
        if not await access.may(Permission.MANAGE):
            return
        try:
            change = InstanceSettingsUpdate.model_validate(
                {"default_time_zone": self.zone.value or "", "default_theme": self.theme.value or ""}
            )
        except ValidationError as exc:
            show(self.defaults_error, _validation_message(exc))
            return
        self.defaults_error.set_visibility(False)
        await self.save(change)

    def about_card(self) -> None:
        about = self.current.about
        with ui.column().classes("fy-card fy-settings__card").mark("about"):
            ui.label("About this instance").classes("fy-section-title")
            with ui.element("div").classes("fy-facts").style("grid-template-columns: 140px minmax(0, 1fr)"):
                for label, value, marker in (
                    ("Version", f"Flowyard {about.version}", "about-version"),
                    ("Database", {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(
                        about.database_kind, about.database_kind
                    ), "about-database"),
                    ("Database URL", about.database_url, "about-database-url"),
                    ("Data directory", about.data_dir, "about-data-dir"),
                ):  # fmt: skip
                    ui.label(label).classes("fy-facts__label")
                    text = ui.label(value).mark(marker)
                    if label in ("Database URL", "Data directory"):
                        text.classes("font-mono fy-cell-text")
