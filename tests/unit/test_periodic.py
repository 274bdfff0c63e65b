"""The one background-loop helper: every few seconds, sooner when woken, a failing job logged and tried again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app import periodic


async def test_a_woken_loop_runs_its_job_at_once_instead_of_after_its_interval() -> None:
    wake = asyncio.Event()
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    loop = asyncio.create_task(periodic.every(3600, job, wake=wake))
    try:
        await asyncio.sleep(0.05)
        assert not ran.is_set()  # the first run waits for the interval (or a wake)
        wake.set()
        await asyncio.wait_for(ran.wait(), 1)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_a_failing_job_is_logged_and_run_again(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0
    again = asyncio.Event()

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        again.set()

    with caplog.at_level(logging.ERROR):
        loop = asyncio.create_task(periodic.every(0.01, job, first=True, what="sweeping things"))
        try:
            await asyncio.wait_for(again.wait(), 1)
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
    assert calls >= 2
    assert "sweeping things failed" in caplog.text
    assert "database went away" in caplog.text


async def test_a_loop_whose_owner_stops_lets_its_last_job_end_and_returns() -> None:
    stopping = False
    runs = 0

    async def job() -> None:
        nonlocal runs, stopping
        runs += 1
        stopping = True  # the owner stops while a job runs: the loop ends after it, not in the middle

    await asyncio.wait_for(periodic.every(0.01, job, first=True, running=lambda: not stopping), 1)
    assert runs == 1
