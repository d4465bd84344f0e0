"""Customers in a private chat: the start menu, help, language, their tickets and status, and every
message that is not a command (the next intake answer, a message about an open ticket, or a new request).
"""

from __future__ import annotations

from dataclasses import replace

from bot.handlers.context import HandlerContext
from bot.handlers.inputs import input_of
from bot.handlers.intake import intake, start_with
from bot.handlers.replies import menu, send, send_coalescing
from bot.handlers.ticket_messages import continue_ticket_conversation, reply_about_ticket_during_intake
from bot.handlers.update import ButtonPress, MemberChange, Message
from dialogs.intake import InputKind
from dialogs.intake_service import IntakeService, Reply, Result
from helpdesk import added_as_new, callbacks, customer_messages, outbox, people, tickets, views
from helpdesk.callbacks import Callback
from helpdesk.i18n import LANGUAGES, t
from helpdesk.numbering import leading_number
from helpdesk.people import customer_display_name

# -- commands ------------------------------------------------------------------------------------------


async def start(ctx: HandlerContext, message: Message) -> None:
    customer = await ctx.customer()
    lang = await ctx.lang()
    service = await intake(ctx)
    if await service.has_draft():  # like /new: the question again, said to be the unfinished request's
        send(ctx, (await service.start()).replies)
        return
    known = await tickets.customer_tickets(ctx.session, customer, ctx.policy)
    key = "start.welcome_back" if any(known) else "start.welcome"
    text = t(lang, key, name=customer_display_name(customer))
    if ctx.is_agent:  # an agent's first /start: where the work is, not only how to ask for help
        text += t(lang, "start.agent")
    ctx.reply(text, buttons=menu(lang))


async def help_(ctx: HandlerContext, message: Message | None = None) -> None:
    lang = await ctx.lang()
    text = t(lang, "help.customer")
    if ctx.is_agent:
        text += agent_help(lang)
    await reply_above_form(ctx, text)


async def staff_help(ctx: HandlerContext, message: Message) -> None:
    """/help in the staff chat: the agent commands (it was silent there, where agents look for them)."""
    ctx.reply(agent_help(await ctx.lang()).strip())


def agent_help(lang: str) -> str:
    return (
        t(lang, "help.agent")
        + t(lang, "self_help.agents.help")
        + t(lang, "replies.agents.help")
        + t(lang, "teams.help")
    )


async def lang(ctx: HandlerContext, message: Message) -> None:
    typed = (message.command.args if message.command else "").strip().casefold()
    wanted = next((code for code in LANGUAGES if typed[:2] == code or typed == t(code, "lang.name").casefold()), None)
    if wanted is not None:  # "ru", "russian", "Русский"
        await set_language(ctx, wanted)
        return
    current = await ctx.lang()
    ctx.reply(
        t(current, "lang.prompt"),
        buttons=[[(t(code, "lang.name"), callbacks.make(callbacks.LANG, code)) for code in LANGUAGES]],
    )


async def set_language(ctx: HandlerContext, lang: str) -> None:
    customer = await ctx.customer()
    customer.language = lang
    ctx.session.add(customer)
    ctx.set_lang(lang)
    result = await (await intake(ctx)).current()
    if result is None or not result.replies:
        ctx.reply(t(lang, "lang.changed"))
        return
    first, *rest = result.replies  # in the middle of the form: one message, the question in the new language
    send(ctx, [replace(first, text=f"{t(lang, 'lang.changed')}\n\n{first.text}"), *rest])


async def my(ctx: HandlerContext, message: Message | None = None) -> None:
    lang = await ctx.lang()
    open_, closed = await tickets.customer_tickets(ctx.session, await ctx.customer(), ctx.policy)
    if not open_ and not closed:  # nothing to list: "describe a problem or send /new", unless one is under way
        text, buttons = views.my_list(lang, open_, closed)
        await reply_above_form(ctx, text, t(lang, "status.my_empty_in_form"), buttons=buttons)
        return
    text, buttons = views.my_list(lang, open_, closed)
    ctx.reply(text, buttons=buttons)
    await remind_open_form(ctx)


async def status(ctx: HandlerContext, message: Message) -> None:
    """`/status NUMBER`: the customer's own ticket; anyone else's number reads exactly like an unknown one."""
    refusal = await answer_status(ctx, message)
    if refusal is not None:
        await reply_above_form(ctx, refusal)
        return
    await remind_open_form(ctx)


async def answer_status(ctx: HandlerContext, message: Message) -> str | None:
    """The ticket's status card; or, unsent, what to say instead (no number, none of theirs)."""
    lang = await ctx.lang()
    number = (message.command.args if message.command else "").strip()
    if not number:
        return t(lang, "status.usage")
    number = leading_number(number) or number  # "/status INC-000042 please": the number is what counts
    ticket = await tickets.status_for_customer(ctx.session, await ctx.customer(), number)
    if ticket is None:
        return views.status_not_found(lang, number)
    ctx.reply(
        await views.status_text(ctx.session, ticket, lang),
        buttons=views.status_button(ticket, lang, on_card=True),
        ticket_id=ticket.id,
        link_kind="to_customer",  # a reply to it is about this ticket
    )
    return None


