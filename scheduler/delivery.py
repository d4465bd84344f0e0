"""Outbox delivery: sends queued rows within Telegram's limits, exactly once when the messenger answers.

- A row is claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several processes share
  the outbox without sending a row twice; per chat, rows go out one at a time and in order.
- Limits: a global rate, a minimum interval per private chat and a per-minute budget per group.
- 429 → wait `retry_after`; 5xx and timeouts → retry with backoff, then give up and tell the staff;
  403 → the customer is marked unreachable and nothing more is sent to them; refused markup → plain text.
- Success stores Telegram's message id (and the links replies need), so a restart resends nothing
  that Telegram confirmed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from sqlmodel import col, select

from helpdesk import delivery_events
from helpdesk.clock import now_utc
from helpdesk.i18n import to_plain
from helpdesk.outbox import bell
from helpdesk.policy import DeskPolicy
from scheduler.transport import Rejected, RetryLater, Transient, Transport, Unreachable
from storage import repos
from storage.db import Database
from storage.models import OutboxMessage, Ticket

log = logging.getLogger("bot.delivery")

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CAPTIONED = frozenset(
    {"sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendVoice", "sendAnimation", "copyMessage"}
)
THREADED = frozenset({*CAPTIONED, "sendMessage", "sendVideoNote"})


@dataclass(frozen=True)
class DeliveryLimits:
    per_second: float = 30.0
    private_interval: float = 1.0
    group_per_minute: int = 20
    max_attempts: int = 8
    poll_every: float = 1.0
    lease: float = 60.0
    claim_batch: int = 300
    per_chat_batch: int = 20


@dataclass
class DeliveryStats:
    sent: int = 0
    retried_429: int = 0
    retried_transient: int = 0
    failed: int = 0
    unreachable: int = 0
    unknown_outcome: int = 0
    plain_fallbacks: int = 0
    by_chat_last: dict[int, float] = field(default_factory=dict)


class ChatPacer:
    """When each chat may receive its next message (monotonic seconds)."""

    def __init__(self, limits: DeliveryLimits) -> None:
        self.limits = limits
        self._next: dict[int, float] = {}
        self._group_window: dict[int, deque[float]] = defaultdict(deque)

    def ready_at(self, chat_id: int) -> float:
        ready = self._next.get(chat_id, 0.0)
        if chat_id < 0:
            window = self._group_window[chat_id]
            now = time.monotonic()
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.limits.group_per_minute:
                ready = max(ready, window[0] + 60)
        return ready

    def record(self, chat_id: int) -> None:
        now = time.monotonic()
        if chat_id < 0:
            self._group_window[chat_id].append(now)
        else:
            self._next[chat_id] = now + self.limits.private_interval

    def defer(self, chat_id: int, seconds: float) -> None:
        self._next[chat_id] = max(self._next.get(chat_id, 0.0), time.monotonic() + seconds)


def _backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(60.0, 0.5 * 2 ** max(0, attempt - 1)))


def split_plain(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut text into pieces of at most `limit` characters, preferring line and word boundaries."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return [p for p in pieces if p] or [text[:limit]]


def _calls_for(method: str, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One row may need several calls: texts over 4096 and captions over 1024 characters are split."""
    if method == "sendMessage":
        visible = to_plain(payload["text"]) if payload.get("parse_mode") else payload["text"]
        if len(visible) <= TEXT_LIMIT:
            return [(method, payload)]
        chunks = split_plain(visible)
        calls = []
        for index, chunk in enumerate(chunks):
            part = {k: v for k, v in payload.items() if k not in ("text", "parse_mode", "reply_markup")}
            part["text"] = chunk
            if index == len(chunks) - 1 and "reply_markup" in payload:
                part["reply_markup"] = payload["reply_markup"]
            calls.append((method, part))
        return calls
    if method in CAPTIONED and payload.get("caption"):
        visible = to_plain(payload["caption"]) if payload.get("parse_mode") else payload["caption"]
        if len(visible) > CAPTION_LIMIT:
            head = {k: v for k, v in payload.items() if k not in ("caption", "parse_mode")}
            head["caption"] = visible[: CAPTION_LIMIT - 1] + "…"
            rest = {"chat_id": payload["chat_id"], "text": visible}
            if payload.get("message_thread_id"):
                rest["message_thread_id"] = payload["message_thread_id"]
            return [(method, head), *_calls_for("sendMessage", rest)]
    return [(method, payload)]


