"""One batch: the oldest pending update of several chats, handled in ONE transaction.

The batch reads its inbox rows (payloads from memory when this process stored them), takes the chats'
advisory locks on PostgreSQL, prefetches the senders' customers, drafts and open tickets, parses each
update once (`bot.handlers.update.parse_update`) and hands it with a `HandlerContext` to the runtime's
`deliver` (which reaches the handler layer), then marks the handled ones done in the same transaction.
A handler that raises (or times out) names its update: `Blamed`.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import select

from bot.handlers.context import ButtonAnswers, HandlerContext
from bot.handlers.update import UnreadableUpdate, Update, parse_update, update_kind
from bot.update_attempts import Attempts, PressAnswer, Seen
from helpdesk import flood
from helpdesk.clock import now_utc
from helpdesk.people import prefetch_people
from helpdesk.policy import DeskPolicy
from storage.db import Database
from storage.models import InboxUpdate

#: hands one parsed update to the handler layer (through the runtime's own dispatch, or straight);
#: False when nothing wanted it
Deliver = Callable[[Update, HandlerContext], Awaitable[bool]]

#: namespace (first key) of the PostgreSQL advisory locks that give one process a chat at a time; the
#: two-key space never overlaps the one-key locks used elsewhere (migrations)
PG_LOCK_NAMESPACE = 0x1B07

# Built once (a statement built anew for every update costs more, in its cache key, than running it), on
# the table rather than the ORM class: these run per update, and the ORM's bookkeeping around a
# statement costs several times the statement itself. Each in two spellings: PostgreSQL takes a list as
# ONE array parameter (`= ANY(:ids)`: one prepared statement whatever the batch's size; an IN list is a
# statement of its own, prepared again, for every length), SQLite an expanded IN list.
_INBOX = InboxUpdate.__table__  # type: ignore[attr-defined]
_IDS = ARRAY(BigInteger)


def _in(column: Any, name: str, *, array: bool) -> Any:
    return column == any_(bindparam(name, type_=_IDS)) if array else column.in_(bindparam(name, expanding=True))


def _statements(*, array: bool) -> dict[str, Any]:
    return {
        # the pending rows of the batch's chats, oldest first (the first of each chat is its head)
        "pending": select(_INBOX.c.update_id, _INBOX.c.chat_key, _INBOX.c.attempts)
        .where(_in(_INBOX.c.chat_key, "chat_keys", array=array), _INBOX.c.status == "pending")
        .order_by(_INBOX.c.update_id),
        "payloads": select(_INBOX.c.update_id, _INBOX.c.payload).where(_in(_INBOX.c.update_id, "ids", array=array)),
        # every done mark of the batch in one statement (it was one execution per update)
        "done": update(_INBOX)
        .where(_in(_INBOX.c.update_id, "ids", array=array))
        .values(status="done", done_at=bindparam("done_at"), attempts=_INBOX.c.attempts + 1),
    }


_POSTGRES = _statements(array=True)
_SQLITE = _statements(array=False)
_TRY_LOCKS = text("SELECT k FROM unnest(CAST(:keys AS integer[])) AS t(k) WHERE pg_try_advisory_xact_lock(:ns, k)")


def pg_lock_key(chat_key: int) -> int:
    """A signed 32-bit key for the chat (collisions only make two chats take turns)."""
    return zlib.crc32(str(chat_key).encode()) - 2**31


class Blamed(Exception):
    """A failure that names its update: a handler raised (or timed out), or a batch of one failed (its
    commit too). The batch rolls back and `seen` is blamed."""

    def __init__(self, seen: Seen, error: BaseException) -> None:
        super().__init__(str(error))
        self.seen = seen
        self.error = error


@dataclass
class _Head:
    """The oldest pending update of a chat, as a batch needs it."""

    update_id: int
    chat_key: int
    attempts: int
    payload: Any


@dataclass
class Handled:
    """One update handled in a batch, waiting for the batch's commit to be logged and followed up."""

    seen: Seen
    context: HandlerContext | None  # None: parked without running the handler
    handler_seconds: float = 0.0
    press_answer: PressAnswer | None = None  # a parked press's note, given after the commit


@dataclass
class BatchOutcome:
    handled: list[Handled]
    more: set[int]  # chats with another pending update after the one handled
    busy: set[int]  # chats another process holds (PostgreSQL)


