"""Teams: `/escalate N TEAM|manager [note]` (the domain is `helpdesk.escalation`)."""

from __future__ import annotations

from bot.handlers.agent_command import OPTIONAL_TEXT, TEXT, AgentCall, run_on_ticket, split_args
from bot.handlers.context import HandlerContext
from bot.handlers.update import Message
from helpdesk import escalation
from helpdesk.agent_actions import Notice
from helpdesk.i18n import t
from storage.models import Ticket


async def escalate(ctx: HandlerContext, message: Message) -> None:
    """`/escalate N TEAM [note]` moves the ticket to a team's chat; `/escalate N manager [note]` tells the
    managers. Escalating acts on the ticket, so from a team's chat only that team's tickets."""
    call = await AgentCall.begin(ctx, message)
    raw = split_args(message, 3)
    if len(raw) < 2:
        call.answer(t(call.lang, "teams.usage.escalate", known=escalation.known_targets(ctx.policy)))
        return
    await run_on_ticket(call, raw, "teams.usage.escalate", (TEXT, OPTIONAL_TEXT), _escalate)


async def _escalate(call: AgentCall, ticket: Ticket, target: str, note: str | None) -> Notice:
    return await escalation.escalate(call.session, ticket, call.actor, target, note, call.policy)
