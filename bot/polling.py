"""Long polling that confirms an update to Telegram only after it is stored in our inbox.

Telegram drops the updates of a batch when the next getUpdates carries an offset above them. So the
next offset is only ever sent after `UpdateInbox.store` has committed the batch: a crash before that
makes Telegram deliver the batch again (the inbox ignores the ones it already has).

getUpdates is read as raw JSON through the runtime's own HTTP client (aiogram's session, or
python-telegram-bot's), not into the framework's models: one update a framework cannot parse (a field
newer than the library, an odd payload) must not make the whole batch undecodable, because then the
offset could never move past it and every later update would be stuck behind it. Each update is stored
as Telegram sent it; the inbox parses it when it handles it, and a bad one is parked alone. This is also
why neither framework's own polling (aiogram's `start_polling`, ptb's `Updater`) is used: both confirm an
update before it is handled, let alone stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from bot.bot_api import BotApiError, Runtime
from bot.handlers.update import fits_id
from bot.inbox import UpdateInbox

log = logging.getLogger("bot.polling")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class Poller:
    def __init__(self, runtime: Runtime, inbox: UpdateInbox, *, timeout: int = 25, limit: int = 100) -> None:
        self.runtime = runtime
        self.inbox = inbox
        self.timeout = timeout
        self.limit = limit
        self.last_poll_at: float | None = None
        self.offset: int | None = None

    async def get_updates(self) -> list[dict[str, Any]]:
        """One getUpdates call; the updates as Telegram sent them (dicts with an integer update_id)."""
        params: dict[str, Any] = {"timeout": self.timeout, "limit": self.limit, "allowed_updates": ALLOWED_UPDATES}
        if self.offset is not None:
            params["offset"] = self.offset
        result = await self.runtime.request("getUpdates", params, timeout=self.timeout + 15)
        if not isinstance(result, list):
            raise BotApiError(0, "the result is not a list")
        updates = []
        for item in result:
            if isinstance(item, dict) and fits_id(item.get("update_id")):
                updates.append(item)
            else:  # nothing can be done with it, and it must not block the ones after it
                log.warning("getUpdates returned an entry without a usable update_id; skipped: %.200r", item)
        return updates

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                updates = await self.get_updates()
                failures = 0
            except asyncio.CancelledError:
                raise
            except BotApiError as exc:
                if exc.code == 401:
                    log.error("the Bot API rejected the token (401); stopping")
                    stop.set()
                    return
                if exc.code == 409:
                    log.warning("getUpdates conflict (409: %s); retrying in 5 s", exc.description)
                    await _sleep(stop, 5)
                    continue
                failures += 1
                delay = _backoff(failures)
                log.warning("getUpdates failed (%s); retrying in %.1f s", exc, delay)
                await _sleep(stop, delay)
                continue
            except Exception as exc:  # network, timeouts, anything else: polling must never die
                failures += 1
                delay = _backoff(failures)
                log.warning("getUpdates failed (%s); retrying in %.1f s", type(exc).__name__, delay)
                await _sleep(stop, delay)
                continue
            self.last_poll_at = time.monotonic()
            if not updates:
                continue
            try:
                # Stored before the next getUpdates confirms them with the new offset.
                await self.inbox.store(updates)
            except Exception:
                log.exception("storing %d updates failed; they stay unconfirmed and come again", len(updates))
                await _sleep(stop, 1)
                continue
            self.offset = max(u["update_id"] for u in updates) + 1


def _backoff(failures: int) -> float:
    return min(30.0, 0.5 * 2 ** min(failures, 6))


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
