"""Writing to the outbox: messages for other people, as rows in the caller's transaction.

Rows are plain Bot API calls (method + JSON parameters) so delivery needs no knowledge of the domain;
what the domain needs back (the card's message id, links for replies) is named by `link_kind`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import OutboxMessage
from storage.types import utcnow

Buttons = list[list[tuple[str, str]]]  # rows of (label, callback data)


class Bell:
    """Wakes the delivery loop when a transaction that wrote outbox rows commits."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def _get(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def ring(self) -> None:
        try:
            self._get().set()
        except RuntimeError:  # pragma: no cover - no loop (CLI use)
            pass

    async def wait(self, timeout: float) -> bool:
        ev = self._get()
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            ev.clear()

    def reset(self) -> None:
        self._event = None


bell = Bell()


@event.listens_for(Session, "after_commit")
def _ring_after_commit(session: Session) -> None:
    if session.info.pop("outbox_dirty", False):
        bell.ring()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("outbox_dirty", None)


def inline_keyboard(buttons: Buttons) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row] for row in buttons]}


def _row(**fields: Any) -> OutboxMessage:
    """A new outbox row; its two timestamps given here (cheaper than the model's default factories)."""
    now = utcnow()
    return OutboxMessage(created_at=now, next_attempt_at=now, **fields)


def enqueue(session: AsyncSession, row: OutboxMessage) -> OutboxMessage:
    session.add(row)
    session.sync_session.info["outbox_dirty"] = True
    return row


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
) -> OutboxMessage:
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
    return enqueue(
        session,
        _row(
            chat_id=chat_id,
            method="sendMessage",
            payload=payload,
            ticket_id=ticket_id,
            link_kind=link_kind,
            reply_to_card=reply_to_card,
            dedupe_key=dedupe_key,
        ),
    )


async def send_or_update_pending(
    session: AsyncSession,
    chat_id: int,
    text: str,
    *,
    key: str,
    buttons: Buttons | None = None,
) -> OutboxMessage:
    """Queue a message, or rewrite the same kind of message still waiting in the queue for that chat.

    A customer sending an album of ten photos gets one up-to-date "received: 10 files" instead of ten
    messages trickling out at one per second.
    """
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.status == "pending",
            col(OutboxMessage.locked_until).is_(None),
            OutboxMessage.attempts == 0,
        )
        .order_by(col(OutboxMessage.id).desc())
        .with_for_update(skip_locked=True)
    )
    for row in (await session.exec(stmt)).all():
        if row.payload.get("_coalesce") == key:
            payload = {**row.payload, "text": text}
            if buttons:
                payload["reply_markup"] = inline_keyboard(buttons)
            row.payload = payload
            session.add(row)
            session.sync_session.info["outbox_dirty"] = True
            return row
        break  # only the newest pending message may be rewritten, or the order would change
    row = send_text(session, chat_id, text, buttons=buttons)
    row.payload = {**row.payload, "_coalesce": key}
    return row


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
) -> OutboxMessage:
    payload: dict[str, Any] = {"chat_id": chat_id, "from_chat_id": from_chat_id, "message_id": message_id}
    if caption is not None:
        payload["caption"] = caption
        payload["parse_mode"] = "HTML"
    if buttons:
        payload["reply_markup"] = inline_keyboard(buttons)
    if thread_id:
        payload["message_thread_id"] = thread_id
    return enqueue(
        session,
        _row(
            chat_id=chat_id,
            method="copyMessage",
            payload=payload,
            ticket_id=ticket_id,
            link_kind=link_kind,
            reply_to_card=reply_to_card,
        ),
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
) -> OutboxMessage:
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
    return enqueue(
        session,
        _row(
            chat_id=chat_id,
            method=method,
            payload=payload,
            ticket_id=ticket_id,
            link_kind=link_kind,
            reply_to_card=reply_to_card,
        ),
    )


def edit_text(
    session: AsyncSession,
    chat_id: int,
    message_id: int | None,
    text: str,
    *,
    buttons: Buttons | None = None,
    ticket_id: int | None = None,
    edits_card: bool = False,
) -> OutboxMessage:
    """Edit a message; with `edits_card` the ticket's card id is filled in at delivery time."""
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if message_id:
        payload["message_id"] = message_id
    if buttons is not None:
        payload["reply_markup"] = inline_keyboard(buttons)
    return enqueue(
        session,
        _row(chat_id=chat_id, method="editMessageText", payload=payload, ticket_id=ticket_id, edits_card=edits_card),
    )
