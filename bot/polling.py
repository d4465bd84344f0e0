"""Long polling that confirms an update to Telegram only after it is stored in our inbox.

Telegram drops the updates of a batch when the next getUpdates carries an offset above them. So the
next offset is only ever sent after `UpdateInbox.store` has committed the batch: a crash before that
makes Telegram deliver the batch again (the inbox ignores the ones it already has).

getUpdates is read as raw JSON, not through aiogram's models: one update that aiogram cannot parse
(a field newer than the library, an odd payload) must not make the whole batch undecodable, because
then the offset could never move past it and every later update would be stuck behind it. Each update
is stored as Telegram sent it; the inbox parses it when it handles it, and a bad one is parked alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
from aiogram import Bot

from bot.inbox import UpdateInbox

log = logging.getLogger("bot.polling")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class PollingError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description


class Poller:
    def __init__(self, bot: Bot, inbox: UpdateInbox, *, timeout: int = 25, limit: int = 100) -> None:
        self.bot = bot
        self.inbox = inbox
        self.timeout = timeout
        self.limit = limit
        self.last_poll_at: float | None = None
        self.offset: int | None = None

    async def get_updates(self) -> list[dict[str, Any]]:
        """One getUpdates call; the updates as Telegram sent them (dicts with an integer update_id)."""
        session = await self.bot.session.create_session()
        url = self.bot.session.api.api_url(token=self.bot.token, method="getUpdates")
        params: dict[str, Any] = {"timeout": self.timeout, "limit": self.limit, "allowed_updates": ALLOWED_UPDATES}
        if self.offset is not None:
            params["offset"] = self.offset
        async with session.post(url, json=params, timeout=aiohttp.ClientTimeout(total=self.timeout + 15)) as resp:
            try:
                body = await resp.json(content_type=None)
            except ValueError:
                raise PollingError(resp.status, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise PollingError(resp.status, "the answer is not a JSON object")
        if not body.get("ok"):
            raise PollingError(int(body.get("error_code") or resp.status), str(body.get("description") or "?"))
        result = body.get("result")
        if not isinstance(result, list):
            raise PollingError(resp.status, "the result is not a list")
        updates = []
        for item in result:
            if isinstance(item, dict) and isinstance(item.get("update_id"), int):
                updates.append(item)
            else:  # nothing can be done with it, and it must not block the ones after it
                log.warning("getUpdates returned an entry without an update_id; skipped: %.200r", item)
        return updates

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                updates = await self.get_updates()
                failures = 0
            except asyncio.CancelledError:
                raise
            except PollingError as exc:
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
