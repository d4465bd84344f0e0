"""APScheduler in the bot's process: periodic sweeps over due times stored on our own rows.

Jobs are plain interval triggers with `coalesce`, one instance at a time and no misfire limit, so an
overdue sweep runs once instead of being dropped (APScheduler's default grace of one second would drop
it); what is due is decided by the rows, never by the scheduler, so nothing is pickled or lost when
the process stops. Every job runs right at start: work that fell due while the bot was down is done
then, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("bot.scheduler")

Sweep = Callable[[], Awaitable[object]]


class Jobs:
    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(
            # two instances may overlap in APScheduler's eyes; `every` skips a tick quietly instead of
            # APScheduler warning "maximum number of running instances reached" at every slow sweep
            job_defaults={"coalesce": True, "max_instances": 2, "misfire_grace_time": None}
        )
        self.runs: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self._running: dict[str, asyncio.Lock] = {}

    def every(self, name: str, interval: timedelta, sweep: Sweep) -> None:
        """Run `sweep` every `interval` (first at start); a failing run is logged and retried next time."""

        running = self._running.setdefault(name, asyncio.Lock())

        async def run() -> None:
            if running.locked():  # the previous run is still busy: this tick is simply skipped
                log.debug("job %s still running; skipping this tick", name)
                return
            async with running:
                self.runs[name] = self.runs.get(name, 0) + 1
                try:
                    await sweep()
                except asyncio.CancelledError:
                    # stopped mid-sweep (shutdown ran out of patience): its transaction rolled back and the
                    # rows say what is still due, so the next start does it; not an error worth a traceback
                    log.info("job %s interrupted by shutdown; it runs again at the next start", name)
                except Exception:
                    self.failures[name] = self.failures.get(name, 0) + 1
                    log.exception("job %s failed; it runs again at its next interval", name)

        self.scheduler.add_job(
            run,
            "interval",
            seconds=max(0.2, interval.total_seconds()),
            id=name,
            name=name,
            replace_existing=True,
            # paused until start() (which runs every job at once); a job added later starts right away
            next_run_time=self._now() if self.scheduler.running else None,
        )

    def _now(self) -> datetime:
        return datetime.now(self.scheduler.timezone)

    def start(self) -> None:
        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            job.modify(next_run_time=self._now())

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def stop(self, timeout: float = 10.0) -> bool:
        """Start no new runs, let the running ones finish (up to `timeout`), then shut down; False when a
        run had to be interrupted."""
        if self.scheduler.running:
            self.scheduler.pause()

        async def runs_finished() -> None:
            for lock in self._running.values():
                async with lock:  # free once that job's current run (if any) is over
                    pass

        finished = True
        try:
            await asyncio.wait_for(runs_finished(), timeout)
        except TimeoutError:
            finished = False
        self.shutdown()
        return finished
