"""What an attempt does to its row: begin it (under a row lock), then record how it ended.

- Before every call the row is re-checked under a row lock and its lease extended, so a lease that ran
  out while waiting for a slot can never make two processes send it; the in-flight mark (`_inflight`)
  is committed before the call.
- Success stores Telegram's message id (and the links replies need, the card's id, a topic's id), so a
  restart resends nothing Telegram confirmed. A split row remembers the parts already sent.
- 429 → wait `retry_after` (not a failed attempt); 5xx and network errors → backoff, then give up;
  403 → the customer is marked unreachable and nothing more is queued for them is sent; a refusal →
  failed (or dropped, for an edit of a message that is gone).
- What cannot be known is counted, never hidden: an attempt found unconcluded (its sender died between
  the call and its record), or a call whose answer was lost, is sent again and said so (the
  `uncertain` hook records it on the ticket).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from scheduler.delivery import uploads
from scheduler.delivery.calls import THREADED, public
from scheduler.delivery.counters import DeliveryStats
from scheduler.delivery.hooks import DeliveryHooks
from scheduler.delivery.limits import DeliveryLimits
from storage import outbox_rows, repos
from storage.db import Database
from storage.models import Customer, OutboxMessage, Ticket
from storage.types import utcnow

log = logging.getLogger("bot.delivery")

INFLIGHT = "_inflight"  # payload key: an attempt began and has not been concluded yet
PARTS_SENT = "_parts_sent"  # payload key: how many parts of a split row went out
PART_IDS = "_message_ids"  # payload key: message ids of the parts already sent
BLOCKED = "customer unreachable (blocked the bot)"

#: a row ready for its calls: method, parameters, parts already sent, their message ids, attempt number
Prepared = tuple[str, dict[str, Any], int, list[int], int]


def in_flight(payload: dict[str, Any], worker_id: str, attempt: int, now: datetime) -> dict[str, Any]:
    """The payload with the in-flight marker `prepare` reads to spot a sender that died mid-call."""
    return {**payload, INFLIGHT: {"by": worker_id, "attempt": attempt, "at": now.isoformat()}}


def settled(payload: dict[str, Any]) -> dict[str, Any]:
    """A finished row keeps its parameters and the parts' ids, not the in-flight marker."""
    return {k: v for k, v in payload.items() if k != INFLIGHT}


def _release(row: OutboxMessage) -> None:
    row.locked_until = None
    row.locked_by = None


