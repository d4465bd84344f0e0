"""Agent commands, in a private chat with the bot and in the staff chat: views, assignment, talking to
the customer, state, triage corrections. Each is the domain call it stands for; the sequence they share
(usage, arguments, lookup, refusal) is `bot/handlers/agent_command.py`.
"""

from __future__ import annotations

from bot.handlers.agent_command import (
    AGENT_REF,
    CATEGORY,
    OPTIONAL_TEXT,
    PRIORITY,
    STATE,
    TEXT,
    AgentCall,
    agent_command,
    run_on_ticket,
    split_args,
    ticket_command,
)
from bot.handlers.closing_causes import ask_cause
from bot.handlers.context import HandlerContext
from bot.handlers.update import Message
from helpdesk import agent_actions, agent_canned, agent_views, callbacks, cards, corrections, on_behalf, outbox
from helpdesk.agent_actions import CauseNeeded, Notice, Refusal
from helpdesk.content import Content
from helpdesk.i18n import t
from helpdesk.people import Actor
from helpdesk.vocabulary import Category, Priority, State
from storage import repos
from storage.models import Ticket

# -- views -----------------------------------------------------------------------------------------------


@agent_command
async def queue(call: AgentCall) -> None:
    """`/queue`: the tickets of the caller's teams (where they are asked); `/queue all`: every open ticket."""
    scope = None
    words = split_args(call.message, 1) if call.message is not None else []
    if [word.casefold() for word in words] != ["all"]:
        agent = await repos.agent_by_id(call.session, call.actor.user_id)
        here = call.team.name if call.team is not None else None
        scope = agent_views.queue_scope(call.policy, here, call.ctx.is_private, agent.teams if agent else [])
    text, buttons = await agent_views.queue(call.session, call.lang, scope)
    call.answer(text, buttons=buttons or None)


@ticket_command("agents.usage.ticket", acts=False)
async def ticket(call: AgentCall, ticket: Ticket) -> None:
    """The full card with history and the attachments, where the agent asked."""
    await send_details(call, ticket)


async def send_details(call: AgentCall, ticket: Ticket) -> None:
    """The full card with history, then copies of the attachments: under the card (the Details button in
    the staff chat) or where the agent asked (/ticket N, the queue in a private chat)."""
    ctx, message = call.ctx, call.message
    text, _count = await agent_views.details(ctx.session, ticket, call.lang)
    under_card = message is None and ctx.in_staff_chat
    thread_id = message.thread_id if message is not None else None
    if under_card:
        outbox.send_text(ctx.session, ctx.chat_id, text, ticket_id=ticket.id, link_kind="relay", reply_to_card=True)
    else:
        reply_to = message.message_id if message is not None and not ctx.is_private else None
        ctx.reply(text, reply_to_message_id=reply_to, thread_id=thread_id)
    files = await repos.attachments_of(ctx.session, ticket.id)
    for index, file in enumerate(files, start=1):
        caption = t(call.lang, "agents.view.attachment_caption", number=ticket.number, index=index, total=len(files))
        if file.caption:
            caption += "\n" + t(call.lang, "agents.view.file_caption", caption=file.caption[:800])
        outbox.send_file(
            ctx.session,
            ctx.chat_id,
            file.kind,
            file.file_id,
            caption=caption,
            thread_id=thread_id,
            ticket_id=ticket.id if under_card else None,
            reply_to_card=under_card,
        )


async def status(ctx: HandlerContext, message: Message) -> None:
    """`/status N` shows any ticket to an agent; `/status N STATE [note]` changes its state."""
    call = await AgentCall.begin(ctx, message)
    raw = split_args(message, 3)
    if len(raw) == 1:
        await run_on_ticket(call, raw, "agents.usage.status", (), show_card, acts=False)
    else:
        await run_on_ticket(call, raw, "agents.usage.status", (STATE, OPTIONAL_TEXT), change_state)


async def show_card(call: AgentCall, ticket: Ticket) -> None:
    customer = await repos.customer_by_id(call.session, ticket.customer_id)
    lang = call.lang
    text = cards.card_text(ticket, customer, lang) if customer else t(lang, "agents.view.orphan", number=ticket.number)
    buttons = cards.card_buttons(ticket, lang)
    if not call.ctx.in_staff_chat:  # Ask and Resolve prompt in the staff chat; here /ask and /resolve do it
        staff_only = {callbacks.make(callbacks.AGENT, action, ticket.id) for action in ("ask", "res")}
        buttons = [kept for row in buttons if (kept := [b for b in row if b[1] not in staff_only])]
    call.answer(text, buttons=buttons)


