"""Flood control's queries: a chat's recent messages (and, apart, its button presses) counted in the shared
inbox, and the held messages.

Counting in the inbox (where every process stores every update before handling it) rather than in a
process's memory means two webhook processes on PostgreSQL see the same count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, distinct, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import session_info
from storage.models import HeldMessage, InboxUpdate

_INBOX = InboxUpdate.__table__  # type: ignore[attr-defined]


#: the input key of a button press (`bot.handlers.update.flood_keys_of`): counted apart from messages
PRESS = "press:"


def _earlier_inputs(presses: bool) -> tuple[Any, Any, Any]:
    """The inbox row being counted (`current`) joined to the same chat's earlier inputs of its kind within
    the window (`earlier`): messages, or button presses."""
    current, earlier = _INBOX.alias("current"), _INBOX.alias("earlier")
    is_press = earlier.c.input_key.like(f"{PRESS}%")
    joined = current.join(
        earlier,
        and_(
            earlier.c.chat_key == current.c.chat_key,
            earlier.c.sent_date > current.c.sent_date - bindparam("window_seconds"),
            earlier.c.sent_date <= current.c.sent_date,
            earlier.c.update_id < current.c.update_id,
            earlier.c.input_key != current.c.input_key,
            is_press if presses else ~is_press,
        ),
    )
    return current, earlier, joined


def _inputs_before(presses: bool) -> Any:
    current, earlier, joined = _earlier_inputs(presses)
    return (
        select(func.count(distinct(earlier.c.input_key)))
        .select_from(joined)
        .where(current.c.update_id == bindparam("update_id"))
    )


def _inputs_before_each(presses: bool) -> Any:
    """`_inputs_before` for several updates at once: (update id, count), none for a count of 0."""
    current, earlier, joined = _earlier_inputs(presses)
    return (
        select(current.c.update_id, func.count(distinct(earlier.c.input_key)))
        .select_from(joined)
        .where(current.c.update_id.in_(bindparam("update_ids", expanding=True)))
        .group_by(current.c.update_id)
    )


# Built once: they run for every message, and building the aliases and the join cost more than running them.
_INPUTS_BEFORE = _inputs_before(presses=False)
_PRESSES_BEFORE = _inputs_before(presses=True)
_INPUTS_BEFORE_EACH = {presses: _inputs_before_each(presses) for presses in (False, True)}
#: session info: {(update id, window, presses): count} counted ahead for a batch (`count_inputs_before`)
_COUNTED = "held_messages.inputs_before"


def _counted(session: AsyncSession, update_id: int, window_seconds: int, presses: bool) -> int | None:
    return session_info(session).get(_COUNTED, {}).get((update_id, window_seconds, presses))


async def inputs_before(session: AsyncSession, update_id: int, window_seconds: int) -> int:
    """How many other inputs (an album is one) the same chat sent within `window_seconds` before this
    message, by Telegram's `date`, among updates stored before it; 0 for an update that is no message."""
    counted = _counted(session, update_id, window_seconds, presses=False)
    if counted is not None:
        return counted
    params = {"update_id": update_id, "window_seconds": window_seconds}
    return int((await session.execute(_INPUTS_BEFORE, params)).scalar_one() or 0)


async def count_inputs_before(
    session: AsyncSession, update_ids: Sequence[int], window_seconds: int, *, presses: bool = False
) -> None:
    """`inputs_before` of a batch's messages (`presses`: `presses_before` of its button presses) in one
    query, answered from the session for the rest of its transaction (one query per batch instead of one
    per update). The rows counted are earlier updates of the same chat, stored before these and never
    changed afterwards, so counting them at the start of the transaction gives what counting at the
    handler would."""
    if not update_ids:
        return
    params = {"update_ids": list(update_ids), "window_seconds": window_seconds}
    counts = dict.fromkeys(((uid, window_seconds, presses) for uid in update_ids), 0)
    for update_id, count in (await session.execute(_INPUTS_BEFORE_EACH[presses], params)).all():
        counts[(int(update_id), window_seconds, presses)] = int(count or 0)
    session_info(session).setdefault(_COUNTED, {}).update(counts)


async def presses_before(session: AsyncSession, update_id: int, window_seconds: int) -> int:
    """How many other button presses the same chat made within `window_seconds` before this one, by when
    they were stored (Telegram dates no press), among updates stored before it."""
    counted = _counted(session, update_id, window_seconds, presses=True)
    if counted is not None:
        return counted
    params = {"update_id": update_id, "window_seconds": window_seconds}
    return int((await session.execute(_PRESSES_BEFORE, params)).scalar_one() or 0)


def hold(
    session: AsyncSession, customer_id: int, update_id: int, content: dict[str, Any], now: datetime, due: datetime
) -> None:
    session.add(
        HeldMessage(customer_id=customer_id, update_id=update_id, content=content, received_at=now, digest_due_at=due)
    )


async def digest_due_of(session: AsyncSession, customer_id: int) -> datetime | None:
    """When the customer's held messages are due as a digest (None: nothing held)."""
    stmt = select(func.min(HeldMessage.digest_due_at)).where(HeldMessage.customer_id == customer_id)
    return (await session.exec(stmt)).first()


async def take_held(session: AsyncSession, customer_id: int, *, wait: bool) -> Sequence[HeldMessage]:
    """The customer's held messages, oldest first, row-locked (PostgreSQL) until the transaction ends: a
    handler waits for a sweep that has them (`wait`), a sweep skips what another process is posting."""
    stmt = (
        select(HeldMessage)
        .where(HeldMessage.customer_id == customer_id)
        .order_by(col(HeldMessage.id))
        .with_for_update(skip_locked=not wait)
    )
    return (await session.exec(stmt)).all()


async def customers_with_due_digests(session: AsyncSession, now: datetime, limit: int = 50) -> list[int]:
    stmt = select(HeldMessage.customer_id).where(col(HeldMessage.digest_due_at) <= now).distinct().limit(limit)
    return [int(customer_id) for customer_id in (await session.exec(stmt)).all()]


async def forget(session: AsyncSession, rows: Sequence[HeldMessage]) -> None:
    """The held messages are posted (and recorded on the ticket): their rows go."""
    ids = [row.id for row in rows]
    if ids:
        await session.execute(delete(HeldMessage).where(col(HeldMessage.id).in_(ids)))


async def forget_customer(session: AsyncSession, customer_id: int) -> int:
    """Erasure: whatever the customer sent that is still held."""
    result = await session.execute(delete(HeldMessage).where(col(HeldMessage.customer_id) == customer_id))
    return int(result.rowcount or 0)