class RowAttempts:
    """The row side of sending: every change an attempt makes to its outbox row."""

    def __init__(
        self, db: Database, worker_id: str, limits: DeliveryLimits, stats: DeliveryStats, hooks: DeliveryHooks
    ) -> None:
        self.db = db
        self.worker_id = worker_id
        self.limits = limits
        self.stats = stats
        self.hooks = hooks

    # -- beginning -----------------------------------------------------------------------------------

    async def prepare(self, session: AsyncSession, row: OutboxMessage | None, blocked: bool) -> bool | Prepared:
        """The first attempt's transaction (see `journal`): the row locked, still ours and worth sending,
        what is known only now filled in, the attempt begun. A bool means "no call" (carry on or not)."""
        if row is None or row.status != "pending" or row.locked_by != self.worker_id:
            return True
        if isinstance(row.payload, dict) and INFLIGHT in row.payload:  # an attempt of a sender that died
            await self.outcome_unknown(session, row, "the sender stopped between the call and its record")
        if row.chat_id > 0 and blocked:
            self.drop(row, BLOCKED)
            return True
        ticket = await session.get(Ticket, row.ticket_id) if row.ticket_id else None
        resolved = await self._fill_in(session, row, ticket)
        if resolved is None:  # a reply waiting for its card: look again soon, keep the chat's order
            row.next_attempt_at = utcnow() + timedelta(seconds=self.limits.card_wait)
            _release(row)
            return False
        if resolved is False:
            return True  # dropped (superseded or pointless)
        done = int(row.payload.get(PARTS_SENT, 0))
        message_ids = [int(m) for m in row.payload.get(PART_IDS, [])]
        attempt = self._mark_attempt(row)
        method, payload = resolved
        return method, payload, done, message_ids, attempt

    def _mark_attempt(self, row: OutboxMessage) -> int:
        now = utcnow()
        row.attempts += 1
        row.locked_until = now + timedelta(seconds=self.limits.lease)
        row.payload = in_flight(row.payload, self.worker_id, row.attempts, now)
        return row.attempts

    async def begin(self, row_id: int) -> int:
        """A later part's attempt, under a row lock: still pending and ours? Then extend the lease, mark the
        attempt as begun and return its number (0: do not send)."""
        async with self.db.session() as session:
            stmt = select(OutboxMessage).where(OutboxMessage.id == row_id).with_for_update()
            row = (await session.exec(stmt)).first()
            if row is None or row.status != "pending" or row.locked_by != self.worker_id:
                return 0
            if row.chat_id > 0 and await _blocked(session, row.chat_id):
                self.drop(row, BLOCKED)
                return 0
            return self._mark_attempt(row)

    async def _fill_in(self, session: AsyncSession, row: OutboxMessage, ticket: Ticket | None) -> Any:
        """What is known only at send time: the card's message id, its topic. None = wait; False = dropped."""
        payload = public(row.payload)
        if not await uploads.attach(session, row, payload):
            return self.drop(row, "the file to upload is gone")
        if row.edits_card:
            if ticket is None:
                return self.drop(row, "no ticket")
            if ticket.staff_chat_id is not None and row.chat_id != ticket.staff_chat_id:
                return self.drop(row, "the card moved to another chat")
            newer = (
                await session.exec(
                    select(OutboxMessage.id).where(
                        OutboxMessage.ticket_id == row.ticket_id,
                        col(OutboxMessage.edits_card).is_(True),
                        OutboxMessage.status == "pending",
                        col(OutboxMessage.id) > row.id,
                    )
                )
            ).first()
            if newer is not None:
                return self.drop(row, "superseded by a newer card edit")
            if ticket.staff_message_id is None:
                if await _card_pending(session, ticket):
                    return None
                return self.drop(row, "the card was never delivered")
            payload["message_id"] = ticket.staff_message_id
        if ticket is not None and row.chat_id == ticket.staff_chat_id:
            if ticket.staff_thread_id and row.method in THREADED:
                payload["message_thread_id"] = ticket.staff_thread_id
            if row.reply_to_card:
                if ticket.staff_message_id is None:
                    if await _card_pending(session, ticket):
                        return None
                else:
                    payload["reply_parameters"] = {
                        "message_id": ticket.staff_message_id,
                        "allow_sending_without_reply": True,
                    }
        return row.method, payload

    # -- outcomes ------------------------------------------------------------------------------------

    def drop(self, row: OutboxMessage, reason: str) -> bool:
        """Nothing to send any more (superseded, pointless, the customer blocked the bot)."""
        self.stats.dropped += 1
        row.status = "dropped"
        row.last_error = reason
        _release(row)
        row.payload = settled(row.payload)
        return False

    async def outcome_unknown(self, session: AsyncSession, row: OutboxMessage, why: str) -> None:
        """A call that may have reached the chat: count it, say so in the log and on the ticket."""
        self.stats.unknown_outcome += 1
        attempt = (row.payload.get(INFLIGHT) or {}).get("attempt", row.attempts)
        note = f"outcome of attempt {attempt} unknown ({why}); sending again, the chat may see it twice"
        log.warning("outbox row %s to chat %s: %s", row.id, row.chat_id, note)
        row.last_error = note[:500]
        row.payload = settled(row.payload)
        await self.hooks.uncertain(session, row, note)

    async def record_success(
        self, session: AsyncSession, row: OutboxMessage | None, message_ids: list[int], thread_id: int | None
    ) -> OutboxMessage | None:
        """Telegram confirmed the row: its message ids, the links replies need, the card's or topic's id."""
        if row is None:
            return None
        row.status = "sent"
        row.sent_at = utcnow()
        row.result_message_id = message_ids[-1] if message_ids else None
        _release(row)
        row.payload = settled(row.payload)
        await uploads.forget(session, row)
        if message_ids and row.ticket_id and row.link_kind:
            for message_id in message_ids:
                await repos.add_link(session, row.chat_id, message_id, row.ticket_id, row.link_kind)
            if row.link_kind == "card":
                ticket = await session.get(Ticket, row.ticket_id)
                if ticket is not None and ticket.staff_chat_id in (None, row.chat_id):  # not a chat it has left
                    ticket.staff_message_id = message_ids[-1]
                    ticket.staff_chat_id = row.chat_id
        if row.link_kind == "topic" and row.ticket_id and thread_id is not None:  # createForumTopic
            ticket = await session.get(Ticket, row.ticket_id)
            if ticket is not None and ticket.staff_chat_id in (None, row.chat_id):
                ticket.staff_thread_id = thread_id
        return row

    async def note_parts(self, row_id: int, parts: int, message_ids: list[int]) -> None:
        """Parts of a split row went out: a retry continues after them."""
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is not None:
                row.payload = {**settled(row.payload), PARTS_SENT: parts, PART_IDS: list(message_ids)}

    async def reschedule(
        self,
        row_id: int,
        delay: timedelta,
        error: str,
        *,
        count: bool,
        parts: int = 0,
        ids: list[int] | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Try again after `delay`; a counted failure past `max_attempts` gives the row up."""
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None or row.status != "pending":
                return
            payload = settled(row.payload)
            if parts:
                payload[PARTS_SENT] = parts
                payload[PART_IDS] = list(ids or [])
            row.payload = payload
            if not count:
                row.attempts = max(0, row.attempts - 1)
            row.last_error = error[:500]
            _release(row)
            if maybe_sent:
                await self.outcome_unknown(session, row, f"no answer: {error[:120]}")
            if count and row.attempts >= self.limits.max_attempts:
                row.status = "failed"
                row.payload = settled(row.payload)
                await uploads.forget(session, row)
                self.stats.failed += 1
                log.warning(
                    "outbox row %s to chat %s gave up after %s tries: %s", row.id, row.chat_id, row.attempts, error
                )
                await self.hooks.failed(session, row, error)
            else:
                row.next_attempt_at = utcnow() + delay

    async def unreachable(self, row_id: int, error: str) -> None:
        """403: a customer blocked the bot (nothing more is sent to them), or the bot left a group."""
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.status = "failed"
            row.last_error = error[:500]
            _release(row)
            row.payload = settled(row.payload)
            await uploads.forget(session, row)
            if row.chat_id < 0:
                log.error("chat %s refuses the bot (%s): was it removed from the group?", row.chat_id, error)
                return
            customer = await repos.customer_by_chat_id(session, row.chat_id)
            if customer is None:
                await self.hooks.stranger_unreachable(session, row, error)
                return
            first_time = customer.unreachable_since is None
            customer.unreachable_since = customer.unreachable_since or utcnow()
            for other in await outbox_rows.pending_to_chat(session, row.chat_id):
                other.status = "dropped"
                other.last_error = BLOCKED
                _release(other)
            if first_time:
                await self.hooks.customer_blocked(session, row, customer)

    async def rejected(self, row_id: int, description: str, *, harmless: bool) -> None:
        """Telegram refused the call for good (after any fallback)."""
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.status = "dropped" if harmless else "failed"
            row.last_error = description[:500]
            _release(row)
            row.payload = settled(row.payload)
            await uploads.forget(session, row)
            if harmless:
                self.stats.dropped += 1
            else:
                self.stats.failed += 1
                log.warning("outbox row %s (%s) refused: %s", row.id, row.method, description)
                await self.hooks.failed(session, row, description)


async def _blocked(session: AsyncSession, chat_id: int) -> bool:
    """Did the person of this private chat block the bot? (A private chat's id is its user's id.)"""
    stmt = select(Customer.unreachable_since).where(Customer.telegram_id == chat_id)
    return any(since is not None for since in (await session.exec(stmt)).all())


async def _card_pending(session: AsyncSession, ticket: Ticket) -> bool:
    card = (
        await session.exec(
            select(OutboxMessage.id).where(
                OutboxMessage.ticket_id == ticket.id,
                OutboxMessage.link_kind == "card",
                OutboxMessage.status == "pending",
            )
        )
    ).first()
    return card is not None
