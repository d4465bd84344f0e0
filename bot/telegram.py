"""The aiogram Bot for our API server, and the delivery Transport that uses its HTTP session."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from scheduler.delivery.transport import Rejected, RetryLater, Transient, Unreachable


def make_bot(token: str, api_url: str, *, timeout: float = 60.0) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    return Bot(token=token, session=session)


class BotApiTransport:
    """Delivery's calls as JSON over the bot's own HTTP session, answers mapped to delivery's vocabulary.

    Outbox rows already are Bot API parameters (JSON), so they are posted as they are. Going through
    aiogram's method models instead would validate each payload into a model, encode it back as a
    multipart form and parse the answer into a model only to dump it to a dict again: several times the
    cost of the HTTP call itself, for every message sent. The error mapping follows the Bot API's
    documented answers (and aiogram's reading of them).
    """

    def __init__(self, bot: Bot, request_timeout: float = 30.0) -> None:
        self.bot = bot
        self.request_timeout = request_timeout

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        url = self.bot.session.api.api_url(token=self.bot.token, method=method)
        try:
            session = await self.bot.session.create_session()
            timeout = aiohttp.ClientTimeout(total=self.request_timeout)
            async with session.post(url, data=_dumps(payload), headers=_JSON, timeout=timeout) as response:
                status = response.status
                body = await response.read()
        except TimeoutError:
            raise Transient("timeout: no answer from the Bot API") from None
        except aiohttp.ClientError as exc:
            raise Transient(f"network: {type(exc).__name__}: {exc}") from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise Transient(f"HTTP {status}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise Transient(f"HTTP {status}: the answer is not a JSON object")
        if answer.get("ok"):
            return answer.get("result")
        raise _error(
            int(answer.get("error_code") or status), str(answer.get("description") or f"HTTP {status}"), answer
        )


_JSON = {"Content-Type": "application/json"}


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _error(code: int, description: str, answer: dict[str, Any]) -> Exception:
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    if code == 429:
        return RetryLater(float(parameters.get("retry_after") or 1), description)
    if parameters.get("migrate_to_chat_id"):
        return Rejected(f"chat migrated to {parameters['migrate_to_chat_id']}")
    if code == 403:
        return Unreachable(description)
    if code in (400, 404):
        return Rejected(description)
    return Transient(description)  # 5xx, 401, 409, anything else: worth another try later
