"""When a schedule fires: cron and interval triggers, their checks, previews and readable descriptions.

Cron expressions follow the crontab convention users know, which APScheduler 3's own
`CronTrigger.from_crontab` does not in three places, each fixed here:

- Day of week: 0 (and 7) is Sunday and 1 is Monday; APScheduler counts 0 as Monday. Numbers
  are translated to day names before APScheduler sees them.
- Day of month *and* day of week restricted (``0 9 1 * 1``): crontab fires when either matches;
  APScheduler requires both. Such an expression becomes two triggers, whichever fires first.
- Daylight-saving changes: a local time that does not exist (02:30 on the spring-forward night)
  fires once, at the moment the clock jumps (03:00); a local time that happens twice (01:30 on
  the fall-back night) fires once, the first time. An expression whose hour field is ``*`` runs
  every real hour instead: in the repeated hour it fires in both passes, and the skipped hour
  has nothing to fire.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from cron_descriptor import Options, get_description

from app.engine.exceptions import InvalidInput

__all__ = [
    "MAX_INTERVAL_SECONDS",
    "MIN_INTERVAL_SECONDS",
    "LocalCronTrigger",
    "check_cron",
    "check_interval",
    "check_timezone",
    "describe",
    "make_trigger",
    "next_fire_times",
]

MIN_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 366 * 86_400.0
_SHIFT = timedelta(hours=3)
"""Longer than any daylight-saving shift: beyond it, local and real time order fire times alike."""

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DAY_ITEM = re.compile(r"^(\*|[a-z]{3}|\d+)(?:-([a-z]{3}|\d+))?(?:/(\d+))?$")


def check_timezone(name: str) -> ZoneInfo:
    """The IANA zone called `name`; `InvalidInput('timezone')` when there is none."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise InvalidInput("timezone", f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            "timezone", f"unknown time zone {name!r}; use an IANA name such as 'Europe/Berlin'"
        ) from None


def check_interval(seconds: float) -> float:
    if not math.isfinite(seconds) or seconds < MIN_INTERVAL_SECONDS:
        raise InvalidInput("intervalSeconds", f"must be at least {MIN_INTERVAL_SECONDS:g} second")
    if seconds > MAX_INTERVAL_SECONDS:
        raise InvalidInput("intervalSeconds", f"must be at most {MAX_INTERVAL_SECONDS:g} seconds (366 days)")
    return seconds


def _day_number(token: str) -> int:
    if token.isdigit():
        number = int(token)
        if number > 7:
            raise ValueError(f"day of week {number} is out of range (0-7, 0 and 7 are Sunday)")
        return number % 7 if number == 7 else number
    if token not in _DAY_NAMES:
        raise ValueError(f"unknown day of week {token!r}")
    return _DAY_NAMES.index(token)


def _days_of_week(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) as APScheduler day names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _DAY_ITEM.match(item)
        if match is None:
            raise ValueError(f"day of week {item!r} is not understood")
        first, last, step = match.groups()
        if first == "*":
            start, end = 0, 6
        else:
            start = _day_number(first)
            end = (7 if last == "7" else _day_number(last)) if last else (6 if step else start)
        if end < start:
            raise ValueError(f"day-of-week range {item!r} runs backwards")
        stride = int(step) if step else 1
        if stride < 1:
            raise ValueError("a step must be at least 1")
        days.update(day % 7 for day in range(start, end + 1, stride))
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


class LocalCronTrigger(CronTrigger):  # type: ignore[misc]
    """A cron trigger that fires once per local time across daylight-saving changes (see the module doc)."""

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # Compared in UTC: an aware time in a repeated hour never equals one in another zone (PEP 495).
        start = now.astimezone(UTC)
        if previous_fire_time is not None:
            previous = previous_fire_time.astimezone(UTC)
            start = min(start, previous + timedelta(microseconds=1))
            if start == previous:
                start += timedelta(microseconds=1)
        return self._first_at_or_after(start)

    def _wall_trigger(self) -> CronTrigger:
        # The same fields on UTC, which has no daylight saving: it walks local wall-clock time.
        wall = CronTrigger.__new__(CronTrigger)
        wall.__setstate__({**CronTrigger.__getstate__(self), "timezone": UTC, "start_date": None})
        return wall

    def _every_hour(self) -> bool:
        hour = next(f for f in self.fields if f.name == "hour")
        return str(hour) == "*"

    def _first_at_or_after(self, start: datetime) -> datetime | None:
        zone: tzinfo = self.timezone
        wall_trigger = self._wall_trigger()
        every_hour = self._every_hour()

        def near_change(moment: datetime) -> bool:
            return (moment - _SHIFT).astimezone(zone).utcoffset() != (moment + _SHIFT).astimezone(zone).utcoffset()

        search_from = _wall(start, zone)
        if every_hour and near_change(start):
            search_from -= _SHIFT
        best: datetime | None = None
        best_wall: datetime | None = None
        wall = _next_wall(wall_trigger, search_from)
        while wall is not None:
            for moment in _moments(wall, zone, every_hour=every_hour):
                if moment >= start and (best is None or moment < best):
                    best, best_wall = moment, wall
            if best is not None and best_wall is not None:
                # Without `every_hour` local order is real order; near a change both passes must be seen.
                if not every_hour or not near_change(best) or wall >= best_wall + _SHIFT:
                    break
            wall = _next_wall(wall_trigger, wall + timedelta(seconds=1))
        if best is None or (self.end_date is not None and best > self.end_date):
            return None
        return best.astimezone(zone)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    """`moment`'s local wall-clock time, naive."""
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def _next_wall(wall_trigger: CronTrigger, wall: datetime) -> datetime | None:
    found = wall_trigger.get_next_fire_time(None, wall.replace(tzinfo=UTC))
    return None if found is None else found.replace(tzinfo=None)


