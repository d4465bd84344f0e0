"""Assembles the running bot: database, migrations, triage, dispatcher, inbox, delivery, jobs."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError

from bot.config import Settings
from bot.dispatcher import build_dispatcher
from bot.inbox import UpdateInbox
from bot.logs import register_secret
from bot.polling import Poller
from bot.telegram import BotApiTransport, make_bot
from helpdesk.formatting import set_display_timezone
from helpdesk.outbox import bell
from helpdesk.policy import DeskPolicy
from scheduler.delivery import DeliveryLimits, OutboxDelivery
from scheduler.jobs import Jobs
from scheduler.sweeps import register_sweeps
from storage import migrate
from storage.db import Database

log = logging.getLogger("bot")


class StartupError(Exception):
    """A problem the operator must fix; printed as one line, exit code `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def delivery_limits(settings: Settings) -> DeliveryLimits:
    return DeliveryLimits(
        per_second=settings.outbox_rate_per_second,
        private_interval=settings.outbox_private_interval.total_seconds(),
        group_per_minute=settings.outbox_group_per_minute,
        max_attempts=settings.outbox_max_attempts,
        poll_every=settings.outbox_poll_every.total_seconds(),
    )


async def check_bot(bot: Bot, api_url: str) -> str:
    """getMe with a clear one-line failure for a wrong token or an unreachable API."""
    try:
        me = await bot.get_me(request_timeout=15)
    except TelegramUnauthorizedError:
        raise StartupError("the Bot API rejected TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token") from None
    except (TelegramNetworkError, TelegramServerError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "message", None) or type(exc).__name__
        raise StartupError(f"cannot reach the Bot API at {api_url}: {reason}", code=3) from None
    return me.username or str(me.id)


def settle_heap() -> None:
    """Keep the garbage collector off what start-up built, and let it run less often.

    By now aiogram, pydantic, SQLAlchemy and the triage model have made a few million long-lived objects;
    every full collection would walk them all again, and the default young-generation threshold (700
    allocations) starts a collection every few updates. Frozen, they are never scanned; a threshold of
    10,000 keeps the young generation small (it holds what a batch of updates allocates). Measured: about a
    fifth less CPU per update, the same peak memory (benchmarks/throughput.py: 1.43 against 1.73 ms per
    update, 181 MB both). Frozen objects are ones that live as long as the
    process anyway, and reference counting still frees everything else at once: the collector only
    finds cycles, a little later than before.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


class Application:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.token = settings.token()
            self.policy: DeskPolicy = settings.policy()
            if settings.webhook_url:
                from bot.webhook import check_settings

                check_settings(settings, self.token)
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        register_secret(self.token)
        if settings.webhook_secret:
            register_secret(settings.webhook_secret.get_secret_value())
        set_display_timezone(settings.timezone)
        self.stop = asyncio.Event()
        self.started_at = time.monotonic()

    async def run(self) -> None:
        settings = self.settings
        db = Database(settings.database_url)
        try:
            await migrate.upgrade(db)
        except Exception as exc:
            await db.dispose()
            raise StartupError(
                f"cannot prepare the database ({db.url.split('@')[-1]}): {type(exc).__name__}: {exc}"
            ) from None
        bot = make_bot(self.token, settings.telegram_api_url)
        try:
            username = await check_bot(bot, settings.telegram_api_url)
            from helpdesk.triage import get_triage

            triage = get_triage()
            bell.reset()
            dispatcher = build_dispatcher()
            inbox = UpdateInbox(
                db,
                dispatcher,
                bot,
                self.policy,
                triage,
                attempts=settings.handler_attempts,
                concurrency=settings.update_workers,
            )
            delivery = OutboxDelivery(db, BotApiTransport(bot), self.policy, delivery_limits(settings))
            jobs = Jobs()
            jobs.every("inbox-recovery", timedelta(seconds=10), inbox.recover)
            register_sweeps(jobs, db, self.policy, settings)
            self._install_signals()
            settle_heap()
            recovered = await inbox.recover()
            tasks = [asyncio.create_task(delivery.run(self.stop), name="delivery")]
            if settings.webhook_url:
                from bot.webhook import serve_webhook

                tasks.append(asyncio.create_task(serve_webhook(bot, inbox, settings, self.stop), name="webhook"))
            else:
                await bot.delete_webhook(drop_pending_updates=False)
                poller = Poller(bot, inbox, timeout=settings.poll_timeout)
                tasks.append(asyncio.create_task(poller.run(self.stop), name="polling"))
                if settings.health_port:
                    from bot.health import Liveness, serve_health

                    liveness = Liveness.polling(poller, settings.poll_timeout)
                    tasks.append(asyncio.create_task(serve_health(db, settings, self.stop, liveness), name="health"))
            jobs.start()
            log.info(
                "bot @%s started (%s, %s); recovered %d chats with unfinished updates",
                username,
                "webhook" if settings.webhook_url else "long polling",
                "SQLite" if db.is_sqlite else "PostgreSQL",
                recovered,
            )
            await self.stop.wait()
            log.info("stopping")
            await asyncio.gather(jobs.stop(timeout=10), inbox.idle(timeout=10))
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            failed = next((r for r in results if isinstance(r, StartupError)), None)  # e.g. a port in use
            if failed is not None:
                raise failed
        finally:
            await bot.session.close()
            await db.dispose()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
                pass
