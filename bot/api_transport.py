"""Delivery's calls through a runtime's Bot API client, its answers mapped to delivery's vocabulary.

Outbox rows already are Bot API parameters, so they go as they are (`Runtime.request`); the errors come
back in the runtime's vocabulary (bot/bot_api.py) and are read here the way the Bot API documents them:
429 waits `retry_after`, a migrated group is refused (its rows would go to a chat that no longer
exists), 403 means the person blocked the bot, 400/404 will never succeed, anything else may later.
A `FileUpload` parameter (a chart, a CSV) is uploaded by the runtime as multipart.
"""

from __future__ import annotations

from typing import Any

from bot.bot_api import BotApiError, BotApiUnreachable, Runtime
from scheduler.delivery.transport import FileUpload, Rejected, RetryLater, Transient, Unreachable

UPLOAD_TIMEOUT = 120.0  # seconds for a call that uploads a file the bot made


class ApiTransport:
    def __init__(self, runtime: Runtime, request_timeout: float = 30.0) -> None:
        self.runtime = runtime
        self.request_timeout = request_timeout

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        timeout = self.request_timeout
        if any(isinstance(value, FileUpload) for value in payload.values()):
            timeout = max(timeout, UPLOAD_TIMEOUT)  # an export may be megabytes
        try:
            return await self.runtime.request(method, payload, timeout=timeout)
        except BotApiUnreachable as exc:
            raise Transient(str(exc)) from None
        except BotApiError as exc:
            raise delivery_error(exc) from None


def delivery_error(exc: BotApiError) -> Exception:
    if exc.code == 429:
        return RetryLater(exc.retry_after or 1.0, exc.description)
    if exc.migrate_to:
        return Rejected(f"chat migrated to {exc.migrate_to}")
    if exc.code == 403:
        return Unreachable(exc.description)
    if exc.code in (400, 404):
        return Rejected(exc.description)
    return Transient(exc.description)  # 401, 409, anything else: worth another try later
