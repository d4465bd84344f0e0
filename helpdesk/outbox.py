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

from storage.deferred import queue_insert
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


#: an outbox row before it is written: the table's columns as a dict (see storage/deferred.py)
OutboxRow = dict[str, Any]
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


def new_row(
    *,
    chat_id: int,
    method: str,
    payload: dict[str, Any],
    ticket_id: int | None = None,
    link_kind: str | None = None,
    reply_to_card: bool = False,
    edits_card: bool = False,
    dedupe_key: str | None = None,
) -> OutboxRow:
    """A new pending outbox row, every column given (they are inserted together, in one statement)."""
    now = utcnow()
    return {
        "created_at": now,
        "chat_id": chat_id,
        "method": method,
        "payload": payload,
        "ticket_id": ticket_id,
        "link_kind": link_kind,
        "reply_to_card": reply_to_card,
        "edits_card": edits_card,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "sent_at": None,
        "result_message_id": None,
        "last_error": None,
        "dedupe_key": dedupe_key,
        "locked_until": None,
        "locked_by": None,
    }


def enqueue(session: AsyncSession, row: OutboxRow) -> OutboxRow:
    """Queue the row in the caller's transaction: written before its next query or at its commit."""
    if not isinstance(row, dict):
        raise TypeError(f"an outbox row is built with new_row(), not {type(row).__name__}")
    queue_insert(session, _OUTBOX, row)
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
    return enqueue(
        session,
        new_row(
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
) -> None:
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
            return
        break  # only the newest pending message may be rewritten, or the order would change
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
) -> OutboxRow:
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
        new_row(
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
    return enqueue(
        session,
        new_row(
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
) -> OutboxRow:
    """Edit a message; with `edits_card` the ticket's card id is filled in at delivery time."""
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if message_id:
        payload["message_id"] = message_id
    if buttons is not None:
        payload["reply_markup"] = inline_keyboard(buttons)
    return enqueue(
        session,
        new_row(chat_id=chat_id, method="editMessageText", payload=payload, ticket_id=ticket_id, edits_card=edits_card),
    )
