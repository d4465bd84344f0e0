"""Outbox delivery: sends queued rows within Telegram's limits, exactly once when the messenger answers.

- A row is claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several processes share
  the outbox without sending a row twice. Per chat, rows go out one at a time and in id order: a chat's
  row is never claimed while an older row of that chat waits (backoff, retry-after) or is leased by
  another process, and a claim that raced with another process is given back.
- Before every call the row is re-checked under a row lock and its lease extended, so a lease that ran
  out while waiting for a slot can never make two processes send it.
- Group commit: those re-checks (with the in-flight marks) and the records of successful calls, queued
  by the senders of different chats at the same moment, share one transaction. For each row nothing
  changes: its mark is committed before its call, its record after the call returned.
- Limits: a global rate (evenly spaced, no bursts), a minimum interval per private chat and a per-minute
  budget per group. The pacing of the last minute is restored from the table after a restart, and on
  PostgreSQL for every chat a process claims (another process may have written to it a moment ago).
  The global rate is per process: with N processes set OUTBOX_RATE_PER_SECOND to Telegram's 30 / N.
- 429 → wait `retry_after`; 5xx and network errors → retry with backoff, then give up and tell the staff;
  403 → the customer is marked unreachable and nothing more is sent to them; refused HTML → plain text;
  refused keyboard → without it; a vanished forum topic → the general topic.
- Texts over 4096 and captions over 1024 characters (UTF-16 code units, as Telegram counts) are split;
  the parts already sent are remembered, so a retry continues where it stopped.
- Success stores Telegram's message id (and the links replies need), so a restart resends nothing that
  Telegram confirmed. What cannot be known is counted, never hidden: when the sender dies between a
  call and its record, or the answer to a call is lost, the row is sent again (a lost answer is worse
  than a repeated one) and the doubt is logged, counted in `stats.unknown_outcome` and recorded on
  the ticket (`delivery_uncertain`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import delivery_events, metrics
from helpdesk.clock import now_utc
from helpdesk.i18n import to_plain
from helpdesk.outbox import bell
from helpdesk.policy import DeskPolicy
from scheduler.transport import Rejected, RetryLater, Transient, Transport, Unreachable
from storage import repos
from storage.db import Database
from storage.models import Customer, OutboxMessage, Ticket

log = logging.getLogger("bot.delivery")

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CAPTIONED = frozenset(
    {"sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendVoice", "sendAnimation", "copyMessage"}
)
THREADED = frozenset({*CAPTIONED, "sendMessage", "sendVideoNote"})
#: tries to record a confirmed send before leaving it to the lease (see `_record_sent`)
RECORD_ATTEMPTS = 3
INFLIGHT = "_inflight"  # payload key: an attempt began and has not been concluded yet
PARTS_SENT = "_parts_sent"  # payload key: how many parts of a split row went out
PART_IDS = "_message_ids"  # payload key: message ids of the parts already sent


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
    card_wait: float = 1.0  # how soon to look again when a reply must wait for its ticket's card


@dataclass
class DeliveryStats:
    sent: int = 0  # rows delivered
    calls: int = 0  # Bot API calls made (parts, retries and fallbacks included)
    retried_429: int = 0
    retried_transient: int = 0
    failed: int = 0
    dropped: int = 0
    unreachable: int = 0
    unknown_outcome: int = 0  # calls that may or may not have reached the chat, sent again
    plain_fallbacks: int = 0
    order_conflicts: int = 0  # claims given back because another process held an older row of the chat


# The group commit's statements, built once (building one per batch costs more than running it).
_ROWS_FOR_UPDATE = (
    select(OutboxMessage)
    .where(col(OutboxMessage.id).in_(bindparam("ids", expanding=True)))
    .order_by(col(OutboxMessage.id))
    .with_for_update()
)
_UNREACHABLE = select(Customer.telegram_id).where(
    col(Customer.telegram_id).in_(bindparam("chats", expanding=True)), col(Customer.unreachable_since).is_not(None)
)
_TICKETS = select(Ticket).where(col(Ticket.id).in_(bindparam("ids", expanding=True)))
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
_LEASE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("b_id"))
    .values(locked_until=bindparam("b_until"), locked_by=bindparam("b_by"))
)


@dataclass
class _Op:
    """A request for the next group-commit transaction: begin a row's attempt, or record its success."""

    kind: str  # "prepare" | "succeeded"
    row_id: int
    message_ids: list[int] = field(default_factory=list)
    thread_id: int | None = None
    future: asyncio.Future[Any] | None = None


