"""Customer messages about an existing ticket: answers to agents' questions, follow-ups, the ticket
chooser, edits, and the buttons under questions and resolutions (private chats only).

Handlers only translate: Telegram in → helpdesk.customer_messages call → replies out (via the outbox).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.context import HandlerContext
from bot.inputs import content_of
from helpdesk import callbacks, customer_messages, survey
from helpdesk.customer_messages import Answer
from helpdesk.i18n import t

router = Router(name="conversation")
router.callback_query.filter(F.message.chat.type == "private")
router.edited_message.filter(F.chat.type == "private")


def send(ctx: HandlerContext, answers: list[Answer]) -> None:
    for item in answers:
        ctx.reply(
            item.text,
            buttons=item.buttons,
            reply_markup=item.reply_markup,
            ticket_id=item.ticket_id,
            link_kind="to_customer" if item.ticket_id else None,
        )


async def continue_ticket_conversation(ctx: HandlerContext, message: Message) -> bool:
    """True when the message belonged to an existing ticket (or the chooser was shown) and was handled."""
    if not ctx.is_private or ctx.person is None:
        return False
    customer = await ctx.customer()
    if await survey.take_comment(ctx.session, customer, message.text, ctx.policy):
        ctx.outcome = "rating_comment"
        return True  # the comment on a rating just given (helpdesk.survey thanks the customer)
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    routed = await customer_messages.route(ctx.session, customer, content_of(message), ctx.policy, reply_to=reply_to)
    send(ctx, routed.answers)
    if routed.handled:
        ctx.outcome = "ticket_message"
    return routed.handled


async def outdated(ctx: HandlerContext, query: CallbackQuery) -> None:
    ctx.answer_callback(query.id, t(await ctx.lang(), "agents.conv.outdated"))
    ctx.outcome = "stale_button"


@router.callback_query(F.data.startswith(callbacks.FOR_TICKET + ":"))
async def on_for_ticket(query: CallbackQuery, ctx: HandlerContext) -> None:
    """The chooser: which open ticket the last free message is for, or a new request."""
    parsed = callbacks.parse(query.data)
    choice = parsed.args[0] if parsed and len(parsed.args) == 1 else ""
    if not (choice == "new" or (parsed and parsed.int_arg(0))):
        await outdated(ctx, query)
        return
    result = await customer_messages.choose(ctx.session, await ctx.customer(), choice, ctx.policy)
    if result.kind == "outdated":
        await outdated(ctx, query)
        return
    ctx.answer_callback(query.id)
    if query.message is not None:
        customer_messages.drop_buttons(ctx.session, query.message.chat.id, query.message.message_id)
    if result.kind == "new":
        from bot.routers import customer as customer_router  # it imports this module lazily too

        service = await customer_router.intake(ctx)
        kept = result.content
        if kept is not None and kept.text:
            started = await service.start(description=kept.text)
        elif kept is not None and kept.file:
            started = await service.start(first_file=kept.file)
        else:
            started = await service.start()
        customer_router.send(ctx, started.replies)
        return
    send(ctx, result.answers)


@router.callback_query(F.data.startswith(callbacks.ANSWER + ":"))
async def on_answer_button(query: CallbackQuery, ctx: HandlerContext) -> None:
    """The Reply button under an agent's question: the next message is the answer."""
    parsed = callbacks.parse(query.data)
    reply = await customer_messages.start_answer(
        ctx.session, await ctx.customer(), parsed.int_arg(0) if parsed else None, ctx.policy
    )
    if reply is None:
        await outdated(ctx, query)
        return
    ctx.answer_callback(query.id)
    send(ctx, [reply])


@router.callback_query(F.data.startswith(callbacks.FIXED + ":"))
async def on_fixed(query: CallbackQuery, ctx: HandlerContext) -> None:
    """ "Yes, it's fixed" / "Still a problem" under a resolution."""
    parsed = callbacks.parse(query.data)
    flag = parsed.args[1] if parsed and len(parsed.args) == 2 else ""
    if flag not in ("y", "n"):
        await outdated(ctx, query)
        return
    reply = await customer_messages.confirm_fix(
        ctx.session, await ctx.customer(), parsed.int_arg(0) if parsed else None, flag == "y", ctx.policy
    )
    if reply is None:
        await outdated(ctx, query)
        return
    ctx.answer_callback(query.id)
    if query.message is not None:
        customer_messages.drop_buttons(ctx.session, query.message.chat.id, query.message.message_id)
    send(ctx, [reply])


@router.edited_message()
async def on_edited(message: Message, ctx: HandlerContext) -> None:
    """An edit: relayed under the card when the message belongs to a ticket; otherwise a polite note."""
    if ctx.person is None:
        return
    text = message.text if message.text is not None else (message.caption or "")
    reply = await customer_messages.relay_edit(
        ctx.session, await ctx.customer(), message.chat.id, message.message_id, text, ctx.policy
    )
    send(ctx, [reply])
