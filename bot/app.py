"""Assembles the running bot: database, migrations, triage, dispatcher, inbox, delivery, jobs."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import timedelta
from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.bot_api import BotApiError, BotApiUnreachable, Runtime
from bot.config import Settings
from bot.database import open_database
from bot.handlers.routes import build_dispatch
from bot.health import Liveness, serve_health
from bot.inbox import RECOVERY_GRACE, UpdateInbox
from bot.intake_offers import load_self_help, offer_providers
from bot.logs import register_secret
from bot.polling import Poller
from bot.runtime import make_runtime
from bot.startup import StartupError, settle_heap
from bot.webhook import check_settings, serve_webhook
from helpdesk import metrics, undelivered
from helpdesk.formatting import set_display_timezone
from helpdesk.policy import DeskPolicy
from helpdesk.triage import get_triage
from scheduler.delivery import DeliveryHooks, DeliveryLimits, OutboxDelivery
from scheduler.periodic import Jobs
from scheduler.schedule import register_sweeps
from storage.models import Customer, OutboxMessage
from storage.outbox_rows import bell

log = logging.getLogger("bot")

__all__ = ["Application", "StartupError", "delivery_limits", "settle_heap"]


def delivery_limits(settings: Settings) -> DeliveryLimits:
    return DeliveryLimits(
        per_second=settings.outbox_rate_per_second,
        private_interval=settings.outbox_private_interval.total_seconds(),
        group_per_minute=settings.outbox_group_per_minute,
        max_attempts=settings.outbox_max_attempts,
        poll_every=settings.outbox_poll_every.total_seconds(),
    )


def delivery_hooks(policy: DeskPolicy) -> DeliveryHooks:
    """What delivery's outcomes mean to the desk (events and card notes for the staff) and to the metrics."""

    async def failed(session: AsyncSession, row: OutboxMessage, error: str) -> None:
        await undelivered.delivery_failed(session, row, error, policy)

    async def blocked(session: AsyncSession, row: OutboxMessage, customer: Customer) -> None:
        await undelivered.customer_blocked(session, row, customer, policy)

    async def stranger(session: AsyncSession, row: OutboxMessage, _error: str) -> None:
        await undelivered.manager_unreachable(session, row, policy)

    return DeliveryHooks(
        failed=failed,
        uncertain=undelivered.delivery_uncertain,
        customer_blocked=blocked,
        stranger_unreachable=stranger,
        call_succeeded=metrics.record_outbox_sent,
        call_failed=metrics.outbox_error,
    )


async def check_bot(runtime: Runtime, api_url: str) -> str:
    """getMe with a clear one-line failure for a wrong token or an unreachable API."""
    try:
        return await runtime.start()
    except BotApiError as exc:
        if exc.code in (401, 404):  # 404: a token of the wrong shape for this server
            raise StartupError("the Bot API rejected TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token") from None
        raise StartupError(f"the Bot API refused getMe: {exc.description}", code=3) from None
    except (BotApiUnreachable, TimeoutError, OSError) as exc:
        raise StartupError(f"cannot reach the Bot API at {api_url}: {exc or type(exc).__name__}", code=3) from None


class Application:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.token = settings.token()
            self.policy: DeskPolicy = settings.policy()
            if settings.webhook_url:
                check_settings(settings, self.token)
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        load_self_help(self.policy)
        register_secret(self.token)
        if settings.webhook_secret:
            register_secret(settings.webhook_secret.get_secret_value())
        set_display_timezone(settings.timezone)
        self.stop = asyncio.Event()
        self.started_at = time.monotonic()

    async def run(self) -> None:
        settings = self.settings
        db = await open_database(settings)
        runtime = make_runtime(settings.bot_runtime, self.token, settings.telegram_api_url)
        try:
            username = await check_bot(runtime, settings.telegram_api_url)
            triage = get_triage(settings.triage_cache_dir)
            offer_providers(self.policy, triage)  # the articles indexed now, not for the first customer
            bell.reset()
            inbox = UpdateInbox(
                db,
                runtime.deliver_to(build_dispatch(username)),
                runtime,
                self.policy,
                triage,
                attempts=settings.handler_attempts,
                concurrency=settings.update_workers,
            )
            delivery = OutboxDelivery(
                db, runtime.transport(), delivery_limits(settings), hooks=delivery_hooks(self.policy)
            )
            jobs = Jobs()
            jobs.every("inbox-recovery", timedelta(seconds=10), partial(inbox.recover, older_than=RECOVERY_GRACE))
            register_sweeps(jobs, db, self.policy, settings)
            self._install_signals()
            settle_heap()
            recovered = await inbox.recover()
            tasks = [asyncio.create_task(delivery.run(self.stop), name="delivery")]
            if settings.webhook_url:
                tasks.append(asyncio.create_task(serve_webhook(runtime, inbox, settings, self.stop), name="webhook"))
            else:
                await runtime.request("deleteWebhook", {"drop_pending_updates": False}, timeout=30)
                poller = Poller(runtime, inbox, timeout=settings.poll_timeout)
                tasks.append(asyncio.create_task(poller.run(self.stop), name="polling"))
                if settings.health_port:
                    liveness = Liveness.polling(poller, settings.poll_timeout)
                    tasks.append(asyncio.create_task(serve_health(db, settings, self.stop, liveness), name="health"))
            jobs.start()
            log.info(
                "bot @%s started (%s, %s, %s); recovered %d chats with unfinished updates",
                username,
                runtime.name,
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
            await runtime.close()
            await db.dispose()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
                pass
