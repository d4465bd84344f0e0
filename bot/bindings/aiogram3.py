"""The aiogram 3 runtime: aiogram's Bot and HTTP session reach the Bot API; the handler layer does the rest.

aiogram's Dispatcher is not on the hot path. The inbox has already read each update once, from the JSON
it stored, into the handler layer's model; going through the Dispatcher would parse the same JSON again
into aiogram's pydantic models and walk its routers and filters to reach the one catch-all handler that
calls the layer — measured in benchmarks/README.md ("Runtimes") — and an update aiogram's models reject
(a field newer than the library) would be lost to a validation error that the layer does not have.
So `deliver_to` hands the parsed update straight to the dispatch. aiogram's Bot is what talks to
Telegram: getMe, getUpdates, the webhook calls and the outbox as raw JSON over its aiohttp session (one
bad update must not make a getUpdates batch unreadable; outbox rows already are Bot API parameters, and
aiogram's method models would validate each into a model and encode it as a multipart form, several
times the cost of the call itself).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.api_transport import ApiTransport
from bot.batch import Deliver
from bot.bot_api import AnswersButtons, BotApiError, BotApiUnreachable, bot_username
from bot.handlers.routing import Dispatch
from scheduler.delivery.transport import FileUpload, Transport

_JSON = {"Content-Type": "application/json"}


def make_bot(token: str, api_url: str, *, timeout: float = 60.0) -> Bot:
    """aiogram's Bot for our Bot API server (TELEGRAM_API_URL)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    return Bot(token=token, session=session)


class AiogramRuntime(AnswersButtons):
    name = "aiogram"

    def __init__(self, token: str, api_url: str, *, timeout: float = 60.0) -> None:
        self.bot: Bot = make_bot(token, api_url, timeout=timeout)

    async def start(self) -> str:
        return await bot_username(self)

    async def request(self, method: str, payload: dict[str, Any], *, timeout: float) -> Any:
        url = self.bot.session.api.api_url(token=self.bot.token, method=method)
        if any(isinstance(value, FileUpload) for value in payload.values()):
            body: Any = _form(payload)  # a file the bot made (a chart, a CSV): multipart, as uploads go
            headers = None
        else:
            body, headers = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(), _JSON
        try:
            session = await self.bot.session.create_session()
            async with session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                status, raw = resp.status, await resp.read()
        except TimeoutError:
            raise BotApiUnreachable("timeout: no answer from the Bot API") from None
        except aiohttp.ClientError as exc:
            raise BotApiUnreachable(f"network: {type(exc).__name__}: {exc}") from None
        return answer_of(status, raw)

    def transport(self) -> Transport:
        return ApiTransport(self)

    def deliver_to(self, dispatch: Dispatch) -> Deliver:
        return dispatch

    async def close(self) -> None:
        await self.bot.session.close()


def _form(payload: dict[str, Any]) -> aiohttp.FormData:
    """The parameters as a multipart form: files as file parts, objects as JSON, the rest as text."""
    form = aiohttp.FormData()
    for key, value in payload.items():
        if isinstance(value, FileUpload):
            form.add_field(key, value.data, filename=value.filename, content_type=value.mime_type)
        elif isinstance(value, bool):
            form.add_field(key, "true" if value else "false")
        elif isinstance(value, str | int | float):
            form.add_field(key, str(value))
        elif value is not None:
            form.add_field(key, json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return form


def answer_of(status: int, raw: bytes) -> Any:
    """The Bot API's `result`, or its error as BotApiError (BotApiUnreachable for a server error or an answer
    that is not the API's)."""
    try:
        answer = json.loads(raw)
    except ValueError:
        raise BotApiUnreachable(f"HTTP {status}: the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise BotApiUnreachable(f"HTTP {status}: the answer is not a JSON object")
    if answer.get("ok"):
        return answer.get("result")
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    retry, migrate_to = parameters.get("retry_after"), parameters.get("migrate_to_chat_id")
    code = int(answer.get("error_code") or status)
    if code >= 500:  # Telegram's servers (or a proxy before them) failing: try again later
        raise BotApiUnreachable(f"HTTP {code}: {answer.get('description') or 'server error'}")
    raise BotApiError(
        code,
        str(answer.get("description") or f"HTTP {status}"),
        retry_after=float(retry) if retry else None,
        migrate_to=int(migrate_to) if migrate_to else None,
    )
