"""The staff chat: agents' replies to ticket messages, and the buttons on cards (and in the queue).

A Telegram reply from an agent to the card, or to any message linked to a ticket, goes to the ticket's
customer; a reply to an "ask" prompt is a question, a reply to a "resolve" prompt is the closing report.
Only agents count (checked on every update; button data can be forged): anyone else's replies are
ignored and their presses answered "outdated" by the fallback router.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.context import HandlerContext
from bot.inputs import content_of, is_command
from bot.routers.agent import answer, begin, send_details
from helpdesk import agent_actions, callbacks, outbox
from helpdesk.agent_actions import Refusal
from helpdesk.i18n import t, to_plain
from helpdesk.vocabulary import State
from storage import repos

router = Router(name="staff")

#: links that do not make a reply go to the customer (a forum topic's own first message)
NOT_FOR_REPLIES = frozenset({"topic"})
PROMPTS = {"ask": ("prompt_ask", "agents.staff.prompt_ask", "agents.staff.ask_placeholder"),
           "res": ("prompt_resolve", "agents.staff.prompt_resolve", "agents.staff.resolve_placeholder")}  # fmt: skip


async def linked_reply(message: Message, ctx: HandlerContext) -> dict[str, Any] | bool:
    """An agent in the staff chat replying (not with a command) to a message that belongs to a ticket."""
    if not (ctx.in_staff_chat and ctx.is_agent) or message.reply_to_message is None or is_command(message):
        return False
    link = await repos.link_of(ctx.session, message.chat.id, message.reply_to_message.message_id)
    if link is None or link.kind in NOT_FOR_REPLIES:
        return False
    return {"link": link}


@router.message(linked_reply)
async def on_staff_reply(message: Message, ctx: HandlerContext, link: Any) -> None:
    actor, lang = await begin(ctx)
    ticket = await repos.lock_ticket(ctx.session, link.ticket_id)
    if ticket is None:
        return
    content = content_of(message, keep_formatting=True)
    if content.is_empty:
        answer(ctx, message, t(lang, "agents.error.unsupported"))
        return
    try:
        if link.kind == "prompt_ask":
            notice = await agent_actions.ask(ctx.session, ticket, actor, content, ctx.policy)
        elif link.kind == "prompt_resolve":
            notice = await agent_actions.resolve(ctx.session, ticket, actor, content.words, ctx.policy)
        else:
            notice = await agent_actions.reply(ctx.session, ticket, actor, content, ctx.policy)
    except Refusal as exc:
        answer(ctx, message, exc.text(lang))
        ctx.outcome = "refused"
        return
    # linked to the ticket too, so replying to the acknowledgement carries on the conversation
    ctx.reply(
        notice.text(lang),
        reply_to_message_id=message.message_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        ticket_id=ticket.id,
        link_kind="relay",
    )


# -- buttons ---------------------------------------------------------------------------------------------


async def agent_button(query: CallbackQuery, ctx: HandlerContext) -> bool:
    """An agent pressing, in the staff chat or a private chat (anyone else: the fallback says 'outdated')."""
    return ctx.is_agent and (ctx.is_private or ctx.in_staff_chat)


@router.callback_query(F.data.startswith(callbacks.AGENT + ":"), agent_button)
async def on_agent_button(query: CallbackQuery, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    parsed = callbacks.parse(query.data)
    action = parsed.args[0] if parsed and parsed.args else ""
    ticket_id = parsed.int_arg(1) if parsed else None
    ticket = await repos.lock_ticket(ctx.session, ticket_id) if ticket_id else None
    if ticket is None or action not in ("take", "ask", "res", "det"):
        ctx.answer_callback(query.id, t(lang, "agents.conv.outdated"))
        ctx.outcome = "stale_button"
        return
    if action == "det":
        await send_details(ctx, ticket, lang)
        ctx.answer_callback(query.id, t(lang, "agents.done.details_sent"))
        return
    if action == "take":
        try:
            notice = await agent_actions.take(ctx.session, ticket, actor, ctx.policy)
        except Refusal as exc:
            ctx.answer_callback(query.id, to_plain(exc.text(lang))[:200], alert=True)
            return
        ctx.answer_callback(query.id, to_plain(notice.text(lang))[:200])
        return
    # ask / resolve: a prompt in the staff chat whose reply is the question or the closing report
    if not State(ticket.state).is_open:
        text = t(lang, "agents.error.not_open", number=ticket.number, state=ticket.state)
        ctx.answer_callback(query.id, to_plain(text)[:200], alert=True)
        return
    if not ctx.in_staff_chat:
        ctx.answer_callback(
            query.id, to_plain(t(lang, "agents.error.staff_only", number=ticket.number))[:200], alert=True
        )
        return
    link_kind, prompt_key, placeholder_key = PROMPTS[action]
    outbox.send_text(
        ctx.session,
        ctx.chat_id,
        t(lang, prompt_key, number=ticket.number, agent=actor.name, agent_id=actor.user_id),
        reply_markup={
            "force_reply": True,
            "selective": True,
            "input_field_placeholder": to_plain(t(lang, placeholder_key))[:64],
        },
        ticket_id=ticket.id,
        link_kind=link_kind,
    )
    ctx.answer_callback(query.id)
