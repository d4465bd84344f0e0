"""Telegram messages as transport-neutral dialog inputs."""

from __future__ import annotations

from typing import Any

from aiogram.types import Message

from dialogs.intake import InputKind, UserInput
from helpdesk.content import Content


def file_of(message: Message) -> dict[str, Any] | None:
    """The attachment a message carries (photo, document, video, audio, animation), as plain data."""
    base = {"chat_id": message.chat.id, "message_id": message.message_id, "caption": message.caption}
    if message.photo:
        largest = message.photo[-1]
        return {
            **base,
            "kind": "photo",
            "file_id": largest.file_id,
            "file_unique_id": largest.file_unique_id,
            "file_size": largest.file_size,
        }
    for kind in ("document", "video", "audio", "animation"):
        media = getattr(message, kind, None)
        if media is not None:
            return {
                **base,
                "kind": kind,
                "file_id": media.file_id,
                "file_unique_id": media.file_unique_id,
                "file_size": getattr(media, "file_size", None),
                "file_name": getattr(media, "file_name", None),
                "mime_type": getattr(media, "mime_type", None),
            }
    return None


def content_of(message: Message, *, keep_formatting: bool = False) -> Content:
    """What someone wrote on a ticket: text or file; with `keep_formatting`, also the text as Telegram HTML
    rendered from its entities (aiogram escapes the rest), so an agent's bold and links reach the customer."""
    formatted = None
    if keep_formatting and (message.entities or message.caption_entities):
        formatted = message.html_text
    return Content(
        text=message.text,
        file=file_of(message),
        chat_id=message.chat.id,
        message_id=message.message_id,
        html=formatted,
    )


def input_of(message: Message) -> UserInput:
    if message.text is not None:
        return UserInput(InputKind.TEXT, text=message.text)
    file = file_of(message)
    if file is not None:
        return UserInput(InputKind.FILE, file=file)
    if message.contact is not None and message.contact.phone_number:
        return UserInput(InputKind.CONTACT, phone=message.contact.phone_number)
    return UserInput(InputKind.UNSUPPORTED)


def is_command(message: Message) -> bool:
    return bool(message.text and message.text.startswith("/"))
