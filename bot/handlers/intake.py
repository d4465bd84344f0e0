"""The intake form in a private chat: starting it, its buttons, /new and /cancel (the form itself is
`dialogs/`: steps, prompts, validation; this module only feeds it and sends what it answers)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.handlers.context import HandlerContext
from bot.handlers.replies import send
from bot.handlers.update import ButtonPress, Message
from bot.intake_offers import offer_providers
from dialogs.intake import UserInput
from dialogs.intake_service import IntakeService, Result
from helpdesk.callbacks import Callback
from helpdesk.content import Content
from helpdesk.i18n import t


async def intake(ctx: HandlerContext) -> IntakeService:
    customer, lang = await ctx.customer(), await ctx.lang()
    offers = offer_providers(ctx.policy, ctx.triage)
    return IntakeService(ctx.session, customer, lang, ctx.triage, ctx.policy, offers=offers)


async def start_with(ctx: HandlerContext, content: Content | None, more: Sequence[Content] = ()) -> Result:
    """A new intake whose description (or first attachment) is what the customer already wrote; `more`:
    the later parts of its album, which the draft keeps with it (answered with the first)."""
    service = await intake(ctx)
    if content is not None and content.text:
        return await service.start(description=content.text)
    if content is None or not content.file:
        return await service.start()
    result = await service.start(file=UserInput.of_file(content.file, album=content.album))
    for part in more:
        if part.file:
            later = await service.handle(UserInput.of_file(part.file, album=part.album))
            result.replies.extend(later.replies if later is not None else [])
    return result


async def new(ctx: HandlerContext, message: Message) -> None:
    """`/new`, or `/new the printer is jammed`: the words after it are the first answer, not asked again
    (also when an open form still waits for its description; an open form further on goes on as it was)."""
    words = (message.command.args if message.command else "").strip()
    send(ctx, (await (await intake(ctx)).start(description=words or None)).replies)


async def cancel(ctx: HandlerContext, message: Message) -> None:
    send(ctx, (await (await intake(ctx)).cancel()).replies)


async def button(ctx: HandlerContext, press: ButtonPress, button: Callback) -> None:
    """An answer chosen with a button (`i:<token>:<value>`); the token tells an old question's buttons apart."""
    lang = await ctx.lang()
    if len(button.args) != 2:
        ctx.answer_button(t(lang, "agents.conv.outdated"))
        return
    token, value = button.args
    result = await (await intake(ctx)).handle(UserInput.of_choice(value, token))
    if result is None:  # the form was finished or cancelled: this button is from an old message
        ctx.answer_button(t(lang, "agents.conv.outdated"))
        ctx.outcome = "stale_button"
        return
    ctx.answer_button(t(lang, "hint.stale_button") if result.stale else None)
    send(ctx, result.replies)
