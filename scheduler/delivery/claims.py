"""Claiming outbox rows: which due rows this process sends next, leased so no other process sends them.

A row is claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several processes share the
outbox without sending a row twice. Per chat, rows go out one at a time and in id order: a chat's row is
never claimed while an older row of that chat waits (backoff, retry-after) or is leased by another
process, and a claim that raced with another process leaves those rows alone (`_keep_in_order`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, null, or_, update
from sqlmodel import col, select

from scheduler.delivery.calls import calls_for
from scheduler.delivery.limits import DeliveryLimits
from scheduler.delivery.pacing import PACING_MEMORY
from storage.db import Database
from storage.models import OutboxMessage
from storage.types import utcnow

Claimed = list[tuple[int, int]]  # (row id, chat id), in id order


@dataclass(frozen=True)
class Claim:
    """What a claim pass leased, and what it learned on the way (PostgreSQL)."""

    rows: Claimed
    #: chats whose rows were not leased after all: another process holds an older row (`_keep_in_order`)
    conflicts: int = 0
    #: (chat, sent at) of the claimed chats' sends of the last minute, by any process (`recent_sends`)
    recent: list[tuple[int, datetime]] = field(default_factory=list)
    #: the pass stopped at a limit (rows per pass, per chat, chats at work): due rows may be left
    cut: bool = False


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
#: the first pending row of each chat that is neither ours nor in this claim (see `Claims._keep_in_order`)
_FOREIGN = (
    select(_OUTBOX.c.chat_id, func.min(_OUTBOX.c.id))
    .where(
        _OUTBOX.c.chat_id.in_(bindparam("chats", expanding=True)),
        _OUTBOX.c.status == "pending",
        _OUTBOX.c.id.not_in(bindparam("ids", expanding=True)),
        or_(_OUTBOX.c.locked_by.is_(None), _OUTBOX.c.locked_by != bindparam("me")),
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

    async def claim(self, busy: Sequence[int], max_chats: int | None = None) -> Claim:
        """Lease the due rows of chats not `busy` (a sender is still at work on those), in order per chat,
        of at most `max_chats` chats: one transaction."""
        now = utcnow()
        chosen: Claimed = []
        params: dict[str, Any] = {"now": now, "limit": self.limits.claim_batch}
        if busy:
            params["busy"] = list(busy)
        claimable = _CLAIMABLE_BUT_BUSY if busy else _CLAIMABLE
        if self.db.is_sqlite and not await self._any_due(claimable, params):
            return Claim([])  # an idle pass must not take SQLite's one write lock from the handlers
        async with self.db.session() as session:
            # Only ids and chats are read here (no rows, no payloads): most of what a pass reads is passed
            # over (a chat's later rows, chats beyond their batch), and the row itself is read under its
            # lock when its attempt begins, where an unconcluded earlier attempt is found.
            rows = (await session.execute(claimable, params)).all()
            if not rows:
                return Claim([])
            # a chat's queue stops at its first row that is waiting (backoff) or held by another process
            found = await session.execute(_BARRIERS, {"chats": sorted({chat for _, chat in rows}), "now": now})
            barrier = {int(chat): int(first) for chat, first in found.all()}
            per_chat: dict[int, int] = defaultdict(int)
            stopped: set[int] = set()
            cut = len(rows) >= self.limits.claim_batch
            for row_id, chat in rows:
                if chat in stopped:
                    continue
                new_chat_beyond_room = chat not in per_chat and max_chats is not None and len(per_chat) >= max_chats
                beyond_batch = per_chat[chat] >= self.limits.per_chat_batch
                if new_chat_beyond_room or beyond_batch or row_id > barrier.get(chat, row_id):
                    cut = cut or new_chat_beyond_room or beyond_batch
                    stopped.add(chat)
                    continue
                per_chat[chat] += 1
                chosen.append((int(row_id), int(chat)))
            if not chosen:
                return Claim([], cut=cut)
            claim = Claim(chosen, cut=cut)
            if not self.db.is_sqlite:  # SQLite has no SKIP LOCKED, and runs one process
                claim = await self._keep_in_order(session, chosen, cut)
            until = now + timedelta(seconds=self.limits.lease)
            if claim.rows:
                leases = [{"b_id": row_id, "b_until": until, "b_by": self.worker_id} for row_id, _ in claim.rows]
                await session.execute(_LEASE, leases)
        return claim

    async def _any_due(self, claimable: Any, params: dict[str, Any]) -> bool:
        """SQLite: is anything due? Asked in a read transaction (a plain BEGIN), so the idle poll takes no
        write lock; the claim proper (BEGIN IMMEDIATE) runs only when there is something to claim."""
        async with self.db.read() as session:
            return (await session.execute(claimable, {**params, "limit": 1})).first() is not None

    async def _keep_in_order(self, session: Any, chosen: Claimed, cut: bool) -> Claim:
        """PostgreSQL, in the claim's transaction: a chat's claimed rows must be a gap-free run of its pending
        rows.

        `SKIP LOCKED` silently passes over a row another process is claiming at this very moment, so a
        claim may hold rows 1 and 3 of a chat while another holds row 2. Row 2 still reads as pending and
        not ours (the other claim's lease is not committed, or it is and names the other process), so our
        rows after the first pending row that is neither ours nor chosen now are not leased (none of them,
        when that row is older than our first). Also read here: the chats' recent sends (another process
        may have sent to them a moment ago). A claim pass is one transaction: the check needs no commit
        of ours first, since what it looks for is another transaction's row, which reads the same before
        and after ours commits.
        """
        chats = sorted({chat for _, chat in chosen})
        ids = [row_id for row_id, _ in chosen]
        found = await session.execute(_FOREIGN, {"chats": chats, "ids": ids, "me": self.worker_id})
        foreign = {int(chat): int(first) for chat, first in found.all()}
        recent = await _recent_sends(session, set(chats))
        give_back = {r for r, c in chosen if c in foreign and r > foreign[c]}
        conflicts = len({c for r, c in chosen if r in give_back})
        return Claim([(r, c) for r, c in chosen if r not in give_back], conflicts, recent, cut)

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
    """(chat, sent at) per message: a group's row split into several messages (`calls.calls_for`) counts as
    many times in its budget as it had messages, whichever process sent it (a private chat's interval runs
    from its last message, and its rows' payloads are not read)."""
    group_payload = case((OutboxMessage.chat_id < 0, OutboxMessage.payload), else_=null())
    stmt = select(OutboxMessage.chat_id, OutboxMessage.sent_at, OutboxMessage.method, group_payload).where(
        OutboxMessage.status == "sent", col(OutboxMessage.sent_at) >= utcnow() - PACING_MEMORY
    )
    if chats is not None:
        stmt = stmt.where(col(OutboxMessage.chat_id).in_(chats))
    sends: list[tuple[int, datetime]] = []
    for chat, sent_at, method, payload in (await session.exec(stmt)).all():
        if sent_at is None:
            continue
        messages = len(calls_for(method, payload)) if chat < 0 and isinstance(payload, dict) else 1
        sends.extend([(int(chat), sent_at)] * messages)
    return sends
