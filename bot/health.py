"""Health and metrics over HTTP: `/healthz` (JSON, 200 or 503) and `/metrics` (Prometheus).

In webhook mode both routes live on the webhook server (bot/webhook.py); in polling mode they get a
small server of their own on HEALTH_HOST:HEALTH_PORT when HEALTH_PORT is set.

`/healthz` answers 503 when the database cannot be reached, or (polling mode) when the poll loop has
not completed a getUpdates for far longer than a long poll takes. Backlogs are reported, never a
reason for 503: a load balancer must not take processes away exactly when there is much to do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import func, text
from sqlmodel import col, select

from bot.startup import StartupError
from helpdesk import metrics
from helpdesk.clock import now_utc
from storage.db import Database
from storage.models import InboxUpdate, OutboxMessage

log = logging.getLogger("bot.health")

DB_TIMEOUT = 3.0


@dataclass
class Liveness:
    """Where updates come from and when that last worked (monotonic seconds)."""

    mode: str  # "polling" | "webhook"
    last_seen: Callable[[], float | None]
    stale_after: float | None = None  # seconds without activity that make the process unhealthy
    started_at: float = 0.0

    @classmethod
    def polling(cls, poller: Any, poll_timeout: int) -> Liveness:
        # a long poll lasts up to poll_timeout; failures back off for up to 30 s, then retry
        return cls("polling", lambda: poller.last_poll_at, stale_after=poll_timeout + 90.0, started_at=time.monotonic())

    @classmethod
    def webhook(cls, last_seen: Callable[[], float | None]) -> Liveness:
        # no traffic is normal for a webhook (Telegram only calls when there is an update)
        return cls("webhook", last_seen, stale_after=None, started_at=time.monotonic())

    def age(self) -> float | None:
        seen = self.last_seen()
        return None if seen is None else max(0.0, time.monotonic() - seen)

    def stale(self) -> bool:
        if self.stale_after is None:
            return False
        seen = self.last_seen()
        reference = seen if seen is not None else self.started_at
        return time.monotonic() - reference > self.stale_after


async def backlog(db: Database) -> dict[str, Any]:
    """Counts that describe the shared database (every process sees the same numbers)."""
    now = now_utc()
    async with db.read() as session:
        outbox_pending = (
            await session.exec(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
        ).one()
        due_count, oldest_due = (
            await session.exec(
                select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.status == "pending", col(OutboxMessage.next_attempt_at) <= now
                )
            )
        ).one()
        inbox_pending, oldest_pending = (
            await session.exec(
                select(func.count(), func.min(InboxUpdate.received_at)).where(InboxUpdate.status == "pending")
            )
        ).one()
        parked = (
            await session.exec(select(func.count()).select_from(InboxUpdate).where(InboxUpdate.status == "parked"))
        ).one()
    return {
        "outbox_backlog": int(outbox_pending),
        "outbox_due": int(due_count),
        "outbox_oldest_due_seconds": _age(oldest_due, now),
        "inbox_backlog": int(inbox_pending),
        "inbox_oldest_pending_seconds": _age(oldest_pending, now),
        "inbox_parked": int(parked),
    }


def _age(value: Any, now: datetime) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str):  # defensive: a driver that hands back text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(max(0.0, (now - value).total_seconds()), 3)


def refresh_gauges(counts: dict[str, Any]) -> None:
    metrics.outbox_backlog.set(counts["outbox_backlog"])
    metrics.outbox_due.set(counts["outbox_due"])
    metrics.outbox_oldest_due_seconds.set(counts["outbox_oldest_due_seconds"])
    metrics.inbox_backlog.set(counts["inbox_backlog"])
    metrics.inbox_oldest_pending_seconds.set(counts["inbox_oldest_pending_seconds"])
    metrics.inbox_parked.set(counts["inbox_parked"])


async def health_report(db: Database, liveness: Liveness) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of `/healthz`."""
    report: dict[str, Any] = {
        "status": "ok",
        "mode": liveness.mode,
        "database_reachable": False,
        "database": "sqlite" if db.is_sqlite else "postgresql",
        f"last_{'poll' if liveness.mode == 'polling' else 'webhook'}_age_seconds": _round(liveness.age()),
        "uptime_seconds": round(time.monotonic() - liveness.started_at, 1),
        "pid": os.getpid(),
    }
    problems: list[str] = []
    started = time.perf_counter()
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            async with db.read() as session:
                await session.execute(text("SELECT 1"))
            report["database_latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            report["database_reachable"] = True
            counts = await backlog(db)
        report.update(counts)
        refresh_gauges(counts)
    except Exception as exc:  # unreachable, timed out, or a query failed: all mean "not healthy"
        problems.append(f"database: {type(exc).__name__}")
        report.setdefault("outbox_backlog", None)
        report.setdefault("inbox_backlog", None)
    if liveness.stale():
        problems.append(f"no successful {liveness.mode} for more than {liveness.stale_after:.0f} s")
    if problems:
        report["status"] = "fail"
        report["problems"] = problems
    return (503 if problems else 200), report


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def add_health_routes(app: web.Application, db: Database, liveness: Liveness) -> None:
    async def healthz(_request: web.Request) -> web.Response:
        status, body = await health_report(db, liveness)
        return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})

    async def metrics_view(_request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(DB_TIMEOUT):
                refresh_gauges(await backlog(db))
        except Exception as exc:  # the counters are still worth serving
            log.warning("metrics: backlog query failed: %s", type(exc).__name__)
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)


async def run_site(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event,
    what: str,
    *,
    when_listening: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve `app` until `stop` is set; a port that cannot be bound stops the bot with a clear error.

    `when_listening` runs in the background once the port is bound (and is cancelled at the end).
    """
    background: asyncio.Task[None] | None = None
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        stop.set()  # nothing awaited after this: the error must reach the app before it cancels us
        # exit code 3, not 2: a port still held by a stopping process frees up, so a restart may succeed
        raise StartupError(f"cannot listen on {host}:{port} for the {what}: {exc.strerror or exc}", code=3) from None
    log.info("%s listening on http://%s:%s", what, host, port)
    try:
        if when_listening is not None:
            background = asyncio.create_task(when_listening())
        await stop.wait()
    finally:
        if background is not None and not background.done():
            background.cancel()
        await runner.cleanup()


async def serve_health(db: Database, settings: Any, stop: asyncio.Event, liveness: Liveness) -> None:
    """Polling mode: `/healthz` and `/metrics` on HEALTH_HOST:HEALTH_PORT."""
    app = web.Application()
    add_health_routes(app, db, liveness)
    await run_site(app, settings.health_host, int(settings.health_port), stop, "health endpoint")
