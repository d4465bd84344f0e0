"""Edits by agents: a message of theirs that went to a customer, edited, sends the customer the correction
(`helpdesk.corrections`). Checked as an agent on every edit (the route's audience): someone no longer in
AGENT_IDS is a customer like anyone else.

An edited command is read as the command: `/reply N text` (or `#name`) and `/ask N question` must still
name the same ticket. An edit of a message that never reached a customer changes nothing; in a private
chat it is the agent's own message as a customer (`ticket_messages.edited`).
"""

from __future__ import annotations

from bot.handlers import ticket_messages
from bot.handlers.agent_command import AgentCall, split_args
from bot.handlers.context import HandlerContext
from bot.handlers.inputs import content_of
from bot.handlers.update import Message
from helpdesk import agent_canned, corrections, customer_notices, tickets
from helpdesk.agent_actions import Refusal
from helpdesk.content import Content
from storage import repos
from storage.models import RelayedMessage, Ticket


async def edited(ctx: HandlerContext, message: Message) -> None:
    """An agent's edit: the correction to the customer when the message was relayed to one."""
    original = await corrections.relayed(ctx.session, message.chat_id, message.message_id)
    if original is None:
        if ctx.is_private:
            await ticket_messages.edited(ctx, message)  # the agent's own message as a customer
        else:
            ctx.outcome = "ignored"
        return
    call = await AgentCall.begin(ctx, message)
    ticket = await repos.lock_ticket(ctx.session, original.ticket_id)
    if ticket is None:  # pragma: no cover - tickets are never deleted
        return
    try:
        words, typed = await _edited_words(call, message, ticket, original)
        notice = await corrections.correct(ctx.session, original, ticket, call.actor, words, typed, ctx.policy)
    except Refusal as exc:
        call.answer(exc.text(call.lang))
        ctx.outcome = "refused"
        return
    if notice is None:
        ctx.outcome = "unchanged"
        return
    call.answer(notice.text(call.lang))


async def _edited_words(
    call: AgentCall, message: Message, ticket: Ticket, original: RelayedMessage
) -> tuple[customer_notices.Words, str]:
    """What the edited message says to the customer, and what the agent typed (compared across edits)."""
    if message.command is None:
        content = content_of(message, keep_formatting=True)
        return content, corrections.typed(content)
    raw = split_args(message, 2)
    if len(raw) < 2:
        raise Refusal("agents.error.empty_reply", number=ticket.number)
    named = await tickets.find_by_number(call.session, raw[0])
    if named is None or named.id != ticket.id:
        raise Refusal("replies.edits.other_ticket", number=ticket.number)
    text = raw[1]
    if original.kind == corrections.REPLY:
        return agent_canned.reply_words(call.policy.canned_replies, text, call.actor), text
    return Content(text=text), text
