"""The shell around every page: navigation, the live activity in the header, the remembered theme."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from app.pages.layout import NAVIGATION, Section
from app.root import Flowyard
from tests.ui.helpers import landed_on, paused_run, steps


async def test_open_root_lands_on_the_workflows(user: User) -> None:
    await user.open("/")

    await user.should_see("No workflows yet — start from an example")


BUILT = {
    "/runs": "Every run of every workflow",
    "/inbox": "Steps waiting for your approval",
    "/agents": "Saved, configured agents",
    "/credentials": "Secrets your agents use",
    "/mcp-servers": "Servers whose tools your steps and agents call",
    "/schedules": "Workflows that run on a cron or an interval, in their own time zone.",
    "/settings": "API tokens",
}


@pytest.mark.parametrize("section", NAVIGATION[1:], ids=lambda s: s.label)
async def test_follow_a_navigation_link_reaches_its_page(user: User, section: Section) -> None:
    await user.open("/workflows")

    user.find(marker=f"nav-{section.label.lower()}").click()

    assert await landed_on(user, section.path) == section.path
    await user.should_see(BUILT[section.path])  # every section has its page: no placeholders


async def test_follow_the_workflows_link_from_another_section(user: User) -> None:
    await user.open("/schedules")

    user.find(marker="nav-workflows").click()

    await landed_on(user, "/workflows")
    await user.should_see("Start from an example")


async def test_toggle_the_theme_is_remembered_on_the_next_page(user: User) -> None:
    await user.open("/workflows")
    assert user.find(ui.dark_mode).elements.pop().value is False

    user.find(marker="theme-toggle").click()
    await user.open("/runs")

    assert user.find(ui.dark_mode).elements.pop().value is True
    await user.should_see("Switch to the light theme")


async def test_header_counts_the_runs_in_progress(user: User, flowyard: Flowyard) -> None:
    slow = await flowyard.workflows.create(name="Slow", definition=steps("", agent_id="delay", config={"seconds": 60}))
    await flowyard.runs.start(slow.id, input="x")

    await user.open("/workflows")

    await user.should_see("1 running", retries=30)


async def test_header_says_when_nothing_runs(user: User) -> None:
    await user.open("/workflows")

    await user.should_see("No active runs")


async def test_inbox_badge_counts_the_approvals_waiting(user: User, flowyard: Flowyard) -> None:
    await paused_run(flowyard)

    await user.open("/workflows")

    with user.scope(marker="nav-inbox"):
        await user.should_see("1", retries=30)
    await user.should_see("1 awaiting approval")