async def reply_above_form(
    ctx: HandlerContext, text: str, in_form: str | None = None, *, buttons: outbox.Buttons | None = None
) -> None:
    """A side command's answer: in the middle of the form, one message, the answer (or `in_form`, what fits
    a customer filling in a request) above the form's question with its buttons; `buttons` are the answer's
    own when no form is open (the start menu's "New request" means nothing in the middle of one)."""
    reminder = await (await intake(ctx)).reminder()
    if not reminder:
        ctx.reply(text, buttons=buttons)
        return
    first, *rest = reminder
    send(ctx, [replace(first, text=f"{in_form or text}\n\n{first.text}"), *rest])


async def remind_open_form(ctx: HandlerContext) -> None:
    """After a side command answered in the middle of the intake form: the form's question again (with its
    buttons), or the customer is left with an answer and no idea how to go on."""
    send(ctx, await (await intake(ctx)).reminder())


def is_slash_text(message: Message) -> bool:
    return message.starts_with_slash


async def unknown_command(ctx: HandlerContext, message: Message) -> None:
    """An unknown command; with an intake open, the current question comes with the answer."""
    lang = await ctx.lang()
    unknown = t(lang, "errors.unknown_command")
    current = await (await intake(ctx)).current()
    if current is None:
        send(ctx, [Reply(unknown)])
    else:
        first, *rest = current.replies
        send(ctx, [Reply(unknown + "\n\n" + first.text, prompt=first.prompt, buttons=first.buttons), *rest])
    ctx.outcome = "unknown_command"


# -- free messages -------------------------------------------------------------------------------------


async def free_message(ctx: HandlerContext, message: Message) -> None:
    """Any message outside a command: the next intake answer (unless it is a reply to a ticket's message:
    that ticket's), a message about an open ticket, or the start of a new request."""
    service = await intake(ctx)
    if await service.has_draft() and await reply_about_ticket_during_intake(ctx, message):
        send(ctx, await service.reminder())  # the form waits where it was
        return
    result = await service.handle(input_of(message))
    if result is None:
        result = await route_free_message(ctx, message, service)
    if result is not None:
        await send_coalescing(ctx, result.replies)


async def route_free_message(ctx: HandlerContext, message: Message, service: IntakeService) -> Result | None:
    """No intake open: a message about an open ticket goes there; otherwise a text or a file starts an intake."""
    if await continue_ticket_conversation(ctx, message):
        return None
    sent = input_of(message)
    if sent.kind == InputKind.TEXT:
        return await service.start(description=sent.text)
    if sent.kind == InputKind.FILE:
        return await service.start(file=sent)
    lang = await ctx.lang()  # a voice note cannot be the description: the intake needs it in words
    if sent.kind == InputKind.SPOKEN:
        hint = t(lang, "hint.spoken_description") + "\n\n" + t(lang, "intake.ask_description")
    else:  # a sticker, a location…: no question is waiting, so say how to report a problem
        hint = t(lang, "hint.unsupported_first", button=t(lang, "button.new"))
    return Result([Reply(hint, buttons=menu(lang))])


# -- buttons -------------------------------------------------------------------------------------------


async def menu_button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    ctx.answer_button()
    action = button.args[0] if button.args else ""
    if action == "new":  # under "Added to INC-…": the message added there is the new request's description
        meant_new = added_as_new.take(await ctx.customer(), button.int_arg(1))
        if meant_new is not None:
            customer_messages.end_conversation(await ctx.customer())
        send(ctx, (await start_with(ctx, meant_new)).replies)
    elif action == "my":
        await my(ctx)
    else:
        await help_(ctx)


async def lang_button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    ctx.answer_button()
    wanted = button.args[0] if button.args else ""
    if wanted in LANGUAGES:
        if press.chat_id is not None and press.message_id is not None:  # the chooser was answered
            outbox.drop_buttons(ctx.session, press.chat_id, press.message_id)
        await set_language(ctx, wanted)


async def status_button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    lang = await ctx.lang()
    ticket_id = button.int_arg(0)
    customer = await ctx.customer()
    ticket = await tickets.ticket_for_customer(ctx.session, customer, ticket_id) if ticket_id else None
    if ticket is None:  # forged, or not hers: there is no number to name ("number ?" read as a code)
        ctx.answer_button(t(lang, "agents.conv.outdated"))
        return
    text, buttons = await views.status_text(ctx.session, ticket, lang), views.status_button(ticket, lang, on_card=True)
    if button.args[1:] == ("r",) and press.chat_id is not None and press.message_id is not None:
        ctx.answer_button(t(lang, "status.refreshed"))  # under the card itself: that card, brought up to date
        outbox.edit_text(ctx.session, press.chat_id, press.message_id, text, buttons=buttons, ticket_id=ticket.id)
        return
    ctx.answer_button()
    ctx.reply(text, buttons=buttons, ticket_id=ticket.id, link_kind="to_customer")  # a reply to it: this ticket
    await remind_open_form(ctx)


# -- blocking and unblocking ---------------------------------------------------------------------------


async def blocked_or_unblocked(ctx: HandlerContext, member: MemberChange) -> None:
    """Telegram tells us when a customer blocks the bot: stop queueing for them until they come back."""
    await people.set_reachable(ctx.session, member.chat_id, reachable=member.status not in ("kicked", "left"))
    ctx.outcome = f"chat_member:{member.status}"
