"""The outbox table's write side: rows queued in the caller's transaction, and the bell rung at its commit.

A row is one Bot API call (method + JSON parameters) for someone other than the sender of the update
being handled. The domain queues rows through `helpdesk.outbox` (which builds the parameters); they are
inserted together with the transaction's other queued rows (`storage/deferred.py`), and the commit
rings the bell that wakes delivery (`scheduler/delivery/`). Texts with `parse_mode: HTML` are Telegram
HTML; `plain_text` is what a reader sees of them.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import session_info
from storage.deferred import queue_insert
from storage.models import OutboxMessage
from storage.types import utcnow

#: an outbox row before it is written: the table's columns as a dict (see storage/deferred.py)
OutboxRow = dict[str, Any]
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_DIRTY = "outbox_dirty"  # session info: the chats this transaction wrote outbox rows for (True: not known)


class Bell:
    """Wakes the delivery loop when a transaction that wrote outbox rows commits, and tells its listeners
    which chats those rows were for (None: not known), so a chat's sender that finishes can tell whether
    rows of its chat may have come meanwhile (scheduler/delivery/sender.py)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._listeners: list[Callable[[frozenset[int] | None], None]] = []

    def _get(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def ring(self) -> None:
        try:
            self._get().set()
        except RuntimeError:  # pragma: no cover - no loop (CLI use)
            pass

    def is_rung(self) -> bool:
        """Rung since the loop last woke (tests)."""
        return self._event is not None and self._event.is_set()

    def committed(self, chats: frozenset[int] | None) -> None:
        """Rows for `chats` (None: chats not known) were committed: the listeners hear it, the loop wakes."""
        for listener in self._listeners:
            listener(chats)
        self.ring()

    def listen(self, listener: Callable[[frozenset[int] | None], None]) -> None:
        self._listeners.append(listener)

    def forget(self, listener: Callable[[frozenset[int] | None], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

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
        self._listeners = []


bell = Bell()


@event.listens_for(Session, "after_commit")
def _ring_after_commit(session: Session) -> None:
    written = session.info.pop(_DIRTY, None)
    if written:
        bell.committed(None if written is True else frozenset(written))


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_DIRTY, None)


def mark_written(session: AsyncSession, chat_id: int | None = None) -> None:
    """This transaction changed outbox rows (of `chat_id`; None: of chats not said): delivery is woken when
    it commits."""
    info = session_info(session)
    known = info.get(_DIRTY, set())
    if chat_id is None or known is True:
        info[_DIRTY] = True
    else:
        known.add(chat_id)
        info[_DIRTY] = known


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
    mark_written(session, int(row["chat_id"]))
    return row


async def newest_unstarted(session: AsyncSession, chat_id: int) -> OutboxMessage | None:
    """The chat's newest pending row if no attempt has touched it yet (locked: it may be rewritten)."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.status == "pending",
            col(OutboxMessage.locked_until).is_(None),
            OutboxMessage.attempts == 0,
        )
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.exec(stmt)).first()


async def key_used(session: AsyncSession, dedupe_key: str) -> bool:
    """Was a message ever queued with this dedupe key (whatever became of it)?"""
    stmt = select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key).limit(1)
    return (await session.exec(stmt)).first() is not None


async def pending_to_chat(session: AsyncSession, chat_id: int) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == "pending")
    return (await session.exec(stmt)).all()


async def drop_unstarted_of_ticket(session: AsyncSession, ticket_id: int, chat_id: int, reason: str) -> int:
    """Drop the ticket's rows to a chat that no attempt has touched yet (its card moved elsewhere before it
    was sent); rows already being sent are left to delivery. How many were dropped."""
    stmt = select(OutboxMessage).where(
        OutboxMessage.ticket_id == ticket_id,
        OutboxMessage.chat_id == chat_id,
        OutboxMessage.status == "pending",
        col(OutboxMessage.locked_until).is_(None),
        OutboxMessage.attempts == 0,
    )
    rows = (await session.exec(stmt.with_for_update(skip_locked=True))).all()
    for row in rows:
        row.status = "dropped"
        row.last_error = reason
        session.add(row)
    return len(rows)


async def latest_call(session: AsyncSession, chat_id: int, method: str) -> OutboxMessage | None:
    """The newest row calling `method` in the chat, whatever became of it."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.method == method)
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
    )
    return (await session.exec(stmt)).first()


_TAG = re.compile(r"<[^>]+>")


def plain_text(text: str) -> str:
    """Telegram HTML as the plain text a reader sees (fallbacks when markup is refused, the console, logs)."""
    return html.unescape(_TAG.sub("", text))