async def change_state(call: AgentCall, ticket: Ticket, target: State, note: str | None) -> Notice:
    return await agent_actions.change_state(call.session, ticket, call.actor, target, call.policy, note)


# -- assignment ------------------------------------------------------------------------------------------


@ticket_command("agents.usage.take")
async def take(call: AgentCall, ticket: Ticket) -> Notice:
    return await agent_actions.take(call.session, ticket, call.actor, call.policy)


@ticket_command("agents.usage.assign", AGENT_REF)
async def assign(call: AgentCall, ticket: Ticket, assignee: Actor) -> Notice:
    return await agent_actions.assign(call.session, ticket, call.actor, assignee, call.policy)


# -- talking to the customer -----------------------------------------------------------------------------


@ticket_command("agents.usage.reply", TEXT)
async def reply(call: AgentCall, ticket: Ticket, text: str) -> Notice:
    """`/reply N text`, or `/reply N #name`: a canned reply (CANNED_REPLIES_FILE). Remembered, so that
    editing the command sends the customer the correction."""
    replies = call.policy.canned_replies
    notice = await agent_canned.reply(call.session, ticket, call.actor, text, replies, call.policy)
    remember(call, ticket, corrections.REPLY, text)
    return notice


def remember(call: AgentCall, ticket: Ticket, kind: str, typed: str) -> None:
    """The agent's command message went to the customer (its edits are corrections)."""
    if call.message is not None:
        corrections.remember(call.session, call.message.chat_id, call.message.message_id, ticket, kind, typed)


@agent_command
async def canned(call: AgentCall) -> None:
    """`/canned`: the templates `/reply N #name` sends."""
    call.answer(agent_canned.listing(call.policy.canned_replies, call.lang))


@ticket_command("agents.usage.ask", TEXT)
async def ask(call: AgentCall, ticket: Ticket, question: str) -> Notice:
    notice = await agent_actions.ask(call.session, ticket, call.actor, Content(text=question), call.policy)
    remember(call, ticket, corrections.QUESTION, question)
    return notice


async def open_(ctx: HandlerContext, message: Message) -> None:
    """`/open CUSTOMER_ID text`: a ticket for a customer who has written to the bot, triaged like an
    intake description; the customer is told in their language."""
    call = await AgentCall.begin(ctx, message)
    raw = split_args(message, 2)
    if len(raw) < 2:
        call.answer(t(call.lang, "replies.open.usage"))
        return
    try:
        _ticket, notice = await on_behalf.open_for(ctx.session, raw[0], raw[1], call.actor, ctx.triage, ctx.policy)
    except Refusal as exc:
        call.answer(exc.text(call.lang))
        ctx.outcome = "refused"
        return
    call.answer(notice.text(call.lang))


# -- state -----------------------------------------------------------------------------------------------


@ticket_command("agents.usage.resolve", OPTIONAL_TEXT)
async def resolve(call: AgentCall, ticket: Ticket, report: str | None) -> Notice | None:
    """`/resolve N CAUSE what was done` (an incident's cause missing: the causes, as buttons)."""
    try:
        return await agent_actions.resolve(call.session, ticket, call.actor, report or "", call.policy)
    except CauseNeeded as needed:
        await ask_cause(call, ticket, needed)
        return None


@ticket_command("agents.usage.close")
async def close(call: AgentCall, ticket: Ticket) -> Notice:
    return await agent_actions.close(call.session, ticket, call.actor, call.policy)


@ticket_command("agents.usage.reopen", OPTIONAL_TEXT)
async def reopen(call: AgentCall, ticket: Ticket, note: str | None) -> Notice:
    return await agent_actions.reopen(call.session, ticket, call.actor, call.policy, note)


# -- triage corrections ----------------------------------------------------------------------------------


@ticket_command("agents.usage.retype", CATEGORY)
async def retype(call: AgentCall, ticket: Ticket, category: Category) -> Notice:
    return await agent_actions.retype(call.session, ticket, call.actor, category, call.policy)


@ticket_command("agents.usage.priority", PRIORITY)
async def priority(call: AgentCall, ticket: Ticket, level: Priority) -> Notice:
    return await agent_actions.set_priority(call.session, ticket, call.actor, level, call.policy)
