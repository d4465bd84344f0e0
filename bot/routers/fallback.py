"""Whatever no other router wanted: old or forged buttons get a polite 'outdated', the rest is ignored."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.context import HandlerContext
from helpdesk.i18n import t

router = Router(name="fallback")


@router.callback_query()
async def on_unknown_button(query: CallbackQuery, ctx: HandlerContext) -> None:
    ctx.answer_callback(query.id, t(await ctx.lang(), "hint.stale_button"))
    ctx.outcome = "stale_button"


@router.message()
async def on_other_message(message: Message, ctx: HandlerContext) -> None:
    """Group chatter, channel posts, service messages: nothing for the desk to do."""
    ctx.outcome = "ignored"
