"""The visual language's rules: one status vocabulary for runs and nodes, times as people say them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.engine.model import NodeStatus, RunStatus
from app.pages import theme

NOW = datetime(2026, 3, 12, 14, 3, 22, tzinfo=UTC)


@pytest.mark.parametrize("status", [*RunStatus, *NodeStatus])
def test_every_run_and_node_status_has_a_colour_an_icon_and_a_label(status: str) -> None:
    key = theme.status_key(status)

    assert key in theme.STATUS_COLORS and key in theme.STATUS_ICONS and key in theme.STATUS_LABELS


def test_paused_runs_and_nodes_waiting_for_approval_read_as_waiting() -> None:
    assert theme.status_key("PAUSED") == theme.status_key("WAITING_APPROVAL") == "waiting"
    assert theme.status_key("PENDING") == "queued"


def test_an_unknown_status_is_an_error() -> None:
    with pytest.raises(KeyError):
        theme.status_key("EXPLODED")


def test_css_variables_name_the_accent_and_every_status() -> None:
    css = theme.css_variables()

    assert f"--fy-accent: {theme.ACCENT};" in css
    assert all(f"--fy-status-{key}: {color};" in css for key, color in theme.STATUS_COLORS.items())


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=3, seconds=10), "3 min ago"),
        (timedelta(minutes=59), "59 min ago"),
        (timedelta(hours=5, minutes=40), "5 h ago"),
        (timedelta(days=1, hours=2), "yesterday"),
        (timedelta(days=4), "4 days ago"),
        (timedelta(days=30), "10 Feb 2026"),
    ],
)
def test_relative_time_reads_as_people_say_it(ago: timedelta, text: str) -> None:
    assert theme.relative_time(NOW - ago, NOW) == text


def test_exact_time_is_to_the_second_in_utc() -> None:
    assert theme.exact_time(NOW) == "12 Mar 2026, 14:03:22 UTC"
