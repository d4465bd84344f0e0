"""Agent commands, in a private chat with the bot and in the staff chat.

Only agents match here (AGENT_IDS, checked on every update by `ctx.is_agent`; anonymous admins never
qualify). To anyone else these commands fall through: in a private chat to the customer router (the
unknown-command reply, or the customer's own /status), in a group to silence.

Handlers only translate: Telegram in → helpdesk.agent_actions call → replies out (via the outbox).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot import arguments
from bot.context import HandlerContext
from helpdesk import agent_actions, agent_views, callbacks, cards, outbox, people, stats, tickets
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.content import Content
from helpdesk.i18n import pick_language, t
from helpdesk.people import Actor
from helpdesk.report_period import PeriodError
from storage import repos
from storage.models import Ticket

router = Router(name="agent")


async def agent_here(message: Message, ctx: HandlerContext) -> bool:
    """An agent, in a private chat with the bot or in the staff chat."""
    return ctx.is_agent and (ctx.is_private or ctx.in_staff_chat)


router.message.filter(agent_here)


# -- helpers shared with the staff router ----------------------------------------------------------------


async def begin(ctx: HandlerContext) -> tuple[Actor, str]:
    """Who acts (remembered in the agents table, for /assign @username) and the language to answer in."""
    person = ctx.person
    if person is None:  # pragma: no cover - the filters only let agents through
        raise RuntimeError("no agent")
    await people.remember_agent(ctx.session, person)
    return Actor(person.user_id, person.display_name, person.username), await agent_lang(ctx)


async def agent_lang(ctx: HandlerContext) -> str:
    """The agent's own language in a private chat; the desk's language in the staff chat."""
    if not ctx.is_private or ctx.person is None:
        return ctx.policy.default_language
    customer = await repos.customer_by_telegram_id(ctx.session, ctx.person.user_id)
    return pick_language(
        customer.language if customer else None,
        customer.telegram_language if customer else None,
        ctx.person.language_code,
        default=ctx.policy.default_language,
    )


def thread_of(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def answer(ctx: HandlerContext, message: Message, text: str, *, buttons: outbox.Buttons | None = None) -> None:
    """Answer the agent where they wrote (in a group: as a reply, in the same forum topic)."""
    ctx.reply(
        text,
        buttons=buttons,
        reply_to_message_id=None if ctx.is_private else message.message_id,
        thread_id=thread_of(message),
    )


def split_args(command: CommandObject, parts: int) -> list[str]:
    """`N rest of the text` → [N, rest]; fewer items when something is missing."""
    args = (command.args or "").strip()
    return args.split(maxsplit=parts - 1) if args else []


Operation = Callable[[Ticket], Awaitable[Notice]]


async def on_ticket(ctx: HandlerContext, message: Message, number: str, lang: str, operation: Operation) -> None:
    """Find the ticket, run the operation, tell the agent the outcome or the reason it was refused."""
    ticket = await tickets.find_by_number(ctx.session, number, lock=True)
    if ticket is None:
        answer(ctx, message, t(lang, "agents.error.not_found", number=number[:40]))
        ctx.outcome = "not_found"
        return
    try:
        notice = await operation(ticket)
    except Refusal as exc:
        answer(ctx, message, exc.text(lang))
        ctx.outcome = "refused"
        return
    answer(ctx, message, notice.text(lang))


async def send_details(ctx: HandlerContext, ticket: Ticket, lang: str, *, message: Message | None = None) -> None:
    """The full card with history, then copies of the attachments: under the card (the Details button in
    the staff chat) or where the agent asked (/ticket N, the queue in a private chat)."""
    text, _count = await agent_views.details(ctx.session, ticket, lang)
    under_card = message is None and ctx.in_staff_chat
    thread_id = thread_of(message) if message is not None else None
    if under_card:
        outbox.send_text(ctx.session, ctx.chat_id, text, ticket_id=ticket.id, link_kind="relay", reply_to_card=True)
    else:
        reply_to = message.message_id if message is not None and not ctx.is_private else None
        ctx.reply(text, reply_to_message_id=reply_to, thread_id=thread_id)
    files = await repos.attachments_of(ctx.session, ticket.id)
    for index, file in enumerate(files, start=1):
        caption = t(lang, "agents.view.attachment_caption", number=ticket.number, index=index, total=len(files))
        if file.caption:
            caption += "\n" + t(lang, "agents.view.file_caption", caption=file.caption[:800])
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


# -- views -----------------------------------------------------------------------------------------------


@router.message(Command("queue"))
async def on_queue(message: Message, ctx: HandlerContext) -> None:
    _actor, lang = await begin(ctx)
    text, buttons = await agent_views.queue(ctx.session, lang)
    answer(ctx, message, text, buttons=buttons or None)


@router.message(Command("ticket"))
async def on_ticket_view(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    _actor, lang = await begin(ctx)
    args = split_args(command, 1)
    if not args:
        answer(ctx, message, t(lang, "agents.usage.ticket"))
        return
    ticket = await tickets.find_by_number(ctx.session, args[0], lock=True)
    if ticket is None:
        answer(ctx, message, t(lang, "agents.error.not_found", number=args[0][:40]))
        return
    await send_details(ctx, ticket, lang, message=message)


@router.message(Command("stats"))
async def on_stats(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    _actor, lang = await begin(ctx)
    try:
        report = await stats.compute(ctx.session, period=command.args, zone=ctx.policy.calendar.tz)
    except PeriodError:
        answer(ctx, message, t(lang, "reports.usage"))
        return
    answer(ctx, message, stats.render_empty(report, lang) if report.empty else stats.render(report, lang))


# -- assignment ------------------------------------------------------------------------------------------


@router.message(Command("take"))
async def on_take(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 1)
    if not args:
        answer(ctx, message, t(lang, "agents.usage.take"))
        return
    await on_ticket(
        ctx, message, args[0], lang, lambda ticket: agent_actions.take(ctx.session, ticket, actor, ctx.policy)
    )


@router.message(Command("assign"))
async def on_assign(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 2)
    if len(args) < 2:
        answer(ctx, message, t(lang, "agents.usage.assign"))
        return
    assignee = await people.find_agent(ctx.session, ctx.policy, args[1].split()[0])
    if assignee is None:
        answer(ctx, message, t(lang, "agents.error.unknown_agent", agent=args[1][:40]))
        return
    await on_ticket(
        ctx,
        message,
        args[0],
        lang,
        lambda ticket: agent_actions.assign(ctx.session, ticket, actor, assignee, ctx.policy),
    )


# -- talking to the customer -----------------------------------------------------------------------------


@router.message(Command("reply"))
async def on_reply(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 2)
    if len(args) < 2:
        answer(ctx, message, t(lang, "agents.usage.reply"))
        return
    content = Content(text=args[1])
    await on_ticket(
        ctx, message, args[0], lang, lambda ticket: agent_actions.reply(ctx.session, ticket, actor, content, ctx.policy)
    )


@router.message(Command("ask"))
async def on_ask(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 2)
    if len(args) < 2:
        answer(ctx, message, t(lang, "agents.usage.ask"))
        return
    content = Content(text=args[1])
    await on_ticket(
        ctx, message, args[0], lang, lambda ticket: agent_actions.ask(ctx.session, ticket, actor, content, ctx.policy)
    )


# -- state -----------------------------------------------------------------------------------------------


@router.message(Command("status"))
async def on_status(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    """`/status N` shows any ticket to an agent; `/status N STATE [note]` changes its state."""
    actor, lang = await begin(ctx)
    args = split_args(command, 3)
    if not args:
        answer(ctx, message, t(lang, "agents.usage.status"))
        return
    if len(args) == 1:
        ticket = await tickets.find_by_number(ctx.session, args[0], lock=True)
        if ticket is None:
            answer(ctx, message, t(lang, "agents.error.not_found", number=args[0][:40]))
            return
        customer = await repos.customer_by_id(ctx.session, ticket.customer_id)
        text = (
            cards.card_text(ticket, customer, lang) if customer else t(lang, "agents.view.orphan", number=ticket.number)
        )
        buttons = cards.card_buttons(ticket, lang)
        if not ctx.in_staff_chat:  # Ask and Resolve prompt in the staff chat; here /ask and /resolve do it
            staff_only = {callbacks.make(callbacks.AGENT, action, ticket.id) for action in ("ask", "res")}
            buttons = [kept for row in buttons if (kept := [b for b in row if b[1] not in staff_only])]
        answer(ctx, message, text, buttons=buttons)
        return
    target = arguments.parse_state(args[1])
    if target is None:
        answer(ctx, message, t(lang, "agents.error.bad_state", state=args[1][:40]))
        return
    note = args[2] if len(args) > 2 else None
    await on_ticket(
        ctx,
        message,
        args[0],
        lang,
        lambda ticket: agent_actions.change_state(ctx.session, ticket, actor, target, ctx.policy, note),
    )


@router.message(Command("resolve"))
async def on_resolve(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 2)
    if not args:
        answer(ctx, message, t(lang, "agents.usage.resolve"))
        return
    report = args[1] if len(args) > 1 else ""
    await on_ticket(
        ctx,
        message,
        args[0],
        lang,
        lambda ticket: agent_actions.resolve(ctx.session, ticket, actor, report, ctx.policy),
    )


@router.message(Command("close"))
async def on_close(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 1)
    if not args:
        answer(ctx, message, t(lang, "agents.usage.close"))
        return
    await on_ticket(
        ctx, message, args[0], lang, lambda ticket: agent_actions.close(ctx.session, ticket, actor, ctx.policy)
    )


@router.message(Command("reopen"))
async def on_reopen(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 2)
    if not args:
        answer(ctx, message, t(lang, "agents.usage.reopen"))
        return
    note = args[1] if len(args) > 1 else None
    await on_ticket(
        ctx, message, args[0], lang, lambda ticket: agent_actions.reopen(ctx.session, ticket, actor, ctx.policy, note)
    )


# -- triage corrections ----------------------------------------------------------------------------------


@router.message(Command("retype"))
async def on_retype(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 2)
    if len(args) < 2:
        answer(ctx, message, t(lang, "agents.usage.retype"))
        return
    category = arguments.parse_category(args[1])
    if category is None:
        answer(ctx, message, t(lang, "agents.error.bad_category", category=args[1][:40]))
        return
    await on_ticket(
        ctx,
        message,
        args[0],
        lang,
        lambda ticket: agent_actions.retype(ctx.session, ticket, actor, category, ctx.policy),
    )


@router.message(Command("priority"))
async def on_priority(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    actor, lang = await begin(ctx)
    args = split_args(command, 2)
    if len(args) < 2:
        answer(ctx, message, t(lang, "agents.usage.priority"))
        return
    priority = arguments.parse_priority(args[1])
    if priority is None:
        answer(ctx, message, t(lang, "agents.error.bad_priority"))
        return
    await on_ticket(
        ctx,
        message,
        args[0],
        lang,
        lambda ticket: agent_actions.set_priority(ctx.session, ticket, actor, priority, ctx.policy),
    )
