"""Schedules: workflows that run by themselves, on a cron expression or an interval, in a time zone.

`Schedules` (in `service`) is the use-case API the pages and the REST API call as
`flowyard.schedules`; `cron` turns expressions into triggers, previews and descriptions;
`runner` is the APScheduler glue.
"""

from app.scheduling.service import FireInfo, ScheduleInfo, SchedulePreview, Schedules, ScheduleSpec

__all__ = ["FireInfo", "ScheduleInfo", "SchedulePreview", "ScheduleSpec", "Schedules"]
