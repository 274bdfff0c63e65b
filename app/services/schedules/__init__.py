"""Schedules: workflows that run by themselves, on a cron expression or an interval, in a time zone.

`ScheduleService` (in `schedules`) is what the pages and the REST API call; `firing` fires due times
(at most once each) and counts their runs; `cron` turns expressions into triggers, previews and
descriptions; `runner` is the APScheduler glue.
"""