def _plain_version(payload: dict[str, Any]) -> dict[str, Any]:
    plain = dict(payload)
    plain.pop("parse_mode", None)
    for key in ("text", "caption"):
        if key in plain and isinstance(plain[key], str):
            plain[key] = to_plain(plain[key])
    return plain


def _message_id(result: Any) -> int | None:
    if isinstance(result, dict):
        value = result.get("message_id")
        return int(value) if value is not None else None
    return None


class OutboxDelivery:
    """The delivery loop of one process."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        policy: DeskPolicy,
        limits: DeliveryLimits | None = None,
        *,
        worker_id: str | None = None,
        on_sent: Callable[[OutboxMessage], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.transport = transport
        self.policy = policy
        self.limits = limits or DeliveryLimits()
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.pacer = ChatPacer(self.limits)
        self.rate = AsyncLimiter(self.limits.per_second, 1)
        self.stats = DeliveryStats()
        self._active: dict[int, asyncio.Task[None]] = {}
        self._on_sent = on_sent

    # -- loop ---------------------------------------------------------------------------------------

    async def release_stale_locks(self) -> None:
        """On SQLite only this process exists, so any lease left over belongs to a dead one."""
        if not self.db.is_sqlite:
            return
        async with self.db.session() as session:
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.locked_until).is_not(None)))).all()
            for row in rows:
                row.locked_until = None
                row.locked_by = None
                session.add(row)

    async def run(self, stop: asyncio.Event) -> None:
        await self.release_stale_locks()
        while not stop.is_set():
            try:
                await self.dispatch_due()
            except Exception:  # the loop must survive a database hiccup
                log.exception("outbox pass failed")
                await asyncio.sleep(1)
            await bell.wait(self.limits.poll_every)
        for task in list(self._active.values()):
            task.cancel()

    async def dispatch_due(self) -> int:
        """Claim due rows of idle chats and start a sender per chat; returns rows claimed."""
        claimed = await self._claim()
        by_chat: dict[int, list[int]] = defaultdict(list)
        for row_id, chat_id in claimed:
            by_chat[chat_id].append(row_id)
        for chat_id, ids in by_chat.items():
            task = asyncio.create_task(self._send_chat(chat_id, ids))
            self._active[chat_id] = task
            task.add_done_callback(lambda _t, c=chat_id: self._chat_done(c))
        return len(claimed)

    def _chat_done(self, chat_id: int) -> None:
        self._active.pop(chat_id, None)
        bell.ring()

    async def drain(self, timeout: float = 30.0) -> None:
        """Deliver everything due now (tests, CLI and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed = await self.dispatch_due()
            if self._active:
                await asyncio.gather(*self._active.values(), return_exceptions=True)
            elif not claimed:
                return

    # -- claiming -----------------------------------------------------------------------------------

    async def _claim(self) -> list[tuple[int, int]]:
        now = now_utc()
        busy = list(self._active)
        async with self.db.session() as session:
            stmt = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                    (col(OutboxMessage.locked_until).is_(None)) | (col(OutboxMessage.locked_until) < now),
                )
                .order_by(col(OutboxMessage.id))
                .limit(self.limits.claim_batch)
                .with_for_update(skip_locked=True)
            )
            if busy:
                stmt = stmt.where(col(OutboxMessage.chat_id).not_in(busy))
            rows = (await session.exec(stmt)).all()
            per_chat: dict[int, int] = defaultdict(int)
            blocked: set[int] = set()
            chosen: list[tuple[int, int]] = []
            for row in rows:
                if row.chat_id in blocked or per_chat[row.chat_id] >= self.limits.per_chat_batch:
                    blocked.add(row.chat_id)
                    continue
                per_chat[row.chat_id] += 1
                row.locked_until = now + timedelta(seconds=self.limits.lease)
                row.locked_by = self.worker_id
                session.add(row)
                chosen.append((row.id, row.chat_id))
        if not self.db.is_sqlite and chosen:
            chosen = await self._drop_out_of_order(chosen)
        return chosen

    async def _drop_out_of_order(self, chosen: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Across processes: never send a chat's row while an older row of that chat is claimed elsewhere."""
        chats = {chat for _, chat in chosen}
        first = {}
        for row_id, chat in chosen:
            first.setdefault(chat, row_id)
        now = now_utc()
        async with self.db.read() as session:
            stmt = select(OutboxMessage.chat_id, OutboxMessage.id).where(
                col(OutboxMessage.chat_id).in_(chats),
                OutboxMessage.status == "pending",
                OutboxMessage.locked_by != self.worker_id,
                col(OutboxMessage.locked_until) > now,
            )
            others = (await session.exec(stmt)).all()
        conflicted = {chat for chat, row_id in others if row_id < first[chat]}
        if not conflicted:
            return chosen
        keep = [(r, c) for r, c in chosen if c not in conflicted]
        await self._unlock([r for r, c in chosen if c in conflicted])
        return keep

    async def _unlock(self, ids: list[int]) -> None:
        if not ids:
            return
        async with self.db.session() as session:
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))).all()
            for row in rows:
                if row.locked_by == self.worker_id:
                    row.locked_until = None
                    row.locked_by = None
                    session.add(row)

    # -- sending ------------------------------------------------------------------------------------

    async def _send_chat(self, chat_id: int, ids: list[int]) -> None:
        for index, row_id in enumerate(ids):
            try:
                carry_on = await self._send_row(row_id)
            except Exception:
                log.exception("delivery of outbox row %s failed unexpectedly", row_id)
                carry_on = False
            if not carry_on:
                await self._unlock(ids[index + 1 :])
                return

    async def _wait_for_slot(self, chat_id: int) -> None:
        while True:
            delay = self.pacer.ready_at(chat_id) - time.monotonic()
            if delay <= 0:
                break
            await asyncio.sleep(delay)
        await self.rate.acquire()

    async def _send_row(self, row_id: int) -> bool:
        """Send one row; False when the chat's later rows must wait (ordering, retry-after)."""
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None or row.status != "pending" or row.locked_by != self.worker_id:
                return True
            ticket = await session.get(Ticket, row.ticket_id) if row.ticket_id else None
            resolved = await self._resolve(session, row, ticket)
            if resolved is None:
                return False  # waiting for the card to exist
            if resolved is False:
                return True  # dropped (superseded or pointless)
            row.attempts += 1
            session.add(row)
        method, payload = resolved
        calls = _calls_for(method, payload)
        done = int(row.payload.get("_parts_sent", 0)) if isinstance(row.payload, dict) else 0
        result: Any = None
        for part_index, (part_method, part_payload) in enumerate(calls):
            if part_index < done:
                continue
            await self._wait_for_slot(row.chat_id)
            try:
                result = await self._call(part_method, part_payload)
            except RetryLater as exc:
                self.stats.retried_429 += 1
                self.pacer.defer(row.chat_id, exc.retry_after)
                await self._reschedule(
                    row_id, timedelta(seconds=exc.retry_after), str(exc), count=False, parts=part_index
                )
                return False
            except Transient as exc:
                self.stats.retried_transient += 1
                if "timeout" in str(exc).lower():
                    self.stats.unknown_outcome += 1
                self.pacer.defer(row.chat_id, 0.5)
                await self._reschedule(row_id, _backoff(row.attempts), str(exc), count=True, parts=part_index)
                return False
            except Unreachable as exc:
                self.stats.unreachable += 1
                await self._unreachable(row_id, str(exc))
                return True
            except Rejected as exc:
                self.stats.failed += 1
                await self._rejected(row_id, exc.description)
                return True
            finally:
                self.pacer.record(row.chat_id)
            if len(calls) > 1 and part_index < len(calls) - 1:
                await self._note_parts(row_id, part_index + 1)
        await self._succeeded(row_id, _message_id(result))
        return True

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        try:
            return await self.transport.call(method, payload)
        except Rejected as exc:
            text = exc.description.lower()
            if "can't parse entities" in text or "can't find end" in text or "unsupported start tag" in text:
                self.stats.plain_fallbacks += 1
                return await self.transport.call(method, _plain_version(payload))
            if "message is not modified" in text:
                return True
            raise

    async def _resolve(self, session: Any, row: OutboxMessage, ticket: Ticket | None) -> Any:
        """Fill in what is known only at send time: the card's message id, its topic. None = wait."""
        payload = dict(row.payload)
        payload.pop("_parts_sent", None)
        if row.edits_card:
            if ticket is None:
                return self._drop(session, row, "no ticket")
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
                return self._drop(session, row, "superseded by a newer card edit")
            if ticket.staff_message_id is None:
                if await self._card_pending(session, ticket):
                    return None
                return self._drop(session, row, "the card was never delivered")
            payload["message_id"] = ticket.staff_message_id
        if ticket is not None and row.chat_id == ticket.staff_chat_id:
            if ticket.staff_thread_id and row.method in THREADED:
                payload["message_thread_id"] = ticket.staff_thread_id
            if row.reply_to_card:
                if ticket.staff_message_id is None:
                    if await self._card_pending(session, ticket):
                        return None
                else:
                    payload["reply_parameters"] = {
                        "message_id": ticket.staff_message_id,
                        "allow_sending_without_reply": True,
                    }
        return row.method, payload

    async def _card_pending(self, session: Any, ticket: Ticket) -> bool:
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

    def _drop(self, session: Any, row: OutboxMessage, reason: str) -> bool:
        row.status = "dropped"
        row.last_error = reason
        row.locked_until = None
        session.add(row)
        return False

    # -- outcomes -----------------------------------------------------------------------------------

    async def _succeeded(self, row_id: int, message_id: int | None) -> None:
        self.stats.sent += 1
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.status = "sent"
            row.sent_at = now_utc()
            row.result_message_id = message_id
            row.locked_until = None
            session.add(row)
            if message_id and row.ticket_id and row.link_kind:
                await repos.add_link(session, row.chat_id, message_id, row.ticket_id, row.link_kind)
                if row.link_kind == "card":
                    ticket = await session.get(Ticket, row.ticket_id)
                    if ticket is not None:
                        ticket.staff_message_id = message_id
                        ticket.staff_chat_id = row.chat_id
                        session.add(ticket)
        if self._on_sent is not None:
            await self._on_sent(row)

    async def _note_parts(self, row_id: int, parts: int) -> None:
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is not None:
                row.payload = {**row.payload, "_parts_sent": parts}
                session.add(row)

    async def _reschedule(self, row_id: int, delay: timedelta, error: str, *, count: bool, parts: int) -> None:
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            if parts:
                row.payload = {**row.payload, "_parts_sent": parts}
            if not count:
                row.attempts = max(0, row.attempts - 1)
            row.last_error = error[:500]
            row.locked_until = None
            row.locked_by = None
            if count and row.attempts >= self.limits.max_attempts:
                row.status = "failed"
                self.stats.failed += 1
                log.warning(
                    "outbox row %s to chat %s gave up after %s tries: %s", row.id, row.chat_id, row.attempts, error
                )
                await delivery_events.delivery_failed(session, row, error, self.policy)
            else:
                row.next_attempt_at = now_utc() + delay
            session.add(row)

    async def _unreachable(self, row_id: int, error: str) -> None:
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.status = "failed"
            row.last_error = error[:500]
            row.locked_until = None
            session.add(row)
            await delivery_events.chat_unreachable(session, row, self.policy)

    async def _rejected(self, row_id: int, description: str) -> None:
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            lowered = description.lower()
            harmless = "message to edit not found" in lowered or "message can't be edited" in lowered
            row.status = "dropped" if harmless else "failed"
            row.last_error = description[:500]
            row.locked_until = None
            session.add(row)
            if not harmless:
                log.warning("outbox row %s (%s) refused: %s", row.id, row.method, description)
                await delivery_events.delivery_failed(session, row, description, self.policy)
