"""Customer messages about an existing ticket: answers to agents' questions, follow-ups, the ticket
chooser, edits, and the buttons under questions and resolutions (private chats only).

Each handler is the `helpdesk.customer_messages` call it stands for; what the customer is told comes back
from the domain and goes to the outbox here.
"""

from __future__ import annotations

from bot.handlers.context import HandlerContext
from bot.handlers.inputs import content_of
from bot.handlers.intake import start_with
from bot.handlers.replies import send, send_answers
from bot.handlers.update import ButtonPress, Message
from helpdesk import customer_messages, outbox, promise, survey
from helpdesk.callbacks import Callback
from helpdesk.clock import now_utc
from helpdesk.i18n import t


async def continue_ticket_conversation(ctx: HandlerContext, message: Message) -> bool:
    """True when the message belonged to an existing ticket (or the chooser was shown) and was handled."""
    customer = await ctx.customer()
    if await survey.take_comment(ctx.session, customer, message.text, ctx.policy):
        ctx.outcome = "rating_comment"
        return True  # the comment on a rating just given (helpdesk.survey thanks the customer)
    content = content_of(message)
    routed = await customer_messages.route(ctx.session, customer, content, ctx.policy, reply_to=message.reply_to)
    send_answers(ctx, routed.answers)
    if routed.handled:
        ctx.outcome = "ticket_message"
        closed = promise.closed_notice(customer, ctx.policy, await ctx.lang(), now_utc())
        if closed:  # out of working hours: when someone will read it (once per closed spell and day)
            ctx.reply(closed)
    return routed.handled


async def reply_about_ticket_during_intake(ctx: HandlerContext, message: Message) -> bool:
    """True when, with the intake form open, the message was a reply to a ticket's message and went there."""
    if message.reply_to is None:
        return False
    routed = await customer_messages.route_reply_during_intake(
        ctx.session, await ctx.customer(), content_of(message), ctx.policy, reply_to=message.reply_to
    )
    send_answers(ctx, routed.answers)
    if routed.handled:
        ctx.outcome = "ticket_message"
    return routed.handled


async def outdated(ctx: HandlerContext) -> None:
    ctx.answer_button(t(await ctx.lang(), "agents.conv.outdated"))
    ctx.outcome = "stale_button"


def drop_buttons(ctx: HandlerContext, press: ButtonPress) -> None:
    """The pressed message keeps its text and loses its buttons (they were answered)."""
    if press.chat_id is not None and press.message_id is not None:
        outbox.drop_buttons(ctx.session, press.chat_id, press.message_id)


async def for_ticket(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    """The chooser: which open ticket the last free message is for, or a new request."""
    choice = button.args[0] if len(button.args) == 1 else ""
    if not (choice == "new" or button.int_arg(0)):
        await outdated(ctx)
        return
    result = await customer_messages.choose(ctx.session, await ctx.customer(), choice, ctx.policy)
    if result.kind == "outdated":
        await outdated(ctx)
        return
    ctx.answer_button()
    drop_buttons(ctx, press)
    if result.kind == "new":
        send(ctx, (await start_with(ctx, result.content, result.more)).replies)
        return
    send_answers(ctx, result.answers)


async def answer_button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    """The Reply button under an agent's question: the next message is the answer."""
    reply = await customer_messages.start_answer(ctx.session, await ctx.customer(), button.int_arg(0), ctx.policy)
    if reply is None:
        await outdated(ctx)
        return
    ctx.answer_button()
    send_answers(ctx, [reply])


async def fixed(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    """ "Yes, it's fixed" / "Still a problem" under a resolution."""
    flag = button.args[1] if len(button.args) == 2 else ""
    if flag not in ("y", "n"):
        await outdated(ctx)
        return
    customer = await ctx.customer()
    reply = await customer_messages.confirm_fix(ctx.session, customer, button.int_arg(0), flag == "y", ctx.policy)
    if reply is None:
        await outdated(ctx)
        return
    ctx.answer_button()
    drop_buttons(ctx, press)
    send_answers(ctx, [reply])


async def edited(ctx: HandlerContext, message: Message) -> None:
    """An edit: relayed under the card when the message belongs to a ticket; otherwise a polite note."""
    text = message.text if message.text is not None else (message.caption or "")
    customer = await ctx.customer()
    reply = await customer_messages.relay_edit(
        ctx.session, customer, message.chat_id, message.message_id, text, ctx.policy
    )
    send_answers(ctx, [reply])
