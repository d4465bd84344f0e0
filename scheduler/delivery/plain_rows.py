"""The common row's attempt in plain SQL: begun and recorded without ORM objects.

Most rows are one call to one chat (a reply, the next question, a `/status` answer): no file to upload, no
card to find or edit, no parts sent before, no earlier attempt left unconcluded. For those the shared
transaction (`journal`) reads only the columns an attempt needs and writes the in-flight mark, and later
the record, of all of them with one UPDATE each (executemany), instead of loading every row as an ORM
object and flushing its changes (several times the cost of the statements themselves, per row). What is
written is what `row_attempts` writes for such a row; any other row goes `row_attempts`' way, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Row

from scheduler.delivery.row_attempts import INFLIGHT, Prepared, in_flight, settled
from storage import repos
from storage.models import OutboxMessage, Ticket

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_TICKETS = Ticket.__table__  # type: ignore[attr-defined]

# Built once (building one per transaction costs more than running it).
#: what an attempt needs of each row of the shared transaction, the rows locked
ROWS_FOR_UPDATE = (
    select(
        _OUTBOX.c.id,
        _OUTBOX.c.chat_id,
        _OUTBOX.c.method,
        _OUTBOX.c.payload,
        _OUTBOX.c.ticket_id,
        _OUTBOX.c.link_kind,
        _OUTBOX.c.reply_to_card,
        _OUTBOX.c.edits_card,
        _OUTBOX.c.status,
        _OUTBOX.c.attempts,
        _OUTBOX.c.locked_by,
    )
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_OUTBOX.c.id)
    .with_for_update()
)
#: the chat each ticket's card is in (a row to that chat is a staff row: its thread and reply are filled in)
STAFF_CHATS = select(_TICKETS.c.id, _TICKETS.c.staff_chat_id).where(_TICKETS.c.id.in_(bindparam("ids", expanding=True)))
_BEGIN = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(attempts=bindparam("b_attempts"), locked_until=bindparam("b_until"), payload=bindparam("b_payload"))
)
_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(
        status="sent",
        sent_at=bindparam("b_at"),
        result_message_id=bindparam("b_result"),
        locked_until=None,
        locked_by=None,
        payload=bindparam("b_payload"),
    )
)


def _bookkeeping(payload: Any, allowed: str = "") -> bool:
    """Does the payload carry bookkeeping (`_…` keys: an upload, parts sent, an attempt in flight)?"""
    return not isinstance(payload, dict) or any(key.startswith("_") and key != allowed for key in payload)


def can_begin(row: Row[Any], staff_chats: dict[int, int | None]) -> bool:
    """A row whose attempt begins plainly: the ordinary call to a chat that is not its ticket's staff chat.

    (A row no longer ours or no longer pending is plain too: nothing is written for it.)"""
    if row.status != "pending":
        return True
    if _bookkeeping(row.payload) or row.edits_card or row.reply_to_card:
        return False
    return row.ticket_id is None or (row.ticket_id in staff_chats and staff_chats[row.ticket_id] != row.chat_id)


def can_record(row: Row[Any]) -> bool:
    """A sent row recorded plainly: no file to forget, no parts, not a card or a topic (their ticket changes)."""
    return not _bookkeeping(row.payload, INFLIGHT) and row.link_kind not in ("card", "topic")


def begin(row: Row[Any], worker_id: str, lease: float, now: datetime, writes: list[dict[str, Any]]) -> bool | Prepared:
    """`RowAttempts.prepare` for a plain row: still pending and ours? Then its attempt begins (the write is
    added to `writes`, for `write_begun`); True when there is nothing to send."""
    if row.status != "pending" or row.locked_by != worker_id:
        return True
    attempt = row.attempts + 1
    payload = row.payload
    writes.append(
        {
            "b_id": row.id,
            "b_attempts": attempt,
            "b_until": now + timedelta(seconds=lease),
            "b_payload": in_flight(payload, worker_id, attempt, now),
        }
    )
    return row.method, dict(payload), 0, [], attempt


async def record(
    session: Any, row: Row[Any], message_ids: list[int], now: datetime, writes: list[dict[str, Any]]
) -> None:
    """`RowAttempts.record_success` for a plain row: sent, its message id, released, the in-flight mark gone,
    and the links replies need queued with the transaction's other rows."""
    writes.append(
        {
            "b_id": row.id,
            "b_at": now,
            "b_result": message_ids[-1] if message_ids else None,
            "b_payload": settled(row.payload),
        }
    )
    if message_ids and row.ticket_id and row.link_kind:
        for message_id in message_ids:
            await repos.add_link(session, row.chat_id, message_id, row.ticket_id, row.link_kind)


async def staff_chats_of(session: Any, tickets: Iterable[int]) -> dict[int, int | None]:
    """The staff chat of each ticket (None: its card is not sent yet)."""
    ids = sorted(set(tickets))
    if not ids:
        return {}
    return {int(tid): chat for tid, chat in (await session.execute(STAFF_CHATS, {"ids": ids})).all()}


async def write(session: Any, begun: list[dict[str, Any]], sent: list[dict[str, Any]]) -> None:
    """The plain rows' writes, one statement for each kind."""
    if sent:
        await session.execute(_SENT, sent)
    if begun:
        await session.execute(_BEGIN, begun)
