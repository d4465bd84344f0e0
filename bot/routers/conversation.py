"""Customer messages about an existing ticket (answers to agents, follow-ups). Filled in with the agents' side."""

from __future__ import annotations

from aiogram.types import Message

from bot.context import HandlerContext


async def continue_ticket_conversation(ctx: HandlerContext, message: Message) -> bool:
    """True when the message belonged to an existing ticket and was handled."""
    return False
