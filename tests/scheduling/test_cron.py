"""Cron expressions mean what crontab users expect: weekdays, either-day matching, and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.engine.exceptions import InvalidInput
from app.services.schedules.cron import check_cron, describe, make_trigger, next_fire_times


def fires(expression: str, zone: str, after: str, count: int) -> list[str]:
    """The next fire times in local ISO form (with their offset)."""
    tz = ZoneInfo(zone)
    trigger = check_cron(expression, tz)
    start = datetime.fromisoformat(after).replace(tzinfo=tz)
    return [t.isoformat() for t in next_fire_times(trigger, start, count)]


def utc(times: list[str]) -> list[str]:
    return [datetime.fromisoformat(t).astimezone(UTC).strftime("%m-%d %H:%M") for t in times]


@pytest.mark.parametrize(
    ("zone", "day_before", "expected"),
    [
        ("America/New_York", "2026-03-07T12:00", ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
        ("Europe/Berlin", "2026-03-28T12:00", ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
        ("Australia/Sydney", "2026-10-03T12:00", ["2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"]),
    ],
)
def test_a_local_time_skipped_in_spring_fires_once_when_the_clock_jumps(
    zone: str, day_before: str, expected: list[str]
) -> None:
    assert fires("30 2 * * *", zone, day_before, 2) == expected


@pytest.mark.parametrize(
    ("zone", "expression", "day_before", "expected"),
    [
        (
            "America/New_York",
            "30 1 * * *",
            "2026-10-31T12:00",
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
        ),
        ("Europe/Berlin", "30 2 * * *", "2026-10-24T12:00", ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
        (
            "Australia/Sydney",
            "30 2 * * *",
            "2026-04-04T12:00",
            ["2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"],
        ),
    ],
)
def test_a_local_time_repeated_in_autumn_fires_once_the_first_time(
    zone: str, expression: str, day_before: str, expected: list[str]
) -> None:
    assert fires(expression, zone, day_before, 2) == expected


def test_a_skipped_hour_with_several_times_fires_once_at_the_jump() -> None:
    assert fires("*/15 2 * * *", "America/New_York", "2026-03-07T12:00", 2) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:00:00-04:00",
    ]


def test_an_every_hour_schedule_runs_each_real_hour_across_both_changes() -> None:
    spring = fires("30 * * * *", "Europe/Berlin", "2026-03-29T00:45", 3)
    autumn = fires("0 * * * *", "Europe/Berlin", "2026-10-25T01:30", 4)

    assert utc(spring) == ["03-29 00:30", "03-29 01:30", "03-29 02:30"]  # 01:30 CET, then 03:30 and 04:30 CEST
    assert autumn == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T04:00:00+01:00",
    ]
    assert utc(autumn) == ["10-25 00:00", "10-25 01:00", "10-25 02:00", "10-25 03:00"]


def test_weekday_numbers_follow_crontab_where_0_and_7_are_sunday() -> None:
    weekdays = fires("0 8 * * 1-5", "Europe/Berlin", "2026-11-20T12:00", 3)  # a Friday
    sundays = fires("0 9 * * 0,7", "UTC", "2026-11-20T12:00", 2)

    assert weekdays == ["2026-11-23T08:00:00+01:00", "2026-11-24T08:00:00+01:00", "2026-11-25T08:00:00+01:00"]
    assert [datetime.fromisoformat(t).strftime("%A") for t in sundays] == ["Sunday", "Sunday"]


def test_day_of_month_and_weekday_together_fire_on_either_as_in_crontab() -> None:
    assert fires("0 9 1 * 1", "UTC", "2026-11-20T12:00", 3) == [
        "2026-11-23T09:00:00+00:00",  # a Monday
        "2026-11-30T09:00:00+00:00",  # a Monday
        "2026-12-01T09:00:00+00:00",  # the 1st
    ]


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * * *", "needs 5 fields"),
        ("61 * * * *", "61"),
        ("0 0 * * 8", "day of week 8"),
        ("0 0 31 2 *", "never fires"),
        ("every day", "needs 5 fields"),
    ],
)
def test_a_bad_cron_expression_is_refused_naming_the_cron_field(expression: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_cron(expression)

    assert refused.value.field == "cron"
    assert reason in refused.value.message


def test_an_unknown_time_zone_is_refused_naming_the_timezone_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        make_trigger(cron="0 8 * * *", interval_seconds=None, timezone="Mars/Olympus", anchor=datetime.now(UTC))

    assert refused.value.field == "timezone"


def test_descriptions_read_like_a_sentence() -> None:
    assert describe(cron="0 8 * * 1-5", interval_seconds=None) == "At 08:00, Monday through Friday"
    assert describe(cron=None, interval_seconds=300) == "Every 5 minutes"
    assert describe(cron=None, interval_seconds=3600) == "Every hour"
    assert describe(cron=None, interval_seconds=1) == "Every second"
    assert describe(cron=None, interval_seconds=2.5) == "Every 2.5 seconds"
