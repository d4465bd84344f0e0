"""Putting the desk's answers in the outbox for the chat the update came from.

Dialog replies (`dialogs.intake_service.Reply`: prompts become inline buttons, the phone request a reply
keyboard), a ticket conversation's answers (`helpdesk.customer_messages.Answer`, linked to their ticket), and
agents' answers (in a group: as a reply to the agent's message, in the same forum topic).
"""

from __future__ import annotations

from typing import Any

from bot.handlers.context import HandlerContext
from bot.handlers.update import Message
from dialogs.intake import Prompt
from dialogs.intake_service import Reply
from helpdesk import callbacks, outbox
from helpdesk.customer_messages import Answer
from helpdesk.i18n import t
from helpdesk.outbox import Buttons


def prompt_markup(prompt: Prompt) -> tuple[Buttons | None, dict[str, Any] | None]:
    if prompt.share_phone_label:
        keyboard = [[{"text": prompt.share_phone_label, "request_contact": True}]]
        keyboard.append([{"text": label} for label in prompt.reply_labels])
        return None, {"keyboard": keyboard, "resize_keyboard": True, "one_time_keyboard": True}
    buttons = [
        [(choice.label, callbacks.make(callbacks.INTAKE, prompt.token, choice.value)) for choice in row]
        for row in prompt.choices
    ]
    return (buttons or None), None


def send(ctx: HandlerContext, replies: list[Reply]) -> None:
    for reply in replies:
        buttons, markup = (None, None)
        if reply.prompt is not None:
            buttons, markup = prompt_markup(reply.prompt)
        elif reply.buttons:
            buttons = reply.buttons
        if markup is None and not buttons and reply.remove_keyboard:
            markup = {"remove_keyboard": True}
        link = "to_customer" if reply.ticket_id else None
        ctx.reply(reply.text, buttons=buttons, reply_markup=markup, ticket_id=reply.ticket_id, link_kind=link)


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


def send_answers(ctx: HandlerContext, answers: list[Answer]) -> None:
    """A ticket conversation's answers to the customer, each linked to its ticket."""
    for item in answers:
        ctx.reply(
            item.text,
            buttons=item.buttons,
            reply_markup=item.reply_markup,
            ticket_id=item.ticket_id,
            link_kind="to_customer" if item.ticket_id else None,
        )


def menu(lang: str) -> Buttons:
    """The start menu: a new request, my tickets, help."""
    return [
        [(t(lang, "button.new"), callbacks.make(callbacks.MENU, "new"))],
        [
            (t(lang, "button.my"), callbacks.make(callbacks.MENU, "my")),
            (t(lang, "button.help"), callbacks.make(callbacks.MENU, "help")),
        ],
    ]


def answer_agent(ctx: HandlerContext, message: Message, text: str, *, buttons: Buttons | None = None) -> None:
    """Answer an agent where they wrote (in a group: as a reply, in the same forum topic)."""
    ctx.reply(
        text,
        buttons=buttons,
        reply_to_message_id=None if ctx.is_private else message.message_id,
        thread_id=message.thread_id,
    )