@dataclass
class Batches:
    """What a batch needs: the database, the way to the handler layer, and what handlers get."""

    db: Database
    deliver: Deliver
    answers: ButtonAnswers
    policy: DeskPolicy
    triage: Any
    attempts: Attempts
    payloads: dict[int, dict[str, Any]]
    handler_timeout: float = 60.0

    @property
    def _sql(self) -> dict[str, Any]:
        return _SQLITE if self.db.is_sqlite else _POSTGRES

    async def run(self, chats: list[int]) -> BatchOutcome:
        handled: list[Handled] = []
        more: set[int] = set()
        busy: set[int] = set()
        heads: list[_Head] = []
        seen: Seen | None = None
        try:
            async with self.db.session() as session:
                if not self.db.is_sqlite:
                    free = await self._lock_chats(session, chats)
                    busy = set(chats) - free
                    chats = [c for c in chats if c in free]
                    if not chats:
                        return BatchOutcome(handled, more, busy)
                heads = await self._heads(session, chats, more)
                parsed = [_parse(row.payload) for row in heads]
                # a message in a private chat is a customer's (first) contact: see `prefetch_people`
                contacts = [
                    (u.sender, u.kind == "message" and u.chat_type == "private")
                    for u in parsed
                    if isinstance(u, Update)
                ]
                await prefetch_people(session, contacts)
                # what flood control counts for every customer message and press (bot/handlers/flood_gate.py)
                limited = [
                    u
                    for u in parsed
                    if isinstance(u, Update)
                    and u.chat_type == "private"
                    and u.sender is not None
                    and flood.applies_to(self.policy, u.sender.user_id)
                ]
                await flood.count_ahead(
                    session,
                    [u.update_id for u in limited if u.kind in ("message", "edited_message")],
                    [u.update_id for u in limited if u.kind == "callback_query"],
                )
                for row, update_or_error in zip(heads, parsed, strict=True):
                    seen = Seen(row.update_id, row.chat_key, update_kind(row.payload), row.attempts)
                    handled.append(await self._handle(session, row, seen, update_or_error))
                done = [h.seen.update_id for h in handled if h.context is not None]
                if done:  # the done marks, in the handlers' transaction
                    await session.execute(self._sql["done"], {"ids": done, "done_at": now_utc()})
        except Blamed:
            raise
        except Exception as exc:
            if len(heads) == 1 and seen is not None:  # a batch of one: the failure (the commit too) is its
                raise Blamed(seen, exc) from exc
            raise
        return BatchOutcome(handled, more, busy)

    async def _lock_chats(self, session: Any, chats: list[int]) -> set[int]:
        """PostgreSQL: the chats whose advisory lock we got (held until the transaction ends), in one query."""
        keys = {chat_key: pg_lock_key(chat_key) for chat_key in chats}
        locked = set(
            (await session.execute(_TRY_LOCKS, {"ns": PG_LOCK_NAMESPACE, "keys": sorted(set(keys.values()))})).scalars()
        )
        return {chat_key for chat_key, key in keys.items() if key in locked}

    async def _heads(self, session: Any, chats: list[int], more: set[int]) -> list[_Head]:
        """The oldest pending update of each chat (payloads from memory when this process stored them)."""
        rows = (await session.execute(self._sql["pending"], {"chat_keys": chats})).all()
        heads: dict[int, _Head] = {}
        for update_id, chat_key, attempts in rows:
            if chat_key in heads:
                more.add(chat_key)
            else:
                heads[chat_key] = _Head(int(update_id), int(chat_key), int(attempts), self.payloads.get(update_id))
        missing = {h.update_id: h for h in heads.values() if h.payload is None}
        if missing:
            for update_id, payload in (await session.execute(self._sql["payloads"], {"ids": list(missing)})).all():
                missing[update_id].payload = payload
        return sorted(heads.values(), key=lambda h: h.update_id)

    async def _handle(self, session: Any, row: _Head, seen: Seen, parsed: Update | UnreadableUpdate) -> Handled:
        """Run one update's handler in the batch's transaction."""
        if row.attempts >= self.attempts.attempts:  # failed before a crash and never parked
            return Handled(seen, None, press_answer=await self.attempts.park_by_id(session, row.update_id))
        if isinstance(parsed, UnreadableUpdate):  # no retry can fix it: park it alone, the chat goes on
            answer = await self.attempts.park_by_id(session, row.update_id, f"unparseable update: {parsed}")
            return Handled(seen, None, press_answer=answer)
        context = HandlerContext(
            session=session, policy=self.policy, triage=self.triage, answers=self.answers, update=parsed
        )
        if parsed.sender is None and parsed.chat_type == "private":
            # no person wrote it (no `from`, a bot): nobody waits for an answer and the staff have nothing to
            # do; done here with its log line (outcome=no_sender), never handled, retried, parked or alerted
            context.outcome = "no_sender"
            return Handled(seen, context)
        began = time.perf_counter()
        try:
            await asyncio.wait_for(self.deliver(parsed, context), timeout=self.handler_timeout)
        except Exception as exc:
            raise Blamed(seen, exc) from exc
        return Handled(seen, context, time.perf_counter() - began)


def _parse(payload: Any) -> Update | UnreadableUpdate:
    try:
        return parse_update(payload) if isinstance(payload, dict) else UnreadableUpdate("not an object")
    except UnreadableUpdate as exc:
        return exc
