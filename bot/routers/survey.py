"""Satisfaction survey buttons (`rt:<ticket id>:<1..5>`): thin handlers over helpdesk.survey."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery

from bot.context import HandlerContext
from helpdesk import callbacks, outbox, survey
from helpdesk.i18n import t

router = Router(name="survey")


@router.callback_query(F.data.startswith(callbacks.RATE + ":"))
async def on_rating(query: CallbackQuery, ctx: HandlerContext) -> None:
    lang = await ctx.lang()
    parsed = callbacks.parse(query.data)
    ticket_id = parsed.int_arg(0) if parsed is not None and len(parsed.args) == 2 else None
    rating = parsed.int_arg(1) if parsed is not None and len(parsed.args) == 2 else None
    if ticket_id is None or rating is None or not ctx.is_private or ctx.person is None:
        ctx.answer_callback(query.id, t(lang, "scheduler.survey.unavailable"))
        ctx.outcome = "stale_button"
        return
    result = await survey.rate(ctx.session, await ctx.customer(), ticket_id, rating, ctx.policy)
    if result.outcome == "already":
        ctx.answer_callback(query.id, t(lang, "scheduler.survey.already"))
        return
    if not result.ok or result.ticket is None:
        ctx.answer_callback(query.id, t(lang, "scheduler.survey.unavailable"))
        ctx.outcome = "stale_button"
        return
    ctx.answer_callback(query.id)
    if query.message is not None and ctx.chat_id is not None:  # the survey shows the answer, without buttons
        outbox.edit_text(
            ctx.session,
            ctx.chat_id,
            query.message.message_id,
            survey.rated_text(lang, result.ticket, rating),
            buttons=[],
            ticket_id=result.ticket.id,
        )
    ctx.reply(t(lang, "scheduler.survey.thanks"), ticket_id=result.ticket.id)
