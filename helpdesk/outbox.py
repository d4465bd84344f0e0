"""Messages for other people, as Bot API calls queued in the caller's transaction (the outbox).

Handlers and domain operations call these to message anyone but the sender of the update being
handled (the customer when an agent acts, the staff chat when a customer writes). Each builds the Bot
API parameters (Telegram HTML, inline keyboards) and queues one row through `storage.outbox_rows`; delivery
(`scheduler/delivery/`) sends it after the commit. What the domain needs back (the card's message id,
links for replies) is named by `link_kind`, so delivery needs no knowledge of the domain.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox_files
from storage import outbox_rows as rows
from storage.outbox_rows import OutboxRow

Buttons = list[list[tuple[str, str]]]  # rows of (label, callback data)


def inline_keyboard(buttons: Buttons) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row] for row in buttons]}


def _queue(session: AsyncSession, chat_id: int, method: str, payload: dict[str, Any], **columns: Any) -> OutboxRow:
    return rows.enqueue(session, rows.new_row(chat_id=chat_id, method=method, payload=payload, **columns))


def send_text(
    session: AsyncSession,
    chat_id: int,
    text: str,
    *,
    buttons: Buttons | None = None,
    reply_markup: dict[str, Any] | None = None,
    reply_to_message_id: int | None = None,
    thread_id: int | None = None,
    ticket_id: int | None = None,
    link_kind: str | None = None,
    reply_to_card: bool = False,
    dedupe_key: str | None = None,
) -> OutboxRow:
    """Queue an HTML message (user values must already be escaped: see helpdesk.i18n.t)."""
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if buttons:
        payload["reply_markup"] = inline_keyboard(buttons)
    elif reply_markup is not None:
        payload["reply_markup"] = reply_markup
    if reply_to_message_id:
        payload["reply_parameters"] = {"message_id": reply_to_message_id, "allow_sending_without_reply": True}
    if thread_id:
        payload["message_thread_id"] = thread_id
    return _queue(
        session,
        chat_id,
        "sendMessage",
        payload,
        ticket_id=ticket_id,
        link_kind=link_kind,
        reply_to_card=reply_to_card,
        dedupe_key=dedupe_key,
    )


async def send_or_update_pending(
    session: AsyncSession,
    chat_id: int,
    text: str,
    *,
    key: str,
    buttons: Buttons | None = None,
) -> None:
    """Queue a message, or rewrite the same kind of message still waiting in the queue for that chat.

    A customer sending an album of ten photos gets one up-to-date "received: 10 files" instead of ten
    messages trickling out at one per second.
    """
    row = await rows.newest_unstarted(session, chat_id)
    if row is not None and row.payload.get("_coalesce") == key:  # only the newest, or the order would change
        payload = {**row.payload, "text": text}
        if buttons:
            payload["reply_markup"] = inline_keyboard(buttons)
        row.payload = payload
        session.add(row)
        rows.mark_written(session)
        return
    new = send_text(session, chat_id, text, buttons=buttons)
    new["payload"] = {**new["payload"], "_coalesce": key}


def copy_message(
    session: AsyncSession,
    chat_id: int,
    from_chat_id: int,
    message_id: int,
    *,
    caption: str | None = None,
    buttons: Buttons | None = None,
    thread_id: int | None = None,
    ticket_id: int | None = None,
    link_kind: str | None = None,
    reply_to_card: bool = False,
    caption_apart: bool = False,
) -> OutboxRow:
    """Queue a copy of a message (a file someone sent), with `caption` (HTML) instead of its own. With
    `caption_apart` (a file Telegram shows without a caption: a video note) the caption goes as a message
    of its own just before the copy, placed and linked the same way."""
    if caption_apart and caption:
        where = {"thread_id": thread_id, "ticket_id": ticket_id, "link_kind": link_kind, "reply_to_card": reply_to_card}
        send_text(session, chat_id, caption, **where)
        caption = None
    payload: dict[str, Any] = {"chat_id": chat_id, "from_chat_id": from_chat_id, "message_id": message_id}
    if caption is not None:
        payload["caption"] = caption
        payload["parse_mode"] = "HTML"
    if buttons:
        payload["reply_markup"] = inline_keyboard(buttons)
    if thread_id:
        payload["message_thread_id"] = thread_id
    return _queue(
        session, chat_id, "copyMessage", payload, ticket_id=ticket_id, link_kind=link_kind, reply_to_card=reply_to_card
    )


def send_file(
    session: AsyncSession,
    chat_id: int,
    kind: str,
    file_id: str,
    *,
    caption: str | None = None,
    thread_id: int | None = None,
    ticket_id: int | None = None,
    link_kind: str | None = None,
    reply_to_card: bool = False,
) -> OutboxRow:
    """Send a stored file by its Telegram file id (photo, document, video, audio, voice, animation)."""
    method = {
        "photo": "sendPhoto",
        "document": "sendDocument",
        "video": "sendVideo",
        "audio": "sendAudio",
        "voice": "sendVoice",
        "animation": "sendAnimation",
        "video_note": "sendVideoNote",
    }.get(kind, "sendDocument")
    field = kind if method != "sendDocument" else "document"
    payload: dict[str, Any] = {"chat_id": chat_id, field: file_id}
    if caption and kind != "video_note":
        payload["caption"] = caption
        payload["parse_mode"] = "HTML"
    if thread_id:
        payload["message_thread_id"] = thread_id
    return _queue(
        session, chat_id, method, payload, ticket_id=ticket_id, link_kind=link_kind, reply_to_card=reply_to_card
    )


_UPLOAD_METHODS = {"photo": "sendPhoto", "document": "sendDocument"}


async def send_upload(
    session: AsyncSession,
    chat_id: int,
    kind: str,
    data: bytes,
    filename: str,
    mime_type: str,
    *,
    caption: str | None = None,
    reply_to_message_id: int | None = None,
    thread_id: int | None = None,
) -> OutboxRow:
    """Queue a file the bot made (a chart, a CSV) as a photo or document: the bytes are stored in this
    transaction, delivery uploads them (multipart) and deletes them once sent. `caption` is HTML."""
    if kind not in _UPLOAD_METHODS:
        raise ValueError(f"an upload is a photo or a document, not {kind!r}")
    file_id = await outbox_files.add(session, data, filename, mime_type)
    payload: dict[str, Any] = {"chat_id": chat_id, outbox_files.UPLOAD_KEY: {"file": file_id, "field": kind}}
    if caption:
        payload["caption"] = caption
        payload["parse_mode"] = "HTML"
    if reply_to_message_id:
        payload["reply_parameters"] = {"message_id": reply_to_message_id, "allow_sending_without_reply": True}
    if thread_id:
        payload["message_thread_id"] = thread_id
    return _queue(session, chat_id, _UPLOAD_METHODS[kind], payload)


def edit_text(
    session: AsyncSession,
    chat_id: int,
    message_id: int | None,
    text: str,
    *,
    buttons: Buttons | None = None,
    ticket_id: int | None = None,
    edits_card: bool = False,
) -> OutboxRow:
    """Edit a message; with `edits_card` the ticket's card id is filled in at delivery time."""
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if message_id:
        payload["message_id"] = message_id
    if buttons is not None:
        payload["reply_markup"] = inline_keyboard(buttons)
    return _queue(session, chat_id, "editMessageText", payload, ticket_id=ticket_id, edits_card=edits_card)


def drop_buttons(session: AsyncSession, chat_id: int, message_id: int) -> OutboxRow:
    """Take the buttons off a message (once they have been used)."""
    payload = {"chat_id": chat_id, "message_id": message_id}
    return _queue(session, chat_id, "editMessageReplyMarkup", payload)


def create_topic(session: AsyncSession, chat_id: int, name: str, *, ticket_id: int) -> OutboxRow:
    """A forum topic for a ticket; delivery stores the topic as the ticket's `staff_thread_id`."""
    return _queue(
        session, chat_id, "createForumTopic", {"chat_id": chat_id, "name": name}, ticket_id=ticket_id, link_kind="topic"
    )
