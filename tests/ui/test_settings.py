"""Settings: an admin adds people and changes their roles; anyone makes and revokes their own API tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from nicegui import ElementFilter, ui
from nicegui.testing import User

from app import __version__, clock
from app.models.instance import InstanceSettingsUpdate, Retention, Theme
from app.models.people import SYSTEM, Role, Scope, TokenCreate
from app.pages import theme
from app.root import Flowyard
from storage.models import RunRow
from tests.ui.conftest import add_person, log_in_as
from tests.ui.helpers import run_to_end, steps


async def test_an_admin_adds_a_person_with_a_role(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/people")
    user.find(marker="add-person").click()

    user.find(marker="person-name").type("Ann Approver")
    user.find(marker="person-email").type("not an email")
    user.find(marker="person-password").type("short")
    user.find(marker="confirm").click()

    await user.should_see("Email: not an email address (name@example.com); Password: Use at least 10 characters")
    user.find(marker="person-email").clear().type("ann@example.com")
    user.find(marker="person-password").clear().type("a long first password")
    user.find(marker="confirm").click()

    await user.should_see("Added Ann Approver as viewer")
    [ann] = [u for u in await flowyard.users.list() if u.email == "ann@example.com"]
    assert (ann.name, ann.role) == ("Ann Approver", "viewer")


async def test_changing_a_role_says_what_it_is_now(user: User, flowyard: Flowyard) -> None:
    await add_person(flowyard, "bo@example.com", Role.VIEWER, name="Bo")
    await user.open("/settings/people")

    select = user.find(marker="role-bo@example.com").elements.pop()
    select.set_value("approver")

    await user.should_see("Bo is now an approver")
    [bo] = [u for u in await flowyard.users.list() if u.email == "bo@example.com"]
    assert bo.role == "approver"


async def test_the_last_admin_cannot_be_demoted(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/people")

    select = user.find(marker="role-ada@example.com").elements.pop()
    select.set_value("viewer")

    await user.should_see("This is the last active admin")
    [ada] = [u for u in await flowyard.users.list() if u.email == "ada@example.com"]
    assert ada.role == "admin"


async def test_enter_in_a_field_confirms_the_dialog(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/people")
    user.find(marker="add-person").click()
    user.find(marker="person-name").type("Cy")
    user.find(marker="person-email").type("cy@example.com")
    user.find(marker="person-password").type("a long first password").trigger("keydown.enter")

    await user.should_see("Added Cy as viewer")
    assert "cy@example.com" in [u.email for u in await flowyard.users.list()]


async def test_deactivating_a_person_asks_first(user: User, flowyard: Flowyard) -> None:
    await add_person(flowyard, "bo@example.com", Role.EDITOR, name="Bo")
    await user.open("/settings/people")

    user.find(marker="deactivate-bo@example.com").click()
    await user.should_see("Deactivate Bo?")
    user.find("Cancel").click()
    [bo] = [u for u in await flowyard.users.list() if u.email == "bo@example.com"]
    assert bo.active

    user.find(marker="deactivate-bo@example.com").click()
    await user.should_see("Deactivate Bo?")
    user.find(marker="confirm").click()
    await user.should_see("Bo can no longer log in")
    [bo] = [u for u in await flowyard.users.list() if u.email == "bo@example.com"]
    assert not bo.active


async def test_revoking_a_token_asks_first(user: User, flowyard: Flowyard) -> None:
    [ada] = [u for u in await flowyard.users.list() if u.email == "ada@example.com"]
    owner = await flowyard.users.principal(ada.id)
    assert owner is not None
    await flowyard.tokens.create(owner, TokenCreate(name="ci", scopes=[Scope.READ]))
    await user.open("/settings")

    user.find(marker="revoke-ci").click()
    await user.should_see("Revoke “ci”?")
    user.find("Cancel").click()
    assert [t.revoked_at for t in await flowyard.tokens.list(owner)] == [None]

    user.find(marker="revoke-ci").click()
    user.find(marker="confirm").click()
    await user.should_see("Revoked “ci”")
    [token] = await flowyard.tokens.list(owner)
    assert token.revoked_at is not None


async def test_the_audit_log_names_actions_in_words_and_keeps_its_filters_in_the_address(
    user: User, flowyard: Flowyard
) -> None:
    await add_person(flowyard, "bo@example.com", Role.EDITOR, name="Bo")
    bo = next(u.id for u in await flowyard.users.list() if u.email == "bo@example.com")
    await flowyard.users.set_password(bo, "another long password", by=SYSTEM)

    await flowyard.workflows.create(name="Digest", definition=steps("{{ input }}"))

    await user.open("/settings/audit?what=user.password")

    await user.should_see("Set a password")
    await user.should_not_see("Created a workflow")  # only what the address asked for
    user.find(marker="audit-action").elements.pop().set_value("")
    await user.should_see("Created a workflow")


# --- the instance: retention, defaults, facts ------------------------------------------------------------------


async def _old_runs(flowyard: Flowyard, count: int, *, days_old: int) -> list[str]:
    """`count` completed runs of a new workflow, made `days_old` days old."""
    workflow = await flowyard.workflows.create(name=f"Old {days_old}", definition=steps("{{ input }}"))
    made = [(await run_to_end(flowyard, workflow.id)).id for _ in range(count)]
    runs = RunRow.__table__  # type: ignore[attr-defined]
    with flowyard.db.engine.begin() as conn:
        conn.execute(
            sa.update(runs).where(runs.c.id.in_(made)).values(created_at=clock.now() - timedelta(days=days_old))
        )
    return made


async def test_an_admin_keeps_runs_for_a_number_of_days_per_status(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/instance")
    await user.should_see("Not pruned yet.")

    user.find(marker="retention-completed").type("30")
    user.find(marker="retention-failed").type("90")
    user.find(marker="save-retention").click()

    await user.should_see("Saved: keep completed runs 30 days (was forever); keep failed runs 90 days (was forever)")
    retention = (await flowyard.instance.get()).retention
    assert (retention.completed_days, retention.failed_days, retention.cancelled_days) == (30, 90, None)
    [entry, *_] = await flowyard.audit.list()
    assert (entry.action, entry.actor) == ("settings.update", "ada@example.com")


async def test_bad_retention_names_each_field_and_saves_nothing(user: User, flowyard: Flowyard) -> None:
    await flowyard.instance.update(InstanceSettingsUpdate(retention=Retention(completed_days=30)), by=SYSTEM)
    await user.open("/settings/instance")

    user.find(marker="retention-completed").clear().type("0")
    user.find(marker="retention-failed").type("2.5")
    user.find(marker="save-retention").click()

    await user.should_see(
        "Completed runs: at least 1 day (leave it empty to keep them forever); Failed runs: a whole number of days"
    )
    retention = (await flowyard.instance.get()).retention
    assert (retention.completed_days, retention.failed_days) == (30, None)


async def test_prune_now_says_how_many_runs_it_deleted(user: User, flowyard: Flowyard) -> None:
    old = await _old_runs(flowyard, 2, days_old=40)
    recent = await _old_runs(flowyard, 1, days_old=3)
    await flowyard.instance.update(InstanceSettingsUpdate(retention=Retention(completed_days=30)), by=SYSTEM)
    await user.open("/settings/instance")

    user.find(marker="prune-now").click()
    await user.should_see("This deletes completed runs older than 30 days")
    user.find(marker="confirm").click()

    await user.should_see("Deleted 2 runs (with 2 step runs, 0 approvals and 0 callback deliveries)")
    await user.should_see("2 runs deleted")
    left = {run.id for run in (await flowyard.runs.list_all()).items}
    assert recent[0] in left
    assert not left & set(old)


async def test_prune_now_asks_to_save_changed_fields_first(user: User, flowyard: Flowyard) -> None:
    await _old_runs(flowyard, 1, days_old=40)
    await user.open("/settings/instance")

    user.find(marker="retention-completed").type("30")
    user.find(marker="prune-now").click()

    await user.should_see("Save the retention first: Prune now deletes by the saved one")
    assert len((await flowyard.runs.list_all()).items) == 1


async def test_the_default_theme_and_time_zone_apply_to_people_who_chose_none(user: User, flowyard: Flowyard) -> None:
    await user.open("/settings/instance")

    user.find(marker="default-time-zone").elements.pop().set_value("Asia/Tokyo")
    user.find(marker="default-theme").elements.pop().set_value("dark")
    user.find(marker="save-defaults").click()

    await user.should_see("Saved: default time zone Asia/Tokyo (was UTC); default theme dark (was light)")
    await user.open("/settings/instance")
    with user:
        [dark] = ElementFilter(kind=ui.dark_mode, local_scope=False)
    assert dark.value is True
    assert theme.exact_time(datetime(2030, 1, 1, 12, 0, tzinfo=UTC)) == "01 Jan 2030, 21:00:00 JST"


async def test_the_facts_say_version_database_and_data_directory(user: User, data_dir: Path) -> None:
    await user.open("/settings/instance")

    await user.should_see(f"Flowyard {__version__}")
    await user.should_see("SQLite")
    await user.should_see(str(data_dir.resolve()))
    await user.should_see(f"sqlite:///{(data_dir / 'flowyard.db').resolve()}")


async def test_only_admins_have_the_instance_tab(user: User, flowyard: Flowyard) -> None:
    await log_in_as(user, flowyard, "ed@example.com", Role.EDITOR)

    await user.open("/settings")

    await user.should_see("API tokens")
    await user.should_not_see(marker="tab-instance")


async def test_following_the_system_theme_the_toggle_switches_to_the_other_one(user: User, flowyard: Flowyard) -> None:
    await flowyard.instance.update(InstanceSettingsUpdate(default_theme=Theme.SYSTEM), by=SYSTEM)
    user.javascript_rules[re.compile(r".*prefers-color-scheme: dark.*")] = lambda _: True  # the system is dark
    await user.open("/workflows")
    with user:
        [dark] = ElementFilter(kind=ui.dark_mode, local_scope=False)
    assert dark.value is None  # (Quasar follows the system)

    user.find(marker="theme-toggle").click()

    await user.should_see("Switch to the dark theme")
    assert dark.value is False