def _settle(op: _Op, result: Any = None, *, exc: BaseException | None = None) -> None:
    future = op.future
    if future is None or future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    elif exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: what Telegram's 4096/1024 limits count."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """The longest prefix (in code points) whose UTF-16 length is at most `limit`."""
    if len(text) * 2 <= limit or utf16_len(text) <= limit:
        return len(text)
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_plain(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut text into pieces of at most `limit` UTF-16 units, preferring line, then word boundaries."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        hard = _fit(rest, limit)
        cut = rest.rfind("\n", 0, hard + 1)
        if cut < hard // 2:
            cut = rest.rfind(" ", 0, hard + 1)
        if cut < hard // 2:
            cut = hard
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip("\n ")
    if rest.strip():
        pieces.append(rest)
    return pieces or [text[: _fit(text, limit)]]


def _visible(payload: dict[str, Any], key: str) -> str:
    value = payload[key]
    return to_plain(value) if payload.get("parse_mode") else value


def _text_parts(base: dict[str, Any], text: str, markup: Any) -> list[tuple[str, dict[str, Any]]]:
    chunks = split_plain(text, TEXT_LIMIT)
    calls = []
    for index, chunk in enumerate(chunks):
        part = {**base, "text": chunk}
        if index == len(chunks) - 1 and markup is not None:
            part["reply_markup"] = markup
        calls.append(("sendMessage", part))
    return calls


def calls_for(method: str, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One row may need several calls: texts over 4096 and captions over 1024 UTF-16 units are split.

    Split parts are sent as plain text (the visible text of the HTML), the keyboard goes with the last
    part and only the first part replies to anything.
    """
    if method == "sendMessage":
        visible = _visible(payload, "text")
        if utf16_len(visible) <= TEXT_LIMIT:
            return [(method, payload)]
        base = {k: v for k, v in payload.items() if k not in ("text", "parse_mode", "reply_markup")}
        calls = _text_parts(base, visible, payload.get("reply_markup"))
        for _, part in calls[1:]:
            part.pop("reply_parameters", None)
        return calls
    if method in CAPTIONED and payload.get("caption"):
        visible = _visible(payload, "caption")
        if utf16_len(visible) > CAPTION_LIMIT:
            head_caption, *_ = split_plain(visible, CAPTION_LIMIT)
            rest_text = visible[len(head_caption) :].lstrip("\n ")
            head = {k: v for k, v in payload.items() if k not in ("caption", "parse_mode", "reply_markup")}
            head["caption"] = head_caption
            base = {"chat_id": payload["chat_id"]}
            if payload.get("message_thread_id"):
                base["message_thread_id"] = payload["message_thread_id"]
            if not rest_text:
                if "reply_markup" in payload:
                    head["reply_markup"] = payload["reply_markup"]
                return [(method, head)]
            return [(method, head), *_text_parts(base, rest_text, payload.get("reply_markup"))]
    return [(method, payload)]


# kept for callers of the old private name
_calls_for = calls_for


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


def _thread_id(result: Any) -> int | None:
    """The topic createForumTopic made."""
    if isinstance(result, dict) and "message_id" not in result and result.get("message_thread_id") is not None:
        return int(result["message_thread_id"])
    return None


def _public(payload: dict[str, Any]) -> dict[str, Any]:
    """The Bot API parameters of a row: our bookkeeping keys (`_…`) removed."""
    return {k: v for k, v in payload.items() if not k.startswith("_")}


def _maybe_sent(exc: Transient) -> bool:
    """A network error or timeout may hide a call that went through; a 5xx answer means it did not."""
    text = str(exc).lower()
    return text.startswith(("network", "timeout")) or "timeout" in text


def _backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(60.0, 0.5 * 2 ** max(0, attempt - 1)))


class RateLimiter:
    """At most `per_second` calls in any one-second window, evenly spaced: no bursts Telegram would punish.

    Callers get slots `1 / per_second` apart; one that wakes late lets the next keep its slot (so the
    average holds), while a sliding window over the moments callers actually went through caps every
    second at the limit, however late anyone woke.
    """

    WINDOW = 1.05  # one second, plus a margin for the jitter between our clock and the server's

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        # one below the limit: a call that left late and one that left early may still arrive together
        self.capacity = max(1, math.ceil(per_second) - 1)
        self._slot = float("-inf")
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._recent and self._recent[0] <= now - self.WINDOW:
                    self._recent.popleft()
                wait = self._slot - now
                if len(self._recent) >= self.capacity:
                    wait = max(wait, self._recent[0] + self.WINDOW - now)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self._slot = max(self._slot, now - self.interval) + self.interval
            self._recent.append(now)


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

    def record(self, chat_id: int, at: float | None = None) -> None:
        """A call to the chat was made (at `at`, default now); the next waits accordingly."""
        moment = time.monotonic() if at is None else at
        if chat_id < 0:
            window = self._group_window[chat_id]
            window.append(moment)
            if len(window) > 1 and window[-2] > moment:  # restored history may arrive out of order
                self._group_window[chat_id] = deque(sorted(window))
        else:
            self._next[chat_id] = max(self._next.get(chat_id, 0.0), moment + self.limits.private_interval)

    def merge_group(self, chat_id: int, times: list[float]) -> None:
        """Take a group's sends as the table records them, unless this process counted more itself."""
        window = self._group_window[chat_id]
        if len(times) > len(window):
            self._group_window[chat_id] = deque(sorted(times))

    def defer(self, chat_id: int, seconds: float) -> None:
        self._next[chat_id] = max(self._next.get(chat_id, 0.0), time.monotonic() + seconds)


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
        self.rate = RateLimiter(self.limits.per_second)
        self.stats = DeliveryStats()
        self._active: dict[int, asyncio.Task[None]] = {}
        self._on_sent = on_sent
        self._ops: list[_Op] = []
        self._journal: asyncio.Task[None] | None = None
        self._started = False
        self._stopping = False

    # -- start-up -----------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Once per process: free leases of a dead SQLite process and restore the pacing of the last minute."""
        if self._started:
            return
        self._started = True
        await self.release_stale_locks()
        await self._restore_pacing()

    async def release_stale_locks(self) -> None:
        """On SQLite only this process exists, so any lease left over belongs to a dead one."""
        if not self.db.is_sqlite:
            return
        async with self.db.session() as session:
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.locked_until).is_not(None)))).all()
            for row in rows:
                row.locked_until = None
                row.locked_by = None

    async def _restore_pacing(self, chats: set[int] | None = None) -> None:
        """What the table knows about the last minute's sends (of a restart's predecessor, or of another
        process that had these chats before us): never a second message to a private chat within the
        interval, never more than the budget to a group."""
        wall, mono = now_utc(), time.monotonic()
        stmt = select(OutboxMessage.chat_id, OutboxMessage.sent_at).where(
            OutboxMessage.status == "sent", col(OutboxMessage.sent_at) >= wall - timedelta(seconds=60)
        )
        if chats is not None:
            stmt = stmt.where(col(OutboxMessage.chat_id).in_(chats))
        async with self.db.read() as session:
            recent = (await session.exec(stmt)).all()
        groups: dict[int, list[float]] = defaultdict(list)
        for chat_id, sent_at in recent:
            if sent_at is None:
                continue
            at = mono - (wall - sent_at).total_seconds()
            if chat_id < 0:
                groups[int(chat_id)].append(at)
            else:
                self.pacer.record(int(chat_id), at=at)
        for chat_id, times in groups.items():
            self.pacer.merge_group(chat_id, times)

    # -- loop ---------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, grace: float = 5.0) -> None:
        """Deliver until `stop` is set; then let the calls in flight finish (up to `grace` seconds) and give
        the rows claimed but not started back, so another process (or the next start) sends them at once."""
        await self.startup()
        try:
            while not stop.is_set():
                try:
                    await self.dispatch_due()
                except Exception:  # the loop must survive a database hiccup
                    log.exception("outbox pass failed")
                    await asyncio.sleep(1)
                await bell.wait(self.limits.poll_every)
            self._stopping = True
            if self._active:
                await asyncio.wait(list(self._active.values()), timeout=grace)
        finally:
            for task in list(self._active.values()):
                task.cancel()

    async def dispatch_due(self) -> int:
        """Claim due rows of idle chats and start a sender per chat; returns rows claimed."""
        await self.startup()
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

    async def drain(self, timeout: float = 30.0, *, until_empty: bool = False) -> None:
        """Deliver everything due now (tests, CLI and shutdown); `until_empty` also waits for retries."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed = await self.dispatch_due()
            if not claimed and not self._active and (not until_empty or not await self.pending_count()):
                return
            await bell.wait(min(self.limits.poll_every, 0.2))
        if self._active:  # out of time: let what is in flight finish, so nothing is left half-recorded
            await asyncio.gather(*self._active.values(), return_exceptions=True)

    async def pending_count(self) -> int:
        async with self.db.read() as session:
            stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
            return int((await session.exec(stmt)).one())

    # -- claiming -----------------------------------------------------------------------------------

    async def _claim(self) -> list[tuple[int, int]]:
        now = now_utc()
        busy = list(self._active)
        chosen: list[tuple[int, int]] = []
        async with self.db.session() as session:
            # Only ids and chats are read here (no rows, no payloads): most of what a pass reads is passed
            # over (a chat's later rows, chats beyond their batch), and the row itself is read under its
            # lock when its attempt begins (`_prepare_row`), where an unconcluded earlier attempt is found.
            stmt = _CLAIMABLE.where(_OUTBOX.c.chat_id.not_in(busy)) if busy else _CLAIMABLE
            params = {"now": now, "limit": self.limits.claim_batch}
            rows = (await session.execute(stmt, params)).all()
            if not rows:
                return []
            # a chat's queue stops at its first row that is waiting (backoff) or held by another process
            barrier_stmt = (
                select(OutboxMessage.chat_id, func.min(OutboxMessage.id))
                .where(
                    col(OutboxMessage.chat_id).in_({chat for _, chat in rows}),
                    OutboxMessage.status == "pending",
                    or_(
                        OutboxMessage.next_attempt_at > now,
                        and_(col(OutboxMessage.locked_until).is_not(None), col(OutboxMessage.locked_until) >= now),
                    ),
                )
                .group_by(col(OutboxMessage.chat_id))
            )
            barrier = {int(chat): int(first) for chat, first in (await session.exec(barrier_stmt)).all()}
            per_chat: dict[int, int] = defaultdict(int)
            stopped: set[int] = set()
            for row_id, chat in rows:
                if chat in stopped:
                    continue
                if row_id > barrier.get(chat, row_id) or per_chat[chat] >= self.limits.per_chat_batch:
                    stopped.add(chat)
                    continue
                per_chat[chat] += 1
                chosen.append((int(row_id), int(chat)))
            if chosen:
                until = now + timedelta(seconds=self.limits.lease)
                await session.execute(
                    _LEASE, [{"b_id": row_id, "b_until": until, "b_by": self.worker_id} for row_id, _ in chosen]
                )
        if chosen and not self.db.is_sqlite:  # SQLite has no SKIP LOCKED: see `_keep_in_order`
            chosen = await self._keep_in_order(chosen)
        if chosen and not self.db.is_sqlite:  # another process may have sent to these chats a moment ago
            await self._restore_pacing({chat for _, chat in chosen})
        return chosen

    async def _keep_in_order(self, chosen: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """After committing a claim: a chat's claimed rows must be a gap-free run of its pending rows.

        `SKIP LOCKED` silently passes over a row another process is claiming at this very moment, so a
        claim may hold rows 1 and 3 of a chat while another holds row 2. Our rows after the first pending
        row that is not ours are given back (all of them, when that row is older than our first).
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
        give_back = [r for r, c in chosen if c in foreign and r > foreign[c]]
        if not give_back:
            return chosen
        self.stats.order_conflicts += len({c for r, c in chosen if r in set(give_back)})
        await self._unlock(give_back)
        back = set(give_back)
        return [(r, c) for r, c in chosen if r not in back]

    async def _unlock(self, ids: list[int]) -> None:
        if not ids:
            return
        async with self.db.session() as session:
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))).all()
            for row in rows:
                if row.locked_by == self.worker_id:
                    row.locked_until = None
                    row.locked_by = None

    # -- sending ------------------------------------------------------------------------------------

    async def _send_chat(self, chat_id: int, ids: list[int]) -> None:
        for index, row_id in enumerate(ids):
            if self._stopping:
                await self._unlock(ids[index:])
                return
            try:
                carry_on = await self._send_row(row_id, chat_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("delivery of outbox row %s failed unexpectedly", row_id)
                await self._reschedule(row_id, _backoff(1), f"internal error: {exc!r}", count=True)
                carry_on = False
            if not carry_on:
                await self._unlock(ids[index + 1 :])
                return

    async def _wait_for_chat(self, chat_id: int) -> None:
        while True:
            delay = self.pacer.ready_at(chat_id) - time.monotonic()
            if delay <= 0:
                break
            await asyncio.sleep(delay)

    async def _send_row(self, row_id: int, chat_id: int) -> bool:
        """Send one row; False when the chat's later rows must wait (ordering, retry-after)."""
        await self._wait_for_chat(chat_id)
        if self._stopping:
            await self._unlock([row_id])
            return False
        prepared = await self._prepare(row_id)
        if isinstance(prepared, bool):
            return prepared
        method, payload, done, message_ids, attempt = prepared
        calls = calls_for(method, payload)
        result: Any = None
        part_method = method
        for part_index in range(done, len(calls)):
            part_method, part_payload = calls[part_index]
            if part_index > done:  # the first call's attempt was begun by _prepare
                await self._wait_for_chat(chat_id)
                attempt = await self._begin_attempt(row_id)
                if not attempt:
                    return True  # dropped meanwhile (customer unreachable), or no longer ours
            await self.rate.acquire()  # last, so nothing slow sits between the slot and the call
            try:
                result = await self._call(part_method, part_payload)
            except RetryLater as exc:
                self.stats.retried_429 += 1
                metrics.outbox_error("retry_after")
                self.pacer.defer(chat_id, exc.retry_after)
                await self._reschedule(
                    row_id, timedelta(seconds=exc.retry_after), str(exc), count=False, parts=part_index, ids=message_ids
                )
                return False
            except Transient as exc:
                self.stats.retried_transient += 1
                metrics.outbox_error("transient")
                self.pacer.defer(chat_id, 0.5)
                maybe = _maybe_sent(exc)
                await self._reschedule(
                    row_id, _backoff(attempt), str(exc), count=True, parts=part_index, ids=message_ids,
                    maybe_sent=maybe,
                )  # fmt: skip
                return False
            except Unreachable as exc:
                self.stats.unreachable += 1
                metrics.outbox_error("unreachable")
                await self._unreachable(row_id, str(exc))
                return True
            except Rejected as exc:
                metrics.outbox_error("rejected")
                await self._rejected(row_id, exc.description)
                return True
            finally:
                self.pacer.record(chat_id)
            message_id = _message_id(result)
            if message_id is not None:
                message_ids.append(message_id)
            if part_index < len(calls) - 1:
                await self._note_parts(row_id, part_index + 1, message_ids)
        metrics.record_outbox_sent(part_method)
        return await self._record_sent(row_id, message_ids, _thread_id(result))

    async def _record_sent(self, row_id: int, message_ids: list[int], thread_id: int | None) -> bool:
        """Record a send Telegram confirmed; a database hiccup here must not make it look unsent.

        Tried a few times; if it still fails, the row keeps its in-flight mark and its lease, so when the
        lease runs out the claim counts it as an unknown outcome (and sends it again) instead of silently
        rescheduling a message the customer already has."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._succeeded(row_id, message_ids, thread_id)
                return True
            except Exception:
                if attempt == RECORD_ATTEMPTS - 1:
                    log.exception(
                        "outbox row %s was sent but could not be recorded; it counts as an unknown outcome", row_id
                    )
                    return False
                await asyncio.sleep(0.2 * (attempt + 1))
        return False

    async def _prepare(self, row_id: int) -> bool | tuple[str, dict[str, Any], int, list[int], int]:
        """One transaction before the first call (shared with other chats' records, see `_journal`): lock
        the row, check it is still ours and worth sending, fill in what is known only now, and begin the
        attempt. A bool means "no call" (carry on or not)."""
        return await self._journal_submit(_Op("prepare", row_id))

    async def _prepare_row(
        self, session: AsyncSession, row: OutboxMessage | None, unreachable: bool
    ) -> bool | tuple[str, dict[str, Any], int, list[int], int]:
        if row is None or row.status != "pending" or row.locked_by != self.worker_id:
            return True
        if isinstance(row.payload, dict) and INFLIGHT in row.payload:  # an attempt of a sender that died
            await self._outcome_unknown(session, row, "the sender stopped between the call and its record")
        if row.chat_id > 0 and unreachable:
            self._drop(session, row, "customer unreachable (blocked the bot)")
            return True
        ticket = await session.get(Ticket, row.ticket_id) if row.ticket_id else None
        resolved = await self._resolve(session, row, ticket)
        if resolved is None:  # a reply waiting for its card: look again soon, keep the chat's order
            row.next_attempt_at = now_utc() + timedelta(seconds=self.limits.card_wait)
            row.locked_until = None
            row.locked_by = None
            return False
        if resolved is False:
            return True  # dropped (superseded or pointless)
        done = int(row.payload.get(PARTS_SENT, 0))
        message_ids = [int(m) for m in row.payload.get(PART_IDS, [])]
        attempt = self._mark_attempt(session, row)
        method, payload = resolved
        return method, payload, done, message_ids, attempt

    def _mark_attempt(self, session: AsyncSession, row: OutboxMessage) -> int:
        now = now_utc()
        row.attempts += 1
        row.locked_until = now + timedelta(seconds=self.limits.lease)
        row.payload = {**row.payload, INFLIGHT: {"by": self.worker_id, "attempt": row.attempts, "at": now.isoformat()}}
        return row.attempts

    async def _begin_attempt(self, row_id: int) -> int:
        """Under a row lock: still pending and ours? Then extend the lease, mark the attempt as begun and
        return its number (0: do not send)."""
        async with self.db.session() as session:
            stmt = select(OutboxMessage).where(OutboxMessage.id == row_id).with_for_update()
            row = (await session.exec(stmt)).first()
            if row is None or row.status != "pending" or row.locked_by != self.worker_id:
                return 0
            if row.chat_id > 0 and await self._unreachable_customer(session, row.chat_id):
                self._drop(session, row, "customer unreachable (blocked the bot)")
                return 0
            return self._mark_attempt(session, row)

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        self.stats.calls += 1
        try:
            return await self.transport.call(method, payload)
        except Rejected as exc:
            text = exc.description.lower()
            # First: Telegram's "not modified" text also says "reply markup", which must not strip the buttons.
            if "message is not modified" in text:
                return True
            if "can't parse entities" in text or "can't find end" in text or "unsupported start tag" in text:
                self.stats.plain_fallbacks += 1
                log.warning("%s to chat %s: HTML refused (%s); sending plain text", method, payload.get("chat_id"), exc)
                return await self._call_again(method, _plain_version(payload))
            if "message thread not found" in text and "message_thread_id" in payload:
                log.warning("chat %s: forum topic is gone; sending to the general topic", payload.get("chat_id"))
                return await self._call_again(method, {k: v for k, v in payload.items() if k != "message_thread_id"})
            if "reply_markup" in payload and ("button" in text or "reply markup" in text or "keyboard" in text):
                log.warning(
                    "%s to chat %s: keyboard refused (%s); sending without it", method, payload.get("chat_id"), exc
                )
                return await self._call_again(method, {k: v for k, v in payload.items() if k != "reply_markup"})
            raise

    async def _call_again(self, method: str, payload: dict[str, Any]) -> Any:
        self.stats.calls += 1
        try:
            return await self.transport.call(method, payload)
        except Rejected as exc:
            if "message is not modified" in exc.description.lower():
                return True
            raise

    async def _unreachable_customer(self, session: AsyncSession, chat_id: int) -> bool:
        """Did the person of this private chat block the bot? (A private chat's id is its user's id.)"""
        stmt = select(Customer.unreachable_since).where(Customer.telegram_id == chat_id)
        return any(since is not None for since in (await session.exec(stmt)).all())

    async def _resolve(self, session: AsyncSession, row: OutboxMessage, ticket: Ticket | None) -> Any:
        """Fill in what is known only at send time: the card's message id, its topic. None = wait."""
        payload = _public(row.payload)
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

    async def _card_pending(self, session: AsyncSession, ticket: Ticket) -> bool:
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

    def _drop(self, session: AsyncSession, row: OutboxMessage, reason: str) -> bool:
        self.stats.dropped += 1
        row.status = "dropped"
        row.last_error = reason
        row.locked_until = None
        row.locked_by = None
        row.payload = _settled(row.payload)
        return False

    # -- outcomes -----------------------------------------------------------------------------------

    async def _outcome_unknown(self, session: AsyncSession, row: OutboxMessage, why: str) -> None:
        """A call that may have reached the chat: count it, say so in the log and on the ticket."""
        self.stats.unknown_outcome += 1
        attempt = (row.payload.get(INFLIGHT) or {}).get("attempt", row.attempts)
        note = f"outcome of attempt {attempt} unknown ({why}); sending again, the chat may see it twice"
        log.warning("outbox row %s to chat %s: %s", row.id, row.chat_id, note)
        row.last_error = note[:500]
        row.payload = {k: v for k, v in row.payload.items() if k != INFLIGHT}
        await delivery_events.delivery_uncertain(session, row, note, self.policy)

    async def _succeeded(self, row_id: int, message_ids: list[int], thread_id: int | None = None) -> None:
        """Record a delivered row (in a transaction shared with other chats' records, see `_journal`)."""
        self.stats.sent += 1
        row = await self._journal_submit(_Op("succeeded", row_id, list(message_ids), thread_id))
        if row is not None and self._on_sent is not None:
            await self._on_sent(row)

    async def _record_success(
        self, session: AsyncSession, row: OutboxMessage | None, message_ids: list[int], thread_id: int | None
    ) -> OutboxMessage | None:
        if row is None:
            return None
        row.status = "sent"
        row.sent_at = now_utc()
        row.result_message_id = message_ids[-1] if message_ids else None
        row.locked_until = None
        row.locked_by = None
        row.payload = _settled(row.payload)
        if message_ids and row.ticket_id and row.link_kind:
            for message_id in message_ids:
                await repos.add_link(session, row.chat_id, message_id, row.ticket_id, row.link_kind)
            if row.link_kind == "card":
                ticket = await session.get(Ticket, row.ticket_id)
                if ticket is not None:
                    ticket.staff_message_id = message_ids[-1]
                    ticket.staff_chat_id = row.chat_id
        if row.link_kind == "topic" and row.ticket_id and thread_id is not None:  # createForumTopic
            ticket = await session.get(Ticket, row.ticket_id)
            if ticket is not None:
                ticket.staff_thread_id = thread_id
        return row

    # -- group commit -------------------------------------------------------------------------------

    async def _journal_submit(self, op: _Op) -> Any:
        """Queue a prepare or a record for the next shared transaction and wait until it is committed."""
        op.future = asyncio.get_running_loop().create_future()
        self._ops.append(op)
        if self._journal is None or self._journal.done():
            self._journal = asyncio.create_task(self._journal_run(), name="outbox-journal")
        return await op.future

    async def _journal_run(self) -> None:
        """Group commit: the prepares and records that senders queued meanwhile, in one transaction.

        Nothing changes for a single row: its in-flight mark is committed before its call, its record
        after the call returned, each exactly as if it had its own transaction. Records go first, so a
        card recorded in this transaction is seen by the replies to it prepared in the same one. When the
        shared transaction fails, each request is tried again alone, so one bad row fails only itself.
        """
        try:
            await asyncio.sleep(0)  # senders woken by the same answers queue their requests first
            while self._ops:
                batch, self._ops = self._ops, []
                # a sender that went away (cancelled at shutdown) gets no in-flight mark; records are kept
                batch = [op for op in batch if op.kind == "succeeded" or not op.future.done()]
                if not batch:
                    continue
                try:
                    results = await self._apply(batch)
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0], exc=exc)
                        continue
                    for op in batch:
                        try:
                            (result,) = await self._apply([op])
                        except Exception as single:
                            _settle(op, exc=single)
                        else:
                            _settle(op, result)
                    continue
                for op, result in zip(batch, results, strict=True):
                    _settle(op, result)
        except BaseException as exc:  # cancelled with the loop: nobody may wait for ever
            for op in self._ops:
                _settle(op, exc=exc)
            self._ops = []
            raise

    async def _apply(self, batch: list[_Op]) -> list[Any]:
        """One transaction for a batch of requests; results in the batch's order."""
        results: dict[int, Any] = {}
        async with self.db.session() as session:
            ids = sorted({op.row_id for op in batch})
            rows = {row.id: row for row in (await session.exec(_ROWS_FOR_UPDATE, params={"ids": ids})).all()}
            prepares = [op for op in batch if op.kind == "prepare"]
            unreachable: set[int] = set()
            chats = {rows[op.row_id].chat_id for op in prepares if op.row_id in rows and rows[op.row_id].chat_id > 0}
            if chats:  # did the person of a private chat block the bot? (its id is its user's id)
                found = await session.exec(_UNREACHABLE, params={"chats": sorted(chats)})
                unreachable = {int(chat) for chat in found.all()}
            tickets = {row.ticket_id for row in rows.values() if row.ticket_id}
            if tickets:  # loaded once for the whole batch: session.get finds them in the identity map
                (await session.exec(_TICKETS, params={"ids": sorted(tickets)})).all()
            for index, op in enumerate(batch):  # records first: see the docstring of `_journal_run`
                if op.kind == "succeeded":
                    row = rows.get(op.row_id)
                    results[index] = await self._record_success(session, row, op.message_ids, op.thread_id)
            for index, op in enumerate(batch):
                if op.kind == "prepare":
                    row = rows.get(op.row_id)
                    blocked = row is not None and row.chat_id in unreachable
                    results[index] = await self._prepare_row(session, row, blocked)
        return [results[index] for index in range(len(batch))]

    async def _note_parts(self, row_id: int, parts: int, message_ids: list[int]) -> None:
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is not None:
                payload = {k: v for k, v in row.payload.items() if k != INFLIGHT}
                row.payload = {**payload, PARTS_SENT: parts, PART_IDS: list(message_ids)}

    async def _reschedule(
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
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None or row.status != "pending":
                return
            payload = {k: v for k, v in row.payload.items() if k != INFLIGHT}
            if parts:
                payload[PARTS_SENT] = parts
                payload[PART_IDS] = list(ids or [])
            row.payload = payload
            if not count:
                row.attempts = max(0, row.attempts - 1)
            row.last_error = error[:500]
            row.locked_until = None
            row.locked_by = None
            if maybe_sent:
                await self._outcome_unknown(session, row, f"no answer: {error[:120]}")
            if count and row.attempts >= self.limits.max_attempts:
                row.status = "failed"
                row.payload = _settled(row.payload)
                self.stats.failed += 1
                log.warning(
                    "outbox row %s to chat %s gave up after %s tries: %s", row.id, row.chat_id, row.attempts, error
                )
                await delivery_events.delivery_failed(session, row, error, self.policy)
            else:
                row.next_attempt_at = now_utc() + delay

    async def _unreachable(self, row_id: int, error: str) -> None:
        async with self.db.session() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None:
                return
            row.status = "failed"
            row.last_error = error[:500]
            row.locked_until = None
            row.locked_by = None
            row.payload = _settled(row.payload)
            if row.chat_id < 0:
                log.error("chat %s refuses the bot (%s): was it removed from the group?", row.chat_id, error)
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
            row.locked_by = None
            row.payload = _settled(row.payload)
            if harmless:
                self.stats.dropped += 1
            else:
                self.stats.failed += 1
                log.warning("outbox row %s (%s) refused: %s", row.id, row.method, description)
                await delivery_events.delivery_failed(session, row, description, self.policy)


def _settled(payload: dict[str, Any]) -> dict[str, Any]:
    """A finished row keeps its parameters and the parts' ids, not the in-flight marker."""
    return {k: v for k, v in payload.items() if k != INFLIGHT}
