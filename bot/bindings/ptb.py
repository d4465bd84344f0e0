"""The python-telegram-bot runtime (BOT_RUNTIME=ptb): its Application, handlers and HTTP client.

- Updates reach the handler layer through ptb's `Application.process_update` and its handlers (one per
  update type the bot asks for), so ptb developers find the desk where they expect it, and can add
  their own handlers or error handlers to `PtbRuntime.application`. The inbox has already read the
  update into the layer's model; the handler passes that on (ptb's `Update` is only its way there).
- ptb's `Updater` is not used: it confirms updates to Telegram before they are handled, let alone
  stored. bot/polling.py fetches getUpdates through ptb's own HTTP client (`Bot.do_api_request`, raw
  JSON, so an update ptb cannot parse never blocks a batch) and stores each batch before confirming
  it. ptb's webhook server is not used either (it answers 200 before anything is stored):
  bot/webhook.py stores first; ptb's client registers the webhook.
- The outbox is sent through the same client (`bot.api_transport.ApiTransport`), so every call the
  bot makes carries ptb's User-Agent.
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import InputFile
from telegram import Update as PtbUpdate
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.api_transport import ApiTransport
from bot.batch import Deliver
from bot.bot_api import AnswersButtons, BotApiError, BotApiUnreachable
from bot.handlers.context import HandlerContext
from bot.handlers.routing import Dispatch
from bot.handlers.update import Update
from scheduler.delivery.transport import FileUpload, Transport

log = logging.getLogger("bot.ptb")

# `do_api_request` asks to use the named method instead ("Please use 'Bot.send_message'"): the named
# methods build ptb's objects from our JSON and back, which is what the raw call avoids.
warnings.filterwarnings("ignore", message="Please use 'Bot.", category=PTBUserWarning)
# RetryAfter.retry_after is an int until ptb makes it a timedelta; both are read below.
warnings.filterwarnings("ignore", message=".*retry_after.*", category=PTBDeprecationWarning)


class PtbRuntime(AnswersButtons):
    name = "ptb"

    def __init__(self, token: str, api_url: str, *, request: BaseRequest | None = None) -> None:
        builder = (
            Application.builder()
            .token(token)
            .base_url(f"{api_url}/bot")
            .base_file_url(f"{api_url}/file/bot")
            .updater(None)  # see the module docstring: bot/polling.py fetches, stores, then confirms
        )
        if request is not None:  # tests: an in-process stand-in for the HTTP client
            builder = builder.request(request).get_updates_request(request)
        else:
            builder = builder.request(HTTPXRequest(connection_pool_size=64)).get_updates_request(HTTPXRequest())
        self.application: Application = builder.build()
        self.bot = self.application.bot
        self._pending: dict[int, tuple[Update, HandlerContext]] = {}
        self._results: dict[int, BaseException | bool] = {}
        self._dispatch: Dispatch | None = None

    async def start(self) -> str:
        """getMe (ptb's `Application.initialize`); the bot's @username."""
        try:
            await self.application.initialize()
        except BaseException as exc:
            raise _mapped(exc) from None
        return str(self.bot.username or self.bot.id)

    async def request(self, method: str, payload: dict[str, Any], *, timeout: float) -> Any:
        try:
            return await self.bot.do_api_request(
                method,
                api_kwargs=_with_input_files(payload),
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
            )
        except (TelegramError, OSError) as exc:
            raise _mapped(exc) from None

    def transport(self) -> Transport:
        return ApiTransport(self)

    def deliver_to(self, dispatch: Dispatch) -> Deliver:
        """ptb's handlers, one per update type, hand the inbox's update to the layer's dispatch."""
        if self._dispatch is None:
            self.application.add_handlers(
                [
                    MessageHandler(filters.UpdateType.MESSAGE, self._to_layer),
                    MessageHandler(filters.UpdateType.EDITED_MESSAGE, self._to_layer),
                    CallbackQueryHandler(self._to_layer),
                    ChatMemberHandler(self._to_layer, ChatMemberHandler.MY_CHAT_MEMBER),
                ]
            )
        self._dispatch = dispatch
        return self._deliver

    async def _deliver(self, update: Update, ctx: HandlerContext) -> bool:
        try:
            ptb_update = PtbUpdate.de_json(update.payload, self.bot)
        except Exception:  # a payload ptb cannot read (a field newer than the library): the layer can
            log.debug("update=%s ptb could not read it; handed to the handler layer directly", update.update_id)
            assert self._dispatch is not None
            return await self._dispatch(update, ctx)
        self._pending[update.update_id] = (update, ctx)
        try:
            await self.application.process_update(ptb_update)
        finally:
            self._pending.pop(update.update_id, None)
            result = self._results.pop(update.update_id, False)
        if isinstance(result, BaseException):  # the inbox blames the update (ptb would only log it)
            raise result
        if not result and ctx.outcome == "handled":
            ctx.outcome = "ignored"
        return bool(result)

    async def _to_layer(self, ptb_update: PtbUpdate, _context: ContextTypes.DEFAULT_TYPE) -> None:
        update, ctx = self._pending[ptb_update.update_id]
        assert self._dispatch is not None
        try:
            self._results[update.update_id] = await self._dispatch(update, ctx)
        except Exception as exc:
            self._results[update.update_id] = exc

    async def close(self) -> None:
        try:
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
        except Exception:  # shutting down a half-started application: nothing left to do
            await self.bot.shutdown()


def _mapped(exc: BaseException) -> BaseException:
    """ptb's errors in the runtime vocabulary (bot/bot_api.py)."""
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return BotApiError(429, str(exc), retry_after=seconds)
    if isinstance(exc, ChatMigrated):
        return BotApiError(400, str(exc), migrate_to=int(exc.new_chat_id))
    if isinstance(exc, InvalidToken | EndPointNotFound):
        return BotApiError(401, str(exc))
    if isinstance(exc, Forbidden):
        return BotApiError(403, exc.message)
    if isinstance(exc, BadRequest):  # (a NetworkError in ptb's hierarchy: checked first)
        return BotApiError(400, exc.message)
    if isinstance(exc, Conflict):
        return BotApiError(409, exc.message)
    if isinstance(exc, TimedOut):
        return BotApiUnreachable("timeout: no answer from the Bot API")
    if isinstance(exc, NetworkError | OSError):
        return BotApiUnreachable(f"network: {exc}")
    if isinstance(exc, TelegramError):
        return BotApiUnreachable(exc.message)
    return exc


def _with_input_files(payload: dict[str, Any]) -> dict[str, Any]:
    """A file the bot made (a chart, a CSV) as ptb's InputFile, which ptb uploads as multipart."""
    if not any(isinstance(value, FileUpload) for value in payload.values()):
        return payload
    return {
        key: InputFile(value.data, filename=value.filename) if isinstance(value, FileUpload) else value
        for key, value in payload.items()
    }
