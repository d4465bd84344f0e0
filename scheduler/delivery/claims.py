"""Claiming outbox rows: which due rows this process sends next, leased so no other process sends them.

A row is claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several processes share the
outbox without sending a row twice. Per chat, rows go out one at a time and in id order: a chat's row is
never claimed while an older row of that chat waits (backoff, retry-after) or is leased by another
process, and a claim that raced with another process is given back (`keep_in_order`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, update
from sqlmodel import col, select

from scheduler.delivery.limits import DeliveryLimits
from scheduler.delivery.pacing import PACING_MEMORY
from storage.db import Database
from storage.models import OutboxMessage
from storage.types import utcnow

Claimed = list[tuple[int, int]]  # (row id, chat id), in id order

# Built once (building one per pass costs more than running it).
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_CLAIMABLE = (
    select(_OUTBOX.c.id, _OUTBOX.c.chat_id)
    .where(
        _OUTBOX.c.status == "pending",
        _OUTBOX.c.next_attempt_at <= bindparam("now"),
        or_(_OUTBOX.c.locked_until.is_(None), _OUTBOX.c.locked_until < bindparam("now")),
    )
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIMABLE_BUT_BUSY = _CLAIMABLE.where(_OUTBOX.c.chat_id.not_in(bindparam("busy", expanding=True)))
#: the first row of each chat that is waiting (backoff) or held by another process: its queue stops there
_BARRIERS = (
    select(_OUTBOX.c.chat_id, func.min(_OUTBOX.c.id))
    .where(
        _OUTBOX.c.chat_id.in_(bindparam("chats", expanding=True)),
        _OUTBOX.c.status == "pending",
        or_(
            _OUTBOX.c.next_attempt_at > bindparam("now"),
            and_(_OUTBOX.c.locked_until.is_not(None), _OUTBOX.c.locked_until >= bindparam("now")),
        ),
    )
    .group_by(_OUTBOX.c.chat_id)
)
_LEASE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(locked_until=bindparam("b_until"), locked_by=bindparam("b_by"))
)


class Claims:
    """The claims of one delivery loop (`worker_id` marks its leases)."""

    def __init__(self, db: Database, worker_id: str, limits: DeliveryLimits) -> None:
        self.db = db
        self.worker_id = worker_id
        self.limits = limits

    async def claim(self, busy: Sequence[int], max_chats: int | None = None) -> Claimed:
        """Lease the due rows of chats not `busy` (a sender is still at work on those), in order per chat,
        of at most `max_chats` chats."""
        now = utcnow()
        chosen: Claimed = []
        async with self.db.session() as session:
            # Only ids and chats are read here (no rows, no payloads): most of what a pass reads is passed
            # over (a chat's later rows, chats beyond their batch), and the row itself is read under its
            # lock when its attempt begins, where an unconcluded earlier attempt is found.
            params: dict[str, Any] = {"now": now, "limit": self.limits.claim_batch}
            if busy:
                params["busy"] = list(busy)
            rows = (await session.execute(_CLAIMABLE_BUT_BUSY if busy else _CLAIMABLE, params)).all()
            if not rows:
                return []
            # a chat's queue stops at its first row that is waiting (backoff) or held by another process
            found = await session.execute(_BARRIERS, {"chats": sorted({chat for _, chat in rows}), "now": now})
            barrier = {int(chat): int(first) for chat, first in found.all()}
            per_chat: dict[int, int] = defaultdict(int)
            stopped: set[int] = set()
            for row_id, chat in rows:
                if chat in stopped:
                    continue
                new_chat_beyond_room = chat not in per_chat and max_chats is not None and len(per_chat) >= max_chats
                if (
                    new_chat_beyond_room
                    or row_id > barrier.get(chat, row_id)
                    or per_chat[chat] >= self.limits.per_chat_batch
                ):
                    stopped.add(chat)
                    continue
                per_chat[chat] += 1
                chosen.append((int(row_id), int(chat)))
            if chosen:
                until = now + timedelta(seconds=self.limits.lease)
                await session.execute(
                    _LEASE, [{"b_id": row_id, "b_until": until, "b_by": self.worker_id} for row_id, _ in chosen]
                )
        return chosen

    async def keep_in_order(self, chosen: Claimed) -> tuple[Claimed, int, list[tuple[int, datetime]]]:
        """After committing a claim: a chat's claimed rows must be a gap-free run of its pending rows.

        `SKIP LOCKED` silently passes over a row another process is claiming at this very moment, so a
        claim may hold rows 1 and 3 of a chat while another holds row 2. Our rows after the first pending
        row that is not ours are given back (all of them, when that row is older than our first). Returns
        the rows kept, how many chats gave some back, and the chats' recent sends (`recent_sends`: another
        process may have sent to them a moment ago), read in the same transaction: a claim pass is then
        two transactions, not three.
        """
        chats = {chat for _, chat in chosen}
        async with self.db.read() as session:
            stmt = (
                select(OutboxMessage.chat_id, func.min(OutboxMessage.id))
                .where(
                    col(OutboxMessage.chat_id).in_(chats),
                    OutboxMessage.status == "pending",
                    or_(col(OutboxMessage.locked_by).is_(None), OutboxMessage.locked_by != self.worker_id),
                )
                .group_by(col(OutboxMessage.chat_id))
            )
            foreign = {int(chat): int(first) for chat, first in (await session.exec(stmt)).all()}
            recent = await _recent_sends(session, chats)
        give_back = {r for r, c in chosen if c in foreign and r > foreign[c]}
        if not give_back:
            return chosen, 0, recent
        await self.unlock(sorted(give_back))
        conflicts = len({c for r, c in chosen if r in give_back})
        return [(r, c) for r, c in chosen if r not in give_back], conflicts, recent

    async def unlock(self, ids: Sequence[int]) -> None:
        """Give rows back (claimed but not started): another process, or our next pass, sends them."""
        if not ids:
            return
        async with self.db.session() as session:
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))).all()
            for row in rows:
                if row.locked_by == self.worker_id:
                    row.locked_until = None
                    row.locked_by = None

    async def release_stale_locks(self) -> None:
        """On SQLite only this process exists, so any lease left over belongs to a dead one."""
        if not self.db.is_sqlite:
            return
        async with self.db.session() as session:
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.locked_until).is_not(None)))).all()
            for row in rows:
                row.locked_until = None
                row.locked_by = None

    async def recent_sends(self, chats: set[int] | None = None) -> list[tuple[int, datetime]]:
        """(chat id, sent at) of the rows sent within PACING_MEMORY, to these chats or all."""
        async with self.db.read() as session:
            return await _recent_sends(session, chats)

    async def pending_count(self) -> int:
        async with self.db.read() as session:
            stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
            return int((await session.exec(stmt)).one())


async def _recent_sends(session: Any, chats: set[int] | None) -> list[tuple[int, datetime]]:
    stmt = select(OutboxMessage.chat_id, OutboxMessage.sent_at).where(
        OutboxMessage.status == "sent", col(OutboxMessage.sent_at) >= utcnow() - PACING_MEMORY
    )
    if chats is not None:
        stmt = stmt.where(col(OutboxMessage.chat_id).in_(chats))
    found = (await session.exec(stmt)).all()
    return [(int(chat), sent_at) for chat, sent_at in found if sent_at is not None]
