"""The aiogram Bot for our API server, and the delivery Transport backed by it."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import TelegramMethod
from pydantic import BaseModel

from scheduler.transport import Rejected, RetryLater, Transient, Unreachable

_METHODS: dict[str, type[TelegramMethod[Any]]] = {
    cls.__api_method__: cls
    for name in methods.__all__
    if isinstance(cls := getattr(methods, name), type)
    and issubclass(cls, TelegramMethod)
    and hasattr(cls, "__api_method__")
}


def make_bot(token: str, api_url: str, *, timeout: float = 60.0) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    return Bot(token=token, session=session)


def method_call(method: str, payload: dict[str, Any]) -> TelegramMethod[Any]:
    cls = _METHODS.get(method)
    if cls is None:
        raise Rejected(f"unknown Bot API method {method}")
    return cls.model_validate(payload)


class AiogramTransport:
    """Turns aiogram's exceptions into the delivery layer's vocabulary."""

    def __init__(self, bot: Bot, request_timeout: float = 30.0) -> None:
        self.bot = bot
        self.request_timeout = request_timeout

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        try:
            call = method_call(method, payload)
        except ValueError as exc:  # pydantic validation of our own payload
            raise Rejected(f"invalid {method} payload: {exc}") from None
        try:
            result = await self.bot(call, request_timeout=int(self.request_timeout))
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after), exc.message) from None
        except TelegramForbiddenError as exc:
            raise Unreachable(exc.message) from None
        except TelegramMigrateToChat as exc:
            raise Rejected(f"chat migrated to {exc.migrate_to_chat_id}") from None
        except (TelegramBadRequest, TelegramNotFound) as exc:
            raise Rejected(exc.message) from None
        except TelegramServerError as exc:
            raise Transient(exc.message) from None
        except TelegramNetworkError as exc:
            raise Transient(f"network: {exc.message}") from None
        except TimeoutError:
            raise Transient("timeout: no answer from the Bot API") from None
        except asyncio.CancelledError:
            raise
        except TelegramAPIError as exc:
            raise Transient(exc.message) from None
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json", exclude_none=True)
        return result
