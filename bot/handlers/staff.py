"""The staff chat: agents' replies to ticket messages, talk in tickets' topics, and the buttons on cards
(and in the queue).

A Telegram reply from an agent to the card, or to any message linked to a ticket, goes to the ticket's
customer; a reply to an "ask" prompt is a question, a reply to a "resolve" prompt is the closing report.
With STAFF_TOPICS, a plain message in a ticket's topic goes to its customer too. Starting with `!`,
either is an internal note (helpdesk/internal_notes.py).
Only agents get here (the routes' audiences, checked on every update; button data can be forged).
"""

from __future__ import annotations

from bot.handlers.agent_command import AgentCall
from bot.handlers.agents import send_details
from bot.handlers.closing_causes import ask_cause
from bot.handlers.context import HandlerContext
from bot.handlers.inputs import content_of
from bot.handlers.update import ButtonPress, Message
from helpdesk import agent_actions, corrections, escalation, internal_notes, outbox
from helpdesk.agent_actions import CauseNeeded, Refusal, state_word
from helpdesk.callbacks import Callback
from helpdesk.i18n import t, to_plain
from helpdesk.vocabulary import State
from storage import repos

#: links that do not make a reply go to the customer (a forum topic's own first message)
NOT_FOR_REPLIES = frozenset({"topic"})
#: what a plain message in a ticket's forum topic answers: the ticket itself
TOPIC_TALK = "topic_talk"
PROMPTS = {"ask": ("prompt_ask", "agents.staff.prompt_ask", "agents.staff.ask_placeholder"),
           "res": ("prompt_resolve", "agents.staff.prompt_resolve", "agents.staff.resolve_placeholder")}  # fmt: skip
BUTTON_ACTIONS = ("take", "ask", "res", "det")


def is_reply(message: Message) -> bool:
    """A reply that is not a command (commands in the staff chat are commands, even as replies)."""
    return message.reply_to is not None and not message.starts_with_slash


def in_topic(message: Message) -> bool:
    """A message in a forum topic that is not a command (the topic may be a ticket's)."""
    return message.thread_id is not None and not message.starts_with_slash


async def reply_to_ticket(ctx: HandlerContext, message: Message) -> None:
    """An agent's reply to a message that belongs to a ticket: to the customer, as a question or a report
    (`!` first: an internal note)."""
    link = await repos.link_of(ctx.session, message.chat_id, message.reply_to) if message.reply_to else None
    if link is None or link.kind in NOT_FOR_REPLIES:
        ctx.outcome = "ignored"  # talk among agents
        return
    await _on_ticket(ctx, message, link.ticket_id, link.kind)


async def topic_message(ctx: HandlerContext, message: Message) -> None:
    """A message in a ticket's forum topic goes to the customer (`!` first: an internal note); a reply to
    one of the ticket's messages (a prompt, say) means what it means anywhere. In other topics: a reply as
    in the staff chat, else talk among agents."""
    link = await repos.link_of(ctx.session, message.chat_id, message.reply_to) if message.reply_to else None
    if link is not None and link.kind not in NOT_FOR_REPLIES:
        await _on_ticket(ctx, message, link.ticket_id, link.kind)
        return
    assert message.thread_id is not None  # the route's predicate
    ticket = await repos.ticket_in_topic(ctx.session, message.chat_id, message.thread_id)
    if ticket is None or ticket.id is None:
        ctx.outcome = "ignored"
        return
    await _on_ticket(ctx, message, ticket.id, TOPIC_TALK)


