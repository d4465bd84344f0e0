"""An incident's closing report without its cause (helpdesk.causes): the causes listed, with a button for
each that resolves the ticket with the report the agent already wrote (kept on the ticket's trail)."""

from __future__ import annotations

from bot.handlers.agent_command import AgentCall
from bot.handlers.context import HandlerContext
from bot.handlers.update import ButtonPress
from helpdesk import agent_actions, causes, escalation, outbox
from helpdesk.agent_actions import CauseNeeded, Refusal
from helpdesk.callbacks import Callback
from helpdesk.i18n import t, to_plain
from helpdesk.vocabulary import Cause
from storage import repos
from storage.models import Ticket


async def ask_cause(call: AgentCall, ticket: Ticket, needed: CauseNeeded) -> None:
    """The causes, and a button per cause under the kept report; nothing else changes."""
    draft_id = await agent_actions.keep_report(call.session, ticket, call.actor, needed.report)
    call.answer(needed.text(call.lang), buttons=causes.buttons(ticket.id, draft_id, call.lang))
    call.ctx.outcome = "cause_needed"


async def cause_button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    """`cz:<ticket>:<report>:<cause>`: resolve with the kept report and this cause."""
    call = await AgentCall.begin(ctx)
    ticket_id, draft_id = button.int_arg(0), button.int_arg(1)
    code = button.args[2] if len(button.args) == 3 else ""
    ticket = await repos.lock_ticket(ctx.session, ticket_id) if ticket_id else None
    if ticket is None or draft_id is None or code not in set(Cause):
        ctx.answer_button(t(call.lang, "agents.conv.outdated"))
        ctx.outcome = "stale_button"
        return
    try:
        escalation.check_acting(ticket, call.team, ctx.policy)
        notice = await agent_actions.resolve_kept(ctx.session, ticket, call.actor, draft_id, Cause(code), ctx.policy)
    except Refusal as exc:
        ctx.answer_button(to_plain(exc.text(call.lang))[:200], alert=True)
        ctx.outcome = "refused"
        return
    if press.chat_id is not None and press.message_id is not None:  # the choice is made: the buttons go
        outbox.drop_buttons(ctx.session, press.chat_id, press.message_id)
    ctx.answer_button(to_plain(notice.text(call.lang))[:200])
    call.answer(notice.text(call.lang))
