"""The periodic jobs (scheduler.periodic): every sweep runs at start, a failing or stuck one is contained."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from scheduler.periodic import Jobs


async def test_jobs_run_at_start_and_added_later() -> None:
    jobs = Jobs()
    ran = {"first": asyncio.Event(), "later": asyncio.Event()}

    async def first() -> None:
        ran["first"].set()

    async def later() -> None:
        ran["later"].set()

    jobs.every("first", timedelta(hours=1), first)
    jobs.start()
    try:
        jobs.every("later", timedelta(hours=1), later)
        await asyncio.wait_for(asyncio.gather(ran["first"].wait(), ran["later"].wait()), 30)
        assert all(job.misfire_grace_time is None and job.coalesce for job in jobs.scheduler.get_jobs())
    finally:
        jobs.shutdown()


async def test_stopping_lets_a_running_sweep_finish_and_interrupts_a_stuck_one_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs = Jobs()
    finished: list[str] = []
    started = {"slow": asyncio.Event(), "stuck": asyncio.Event()}
    release = asyncio.Event()
    interrupted = asyncio.Event()

    async def slow() -> None:
        started["slow"].set()
        await release.wait()
        finished.append("slow")

    async def stuck() -> None:
        started["stuck"].set()
        try:
            await asyncio.sleep(3600)
        finally:
            interrupted.set()

    jobs.every("slow", timedelta(hours=1), slow)
    jobs.start()
    await asyncio.wait_for(started["slow"].wait(), 30)
    stopping = asyncio.create_task(jobs.stop(timeout=30))
    await asyncio.sleep(0)  # stop() has paused the scheduler and waits for the running sweep
    assert not stopping.done()
    release.set()
    assert await stopping is True
    assert finished == ["slow"]

    jobs = Jobs()
    jobs.every("stuck", timedelta(hours=1), stuck)
    jobs.start()
    await asyncio.wait_for(started["stuck"].wait(), 30)
    caplog.set_level("INFO")
    assert await jobs.stop(timeout=0.2) is False
    await asyncio.wait_for(interrupted.wait(), 30)  # the cancellation reaches the job; its task logs at once
    assert "interrupted by shutdown" in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")]
