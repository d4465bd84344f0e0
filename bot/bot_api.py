"""What a Telegram runtime provides to the bot, whichever framework it is: the Bot API contract.

Everything else — the durable inbox, the handler layer, the outbox and its delivery, polling, the webhook
server, /healthz and /metrics — is shared, so both runtimes run the same product on the same data. A
runtime gives: the Bot API reached through its own HTTP client (`request`, for getMe, getUpdates,
setWebhook…, and a delivery `transport`), the answer to a button press, and the way a stored update
reaches the handler layer (`deliver_to`). Errors come back in the vocabulary below, whatever the client.
The runtime named by BOT_RUNTIME is built by `bot.runtime.make_runtime`.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.batch import Deliver
from bot.handlers.routing import Dispatch
from scheduler.delivery.transport import Transport


class BotApiError(Exception):
    """The Bot API answered with an error (`code` as Telegram gives it: 400, 401, 403, 409, 429…)."""

    def __init__(
        self, code: int, description: str, *, retry_after: float | None = None, migrate_to: int | None = None
    ) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to = migrate_to  # a group that became a supergroup: its new chat id


class BotApiUnreachable(Exception):
    """No usable answer: the network, a timeout, or a server error that is not the Bot API's own."""


class Runtime(Protocol):
    name: str

    async def start(self) -> str:
        """getMe (and whatever the framework needs before it handles updates); the bot's @username."""
        ...

    async def request(self, method: str, payload: dict[str, Any], *, timeout: float) -> Any:
        """One Bot API call with the framework's HTTP client; the `result`, or BotApiError/BotApiUnreachable."""
        ...

    def transport(self) -> Transport:
        """What the outbox delivery sends with."""
        ...

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None: ...

    def deliver_to(self, dispatch: Dispatch) -> Deliver:
        """How an update parsed by the inbox reaches the handler layer under this runtime."""
        ...

    async def close(self) -> None: ...


class AnswersButtons:
    """answerCallbackQuery through the runtime's own `request` (mixed into each runtime)."""

    async def request(self, method: str, payload: dict[str, Any], *, timeout: float) -> Any:
        raise NotImplementedError

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None:
        payload: dict[str, Any] = {"callback_query_id": query_id, "show_alert": alert}
        if text:
            payload["text"] = text
        await self.request("answerCallbackQuery", payload, timeout=10)


async def bot_username(runtime: Runtime) -> str:
    """getMe: the bot's @username (its id when it has none); BotApiError 401 for a rejected token."""
    me = await runtime.request("getMe", {}, timeout=15)
    if not isinstance(me, dict):
        raise BotApiUnreachable("getMe: the answer is not a user")
    return str(me.get("username") or me.get("id"))
