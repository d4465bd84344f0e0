"""A message as the dialogs and the domain take it: a dialog input, or a ticket message's content."""

from __future__ import annotations

from bot.handlers.entities import entities_html
from bot.handlers.update import Message
from dialogs.intake import InputKind, UserInput
from helpdesk.content import Content


def content_of(message: Message, *, keep_formatting: bool = False) -> Content:
    """What someone wrote on a ticket: text or file; with `keep_formatting`, also the text as Telegram HTML
    rendered from its entities (the rest escaped), so an agent's bold and links reach the customer."""
    formatted = None
    words = message.words
    if keep_formatting and message.entities and words is not None:
        formatted = entities_html(words, message.entities)
    return Content(
        text=message.text,
        file=message.file,
        chat_id=message.chat_id,
        message_id=message.message_id,
        html=formatted,
        album=message.media_group_id,
    )


def input_of(message: Message) -> UserInput:
    """The message as the intake takes it (a file with the album it came in, see `UserInput.of_file`)."""
    if message.text is not None:
        return UserInput(InputKind.TEXT, text=message.text)
    if message.file is not None:
        return UserInput.of_file(message.file, album=message.media_group_id)
    if message.contact is not None:
        contact = message.contact
        return UserInput(InputKind.CONTACT, phone=contact.phone, contact_name=contact.name, own_contact=contact.own)
    return UserInput(InputKind.UNSUPPORTED)
