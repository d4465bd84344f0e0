"""Satisfaction survey buttons (`rt:<ticket id>:<1..5>`): thin handlers over helpdesk.survey."""

from __future__ import annotations

from bot.handlers.context import HandlerContext
from bot.handlers.update import ButtonPress
from helpdesk import outbox, survey
from helpdesk.callbacks import Callback
from helpdesk.i18n import t


async def rating(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    lang = await ctx.lang()
    ticket_id = button.int_arg(0) if len(button.args) == 2 else None
    stars = button.int_arg(1) if len(button.args) == 2 else None
    if ticket_id is None or stars is None:
        ctx.answer_button(t(lang, "scheduler.survey.unavailable"))
        ctx.outcome = "stale_button"
        return
    result = await survey.rate(ctx.session, await ctx.customer(), ticket_id, stars, ctx.policy)
    if result.outcome == "already":
        ctx.answer_button(t(lang, "scheduler.survey.already"))
        return
    if not result.ok or result.ticket is None:
        ctx.answer_button(t(lang, "scheduler.survey.unavailable"))
        ctx.outcome = "stale_button"
        return
    ctx.answer_button()
    if press.message_id is not None and ctx.chat_id is not None:  # the survey shows the answer, without buttons
        outbox.edit_text(
            ctx.session,
            ctx.chat_id,
            press.message_id,
            survey.rated_text(lang, result.ticket, stars),
            buttons=[],
            ticket_id=result.ticket.id,
        )
    ctx.reply(t(lang, "scheduler.survey.thanks"), ticket_id=result.ticket.id)
