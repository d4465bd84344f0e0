"""What delivery tells the rest of the bot, handed in at the composition root (bot/app.py).

Delivery depends on storage only; what a failure means to the desk (an event on the ticket, a note on
its card for the staff) and the metrics are the bot's business, so they come in as these hooks. The
session hooks run inside delivery's transaction for that row, so what they write commits with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Customer, OutboxMessage

RowHook = Callable[[AsyncSession, OutboxMessage, str], Awaitable[None]]
BlockedHook = Callable[[AsyncSession, OutboxMessage, Customer], Awaitable[None]]


async def _nothing(*_args: object) -> None:
    return None


def _ignore(_value: str) -> None:
    return None


@dataclass(frozen=True)
class DeliveryHooks:
    #: a row given up on (refused, or out of attempts), with the reason
    failed: RowHook = _nothing
    #: a row whose previous attempt may have reached the chat, sent again; with a note saying why
    uncertain: RowHook = _nothing
    #: a customer blocked the bot (first 403 from their private chat): the row that found out, and them
    customer_blocked: BlockedHook = _nothing
    #: a private chat of someone who is no customer refuses the bot (403: a manager who never pressed Start)
    stranger_unreachable: RowHook = _nothing
    #: a call went through (metrics): the Bot API method
    call_succeeded: Callable[[str], None] = _ignore
    #: a call failed (metrics): retry_after | transient | unreachable | rejected
    call_failed: Callable[[str], None] = _ignore