async def _on_ticket(ctx: HandlerContext, message: Message, ticket_id: int, link_kind: str) -> None:
    """The agent's message about the ticket: a question, a closing report, a note or a reply, by what it
    answers (`link_kind`). Replies and questions are remembered, so an edit is a correction."""
    call = await AgentCall.begin(ctx, message)
    ticket = await repos.lock_ticket(ctx.session, ticket_id)
    if ticket is None:
        return
    content = content_of(message, keep_formatting=True)
    if content.is_empty:
        call.refuse("agents.error.unsupported")
        return
    kind: str | None = None
    try:
        escalation.check_acting(ticket, call.team, ctx.policy)
        if link_kind == "prompt_ask":
            notice = await agent_actions.ask(ctx.session, ticket, call.actor, content, ctx.policy)
            kind = corrections.QUESTION
        elif link_kind == "prompt_resolve":
            notice = await agent_actions.resolve(ctx.session, ticket, call.actor, content.words, ctx.policy)
        elif internal_notes.is_note(content):
            notice = await internal_notes.add_note(ctx.session, ticket, call.actor, content)
        else:
            notice = await agent_actions.reply(ctx.session, ticket, call.actor, content, ctx.policy)
            kind = corrections.REPLY
    except CauseNeeded as needed:
        await ask_cause(call, ticket, needed)
        return
    except Refusal as exc:
        call.answer(exc.text(call.lang))
        ctx.outcome = "refused"
        return
    if kind is not None:  # its edits are corrections
        corrections.remember(ctx.session, message.chat_id, message.message_id, ticket, kind, corrections.typed(content))
    if notice is None:
        return  # a later part of an album: acknowledged with its first part
    if link_kind == TOPIC_TALK and kind is not None:
        return  # the topic is the conversation: a plain message there needs no acknowledgement
    # linked to the ticket too, so replying to the acknowledgement carries on the conversation
    ctx.reply(
        notice.text(call.lang),
        reply_to_message_id=message.message_id,
        thread_id=message.thread_id,
        ticket_id=ticket.id,
        link_kind="relay",
    )


async def card_button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    """Take, Ask, Resolve and Details on a card (Details also in the queue)."""
    call = await AgentCall.begin(ctx)
    action = button.args[0] if button.args else ""
    ticket_id = button.int_arg(1)
    ticket = await repos.lock_ticket(ctx.session, ticket_id) if ticket_id else None
    if ticket is None or action not in BUTTON_ACTIONS:
        ctx.answer_button(t(call.lang, "agents.conv.outdated"))
        ctx.outcome = "stale_button"
        return
    if action == "det":
        await send_details(call, ticket)
        ctx.answer_button(t(call.lang, "agents.done.details_sent"))
        return
    try:
        escalation.check_acting(ticket, call.team, ctx.policy)
    except Refusal as exc:
        ctx.answer_button(to_plain(exc.text(call.lang))[:200], alert=True)
        ctx.outcome = "refused"
        return
    if action == "take":
        try:
            notice = await agent_actions.take(ctx.session, ticket, call.actor, ctx.policy)
        except Refusal as exc:
            ctx.answer_button(to_plain(exc.text(call.lang))[:200], alert=True)
            return
        ctx.answer_button(to_plain(notice.text(call.lang))[:200])
        return
    # ask / resolve: a prompt in the staff chat whose reply is the question or the closing report
    if not State(ticket.state).is_open:
        text = t(call.lang, "agents.error.not_open", number=ticket.number, state=state_word(ticket.state))
        ctx.answer_button(to_plain(text)[:200], alert=True)
        return
    if not ctx.in_staff_chat:
        ctx.answer_button(to_plain(t(call.lang, "agents.error.staff_only", number=ticket.number))[:200], alert=True)
        return
    link_kind, prompt_key, placeholder_key = PROMPTS[action]
    outbox.send_text(
        ctx.session,
        ctx.chat_id,
        t(call.lang, prompt_key, number=ticket.number, agent=call.actor.name, agent_id=call.actor.user_id),
        reply_markup={
            "force_reply": True,
            "selective": True,
            "input_field_placeholder": to_plain(t(call.lang, placeholder_key))[:64],
        },
        ticket_id=ticket.id,
        link_kind=link_kind,
    )
    ctx.answer_button()
