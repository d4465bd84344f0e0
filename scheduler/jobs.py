"""APScheduler in the bot's process: periodic sweeps over due times stored on our own rows.

Jobs are plain interval triggers with `coalesce` and a generous misfire grace, so an overdue sweep
runs once instead of being dropped; what is due is decided by the rows, never by the scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("bot.scheduler")

Sweep = Callable[[], Awaitable[object]]


class Jobs:
    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        )

    def every(self, name: str, interval: timedelta, sweep: Sweep) -> None:
        async def run() -> None:
            try:
                await sweep()
            except Exception:
                log.exception("job %s failed; it runs again at its next interval", name)

        self.scheduler.add_job(
            run,
            "interval",
            seconds=max(0.2, interval.total_seconds()),
            id=name,
            name=name,
            replace_existing=True,
            next_run_time=None,
        )

    def start(self) -> None:
        # first runs happen right away, so a job that was due while the bot was down runs once at start
        from datetime import datetime

        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            job.modify(next_run_time=datetime.now(job.trigger.timezone))

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