def _moments(wall: datetime, zone: tzinfo, *, every_hour: bool) -> list[datetime]:
    """The real moments (UTC) a local wall-clock time stands for."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if _wall(first, zone) == wall:  # it happens twice: the clock went back
        return [first, second] if every_hour else [first]
    # It never happens: the clock jumped over it. Fire at the jump (crontab's rule), if not every hour.
    return [] if every_hour else [_jump(second, first, zone)]


def _jump(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The moment between `before` and `after` when `zone`'s offset changes (to the second)."""
    offset = after.astimezone(zone).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


def check_cron(expression: str, zone: tzinfo = UTC) -> BaseTrigger:
    """The trigger of a 5-field crontab expression; `InvalidInput('cron')` naming what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidInput("cron", f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
    minute, hour, day, month, day_of_week = fields
    try:
        days_of_week = _days_of_week(day_of_week)
        triggers: list[BaseTrigger]
        if day != "*" and day_of_week != "*":  # crontab: either day matches
            triggers = [
                LocalCronTrigger(minute=minute, hour=hour, day=day, month=month, timezone=zone),
                LocalCronTrigger(minute=minute, hour=hour, month=month, day_of_week=days_of_week, timezone=zone),
            ]
        else:
            triggers = [
                LocalCronTrigger(
                    minute=minute, hour=hour, day=day, month=month, day_of_week=days_of_week, timezone=zone
                )
            ]
    except ValueError as exc:
        raise InvalidInput("cron", f"{expression!r} is not a valid cron expression: {exc}") from None
    trigger: BaseTrigger = triggers[0] if len(triggers) == 1 else OrTrigger(triggers)
    probe = datetime(2000, 1, 1, tzinfo=UTC)
    if trigger.get_next_fire_time(None, probe) is None and trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise InvalidInput("cron", f"{expression!r} never fires")
    return trigger


def make_trigger(*, cron: str | None, interval_seconds: float | None, timezone: str, anchor: datetime) -> BaseTrigger:
    """The APScheduler trigger of a schedule; an interval counts from `anchor`, its first fire one interval later."""
    zone = check_timezone(timezone)
    if cron is not None and interval_seconds is not None:
        raise InvalidInput("cron", "give either a cron expression or an interval, not both")
    if cron is not None:
        return check_cron(cron.strip(), zone)
    if interval_seconds is None:
        raise InvalidInput("cron", "give a cron expression or an interval")
    seconds = check_interval(interval_seconds)
    return IntervalTrigger(seconds=seconds, start_date=anchor + timedelta(seconds=seconds), timezone=zone)


def next_fire_times(trigger: BaseTrigger, now: datetime, count: int = 5, *, inclusive: bool = False) -> list[datetime]:
    """The next `count` fire times after `now` (or at it, if `inclusive`), timezone-aware in the trigger's zone."""
    times: list[datetime] = []
    previous: datetime | None = None
    moment = now if inclusive else now + timedelta(microseconds=1)
    while len(times) < count:
        upcoming: Any = trigger.get_next_fire_time(previous, moment)
        if upcoming is None:
            break
        times.append(upcoming)
        previous, moment = upcoming, upcoming
    return times


@functools.lru_cache(maxsize=1024)  # cron-descriptor loads its translations on every call
def describe(*, cron: str | None, interval_seconds: float | None) -> str:
    """A sentence saying when it fires: "At 08:00, Monday through Friday", "Every 5 minutes"."""
    if cron is not None:
        options = Options()
        options.use_24hour_time_format = True
        options.verbose = False
        try:
            text: str = get_description(cron.strip(), options)
        except Exception:  # a description is a courtesy: an expression it cannot read is shown as it is
            return f"Cron {cron.strip()}"
        return text
    if interval_seconds is None:
        return ""
    return _every(interval_seconds)


def _every(seconds: float) -> str:
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    if seconds == 1:
        return "Every second"
    return f"Every {seconds:g} seconds"
