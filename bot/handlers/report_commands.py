"""`/stats [period]` and `/export [period]` for agents: the chart or the CSV, decided by the domain
(`helpdesk.report_answers`), uploaded through the outbox as a reply where the agent asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.handlers.agent_command import AgentCall
from bot.handlers.context import HandlerContext
from bot.handlers.update import Message
from helpdesk import outbox, report_answers
from helpdesk.i18n import t
from helpdesk.report_answers import ReportAnswer
from helpdesk.report_period import PeriodError

Make = Callable[..., Awaitable[ReportAnswer]]


async def stats(ctx: HandlerContext, message: Message) -> None:
    """`/stats [period]`: the chart of the period (7 days by default) with its figures as the caption."""
    await _report(ctx, message, report_answers.stats_answer, "reports.usage")


async def export(ctx: HandlerContext, message: Message) -> None:
    """`/export [period]`: the tickets created in the period as a CSV file."""
    await _report(ctx, message, report_answers.export_answer, "reports.export_usage")


async def _report(ctx: HandlerContext, message: Message, make: Make, usage: str) -> None:
    call = await AgentCall.begin(ctx, message)
    period = message.command.args if message.command else None
    try:
        answer = await make(ctx.session, period or None, ctx.policy.calendar.tz, call.lang)
    except PeriodError:
        call.answer(t(call.lang, usage))
        return
    if answer.upload is None or ctx.chat_id is None:
        call.answer(answer.text)
        return
    upload = answer.upload
    await outbox.send_upload(
        ctx.session,
        ctx.chat_id,
        upload.kind,
        upload.data,
        upload.filename,
        upload.mime_type,
        caption=answer.text,
        reply_to_message_id=None if ctx.is_private else message.message_id,
        thread_id=message.thread_id,
    )
