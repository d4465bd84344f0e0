"""Customers in a private chat: the intake, status, the ticket list, language, help.

Handlers only translate: Telegram in → dialogs/helpdesk call → replies out (via the outbox).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message

from bot.context import HandlerContext
from bot.inputs import file_of, input_of
from bot.render import prompt_markup
from bot.routers import conversation
from dialogs.intake import UserInput
from dialogs.intake_service import IntakeService, Reply, Result
from helpdesk import callbacks, outbox, people, tickets, views
from helpdesk.i18n import LANGUAGES, t
from helpdesk.people import customer_display_name

router = Router(name="customer")
router.message.filter(F.chat.type == "private")


def send(ctx: HandlerContext, replies: list[Reply]) -> None:
    for reply in replies:
        buttons, markup = (None, None)
        if reply.prompt is not None:
            buttons, markup = prompt_markup(reply.prompt)
        elif reply.buttons:
            buttons = reply.buttons
        if markup is None and not buttons and reply.remove_keyboard:
            markup = {"remove_keyboard": True}
        ctx.reply(reply.text, buttons=buttons, reply_markup=markup)


async def send_coalescing(ctx: HandlerContext, replies: list[Reply]) -> None:
    """Like send(), but a reply marked `coalesce` rewrites its unsent predecessor (photo albums)."""
    for reply in replies:
        if reply.coalesce and ctx.chat_id is not None and reply.prompt is not None:
            buttons, _markup = prompt_markup(reply.prompt)
            await outbox.send_or_update_pending(
                ctx.session, ctx.chat_id, reply.text, key=reply.coalesce, buttons=buttons
            )
        else:
            send(ctx, [reply])


async def intake(ctx: HandlerContext) -> IntakeService:
    return IntakeService(ctx.session, await ctx.customer(), await ctx.lang(), ctx.triage, ctx.policy)


def menu(lang: str) -> list[list[tuple[str, str]]]:
    return [
        [(t(lang, "button.new"), callbacks.make(callbacks.MENU, "new"))],
        [
            (t(lang, "button.my"), callbacks.make(callbacks.MENU, "my")),
            (t(lang, "button.help"), callbacks.make(callbacks.MENU, "help")),
        ],
    ]


# -- commands ------------------------------------------------------------------------------------------


@router.message(CommandStart())
async def on_start(message: Message, ctx: HandlerContext) -> None:
    customer = await ctx.customer()
    lang = await ctx.lang()
    service = await intake(ctx)
    if await service.has_draft():
        result = await service.current()
        send(ctx, result.replies if result else [])
        return
    known = await tickets.customer_tickets(ctx.session, customer, ctx.policy)
    key = "start.welcome_back" if any(known) else "start.welcome"
    ctx.reply(t(lang, key, name=customer_display_name(customer)), buttons=menu(lang))


@router.message(Command("help"))
async def on_help(message: Message, ctx: HandlerContext) -> None:
    await show_help(ctx)


async def show_help(ctx: HandlerContext) -> None:
    lang = await ctx.lang()
    text = t(lang, "help.customer")
    if ctx.is_agent:
        text += t(lang, "help.agent")
    ctx.reply(text)


@router.message(Command("lang"))
async def on_lang(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    wanted = (command.args or "").strip().lower()[:2]
    if wanted in LANGUAGES:
        await set_language(ctx, wanted)
        return
    lang = await ctx.lang()
    ctx.reply(
        t(lang, "lang.prompt"),
        buttons=[[(t(code, "lang.name"), callbacks.make(callbacks.LANG, code)) for code in LANGUAGES]],
    )


async def set_language(ctx: HandlerContext, lang: str) -> None:
    customer = await ctx.customer()
    customer.language = lang
    ctx.session.add(customer)
    ctx.set_lang(lang)
    ctx.reply(t(lang, "lang.changed"))
    service = await intake(ctx)
    result = await service.current()
    if result is not None:
        send(ctx, result.replies)


@router.message(Command("new"))
async def on_new(message: Message, ctx: HandlerContext) -> None:
    send(ctx, (await (await intake(ctx)).start()).replies)


@router.message(Command("cancel"))
async def on_cancel(message: Message, ctx: HandlerContext) -> None:
    send(ctx, (await (await intake(ctx)).cancel()).replies)


@router.message(Command("my"))
async def on_my(message: Message, ctx: HandlerContext) -> None:
    await show_my(ctx)


async def show_my(ctx: HandlerContext) -> None:
    lang = await ctx.lang()
    open_, closed = await tickets.customer_tickets(ctx.session, await ctx.customer(), ctx.policy)
    text, buttons = views.my_list(lang, open_, closed)
    ctx.reply(text, buttons=buttons)


@router.message(Command("status"))
async def on_status(message: Message, command: CommandObject, ctx: HandlerContext) -> None:
    lang = await ctx.lang()
    number = (command.args or "").strip()
    if not number:
        ctx.reply(t(lang, "status.usage"))
        return
    ticket = await tickets.find_for_customer(ctx.session, await ctx.customer(), number)
    if ticket is None:
        ctx.reply(t(lang, "status.not_found", number=number[:40]))
        return
    ctx.reply(await views.status_text(ctx.session, ticket, lang), buttons=views.status_button(ticket, lang))


@router.message(F.text.startswith("/"))
async def on_unknown_command(message: Message, ctx: HandlerContext) -> None:
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


@router.message()
async def on_message(message: Message, ctx: HandlerContext) -> None:
    """Any message outside a command: the next intake answer, or the start of a new request."""
    service = await intake(ctx)
    result = await service.handle(input_of(message))
    if result is None:
        result = await route_free_message(ctx, message, service)
    if result is not None:
        await send_coalescing(ctx, result.replies)


async def route_free_message(ctx: HandlerContext, message: Message, service: IntakeService) -> Result | None:
    """No intake open: a message about an open ticket goes there; otherwise a text or a file starts an intake."""
    if await conversation.continue_ticket_conversation(ctx, message):
        return None
    if message.text is not None:
        return await service.start(description=message.text)
    file = file_of(message)
    if file is not None:
        return await service.start(first_file=file)
    lang = await ctx.lang()
    hint = t(lang, "hint.unsupported") + "\n\n" + t(lang, "intake.ask_description")
    return Result([Reply(hint, buttons=menu(lang))])


# -- buttons -------------------------------------------------------------------------------------------


@router.callback_query(F.data.startswith(callbacks.INTAKE + ":"))
async def on_intake_button(query: CallbackQuery, ctx: HandlerContext) -> None:
    parsed = callbacks.parse(query.data)
    lang = await ctx.lang()
    if parsed is None or len(parsed.args) != 2:
        ctx.answer_callback(query.id, t(lang, "hint.stale_button"))
        return
    token, value = parsed.args
    service = await intake(ctx)
    result = await service.handle(UserInput.of_choice(value, token))
    if result is None:  # the form was finished or cancelled: this button is from an old message
        ctx.answer_callback(query.id, t(lang, "hint.stale_button"))
        return
    ctx.answer_callback(query.id, t(lang, "hint.stale_button") if result.stale else None)
    send(ctx, result.replies)


@router.callback_query(F.data.startswith(callbacks.MENU + ":"))
async def on_menu(query: CallbackQuery, ctx: HandlerContext) -> None:
    ctx.answer_callback(query.id)
    action = (query.data or "").split(":", 1)[1]
    if action == "new":
        send(ctx, (await (await intake(ctx)).start()).replies)
    elif action == "my":
        await show_my(ctx)
    else:
        await show_help(ctx)


@router.callback_query(F.data.startswith(callbacks.LANG + ":"))
async def on_lang_button(query: CallbackQuery, ctx: HandlerContext) -> None:
    ctx.answer_callback(query.id)
    wanted = (query.data or "").split(":", 1)[1]
    if wanted in LANGUAGES:
        await set_language(ctx, wanted)


@router.callback_query(F.data.startswith(callbacks.STATUS + ":"))
async def on_status_button(query: CallbackQuery, ctx: HandlerContext) -> None:
    lang = await ctx.lang()
    parsed = callbacks.parse(query.data)
    ticket_id = parsed.int_arg(0) if parsed else None
    customer = await ctx.customer()
    ticket = await tickets.ticket_for_customer(ctx.session, customer, ticket_id) if ticket_id else None
    if ticket is None:
        ctx.answer_callback(query.id, t(lang, "status.not_found", number="?"), alert=True)
        return
    ctx.answer_callback(query.id)
    ctx.reply(await views.status_text(ctx.session, ticket, lang), buttons=views.status_button(ticket, lang))


# -- blocking and unblocking ---------------------------------------------------------------------------


@router.my_chat_member(F.chat.type == "private")
async def on_blocked_or_unblocked(event: ChatMemberUpdated, ctx: HandlerContext) -> None:
    """Telegram tells us when a customer blocks the bot: stop queueing for them until they come back."""
    status = event.new_chat_member.status
    await people.set_reachable(ctx.session, event.chat.id, reachable=status not in ("kicked", "left"))
    ctx.outcome = f"chat_member:{status}"
