"""Long polling that confirms an update to Telegram only after it is stored in our inbox.

Telegram drops the updates of a batch when the next getUpdates carries an offset above them. So the
next offset is only ever sent after `UpdateInbox.store` has committed the batch: a crash before that
makes Telegram deliver the batch again (the inbox ignores the ones it already has).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramUnauthorizedError

from bot.inbox import UpdateInbox

log = logging.getLogger("bot.polling")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class Poller:
    def __init__(self, bot: Bot, inbox: UpdateInbox, *, timeout: int = 25, limit: int = 100) -> None:
        self.bot = bot
        self.inbox = inbox
        self.timeout = timeout
        self.limit = limit
        self.last_poll_at: float | None = None
        self.offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=self.offset,
                    limit=self.limit,
                    timeout=self.timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=self.timeout + 15,
                )
                failures = 0
            except asyncio.CancelledError:
                raise
            except TelegramUnauthorizedError:
                log.error("the Bot API rejected the token (401); stopping")
                stop.set()
                return
            except TelegramConflictError:
                log.warning("another process is polling this bot (409); retrying in 5 s")
                await _sleep(stop, 5)
                continue
            except Exception as exc:  # network, 5xx, a malformed answer: polling must never die
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                log.warning("getUpdates failed (%s); retrying in %.1f s", type(exc).__name__, delay)
                await _sleep(stop, delay)
                continue
            self.last_poll_at = time.monotonic()
            if not updates:
                continue
            payloads = [u.model_dump(mode="json", exclude_none=True, by_alias=True) for u in updates]
            try:
                # Stored before the next getUpdates confirms them with the new offset.
                await self.inbox.store(payloads)
            except Exception:
                log.exception("storing %d updates failed; they stay unconfirmed and come again", len(payloads))
                await _sleep(stop, 1)
                continue
            self.offset = max(u.update_id for u in updates) + 1


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
