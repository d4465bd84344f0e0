"""The sender loop: claims due rows, runs one sender per chat, makes each row's calls within the limits.

A pass claims due rows of idle chats (`claims`) and starts a sender per chat; a chat's rows go one at a
time, in order. For each row: wait for the chat (`pacing`), begin the attempt (`journal` → `row_attempts`),
make its calls (`calls`: split parts, fallbacks for refused markup) through the `transport`, and record
the outcome (`row_attempts`). A commit that wrote rows rings `storage.outbox_rows.bell`, which wakes the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from scheduler.delivery import calls
from scheduler.delivery.claims import Claimed, Claims
from scheduler.delivery.counters import DeliveryStats
from scheduler.delivery.hooks import DeliveryHooks
from scheduler.delivery.journal import Journal
from scheduler.delivery.limits import DeliveryLimits
from scheduler.delivery.pacing import Pacing, pacing_for
from scheduler.delivery.row_attempts import RowAttempts
from scheduler.delivery.transport import Rejected, RetryLater, Transient, Transport, Unreachable
from storage.db import Database
from storage.outbox_rows import bell

log = logging.getLogger("bot.delivery")

#: tries to record a confirmed send before leaving it to the lease (see `_record_sent`)
RECORD_ATTEMPTS = 3


def backoff(attempt: int) -> timedelta:
    """How long a row waits after its `attempt`th transient failure."""
    return timedelta(seconds=min(60.0, 0.5 * 2 ** max(0, attempt - 1)))


class OutboxDelivery:
    """The delivery loop of one process."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        limits: DeliveryLimits | None = None,
        *,
        hooks: DeliveryHooks | None = None,
        pacing: Pacing | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.transport = transport
        self.limits = limits or DeliveryLimits()
        self.hooks = hooks or DeliveryHooks()
        self.pacing: Pacing = pacing or pacing_for(db, self.limits)
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.stats = DeliveryStats()
        self.claims = Claims(db, self.worker_id, self.limits)
        self.attempts = RowAttempts(db, self.worker_id, self.limits, self.stats, self.hooks)
        self.journal = Journal(db, self.attempts)
        self._active: dict[int, asyncio.Task[None]] = {}
        #: chats at work at once: what the global rate sends in a quarter of a lease, so every row whose
        #: attempt has begun gets its call long before its lease runs out (another process would send it too)
        self.max_active_chats = max(1, int(self.limits.per_second * self.limits.lease / 4))
        self._started = False
        self._stopping = False
        #: when a chat's sender finishes, a claim pass runs only if due rows may have been left behind for
        #: want of it: rows committed for the chat while it was at work (a pass passes busy chats over),
        #: or a pass cut short by a limit (see `_chat_done`)
        self._commits = 0  # commits of this process that wrote outbox rows (`bell`)
        self._commits_at_claim: dict[int, int] = {}  # active chat → `_commits` when its claim began
        self._came: dict[int, int] = {}  # chat → the last commit with rows for it (since the last pass began)
        self._unknown = -1  # the last commit whose rows' chats are not known
        self._left_behind = False  # the last pass stopped at a limit (room, batch): due rows may wait

    # -- start-up -----------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Once per process: free leases of a dead SQLite process and restore the pacing of the last minute."""
        if self._started:
            return
        self._started = True
        bell.listen(self._heard)
        await self.claims.release_stale_locks()
        self.pacing.restore(await self.claims.recent_sends())

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
            bell.forget(self._heard)
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

    def _heard(self, chats: frozenset[int] | None) -> None:
        """A commit of this process wrote outbox rows for `chats` (None: not known)."""
        self._commits += 1
        if chats is None:
            self._unknown = self._commits
            return
        for chat in chats:  # all of them: a claim pass under way may be taking the chat on right now
            self._came[chat] = self._commits

    def _chat_done(self, chat_id: int) -> None:
        """The chat is idle again. Another claim pass now only if it may find rows it could not take before
        (each pass costs a transaction, and every chat's sender finishes: with two processes that doubled
        the passes): rows this process committed for the chat while it was busy, or a pass cut short by a
        limit. Rows another process committed for it meanwhile wait for the next pass (a commit's bell,
        at the latest the poll, `poll_every`)."""
        self._active.pop(chat_id, None)
        claimed_at = self._commits_at_claim.pop(chat_id, -1)
        came = self._came.pop(chat_id, -1)
        if self._left_behind or came > claimed_at or self._unknown > claimed_at:
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
        return await self.claims.pending_count()

    async def _claim(self) -> Claimed:
        room = self.max_active_chats - len(self._active)
        if room <= 0:
            self._left_behind = True
            return []
        began = self._commits  # the pass sees every row committed so far
        self._came = {chat: at for chat, at in self._came.items() if chat in self._active}
        claim = await self.claims.claim(list(self._active), max_chats=room)
        self._left_behind = claim.cut
        for _, chat in claim.rows:
            self._commits_at_claim[chat] = began
        self.stats.claim_passes += 1
        self.stats.order_conflicts += claim.conflicts
        if claim.recent:
            self.pacing.restore(claim.recent)  # another process may have sent to these chats a moment ago
        return claim.rows

    # -- sending ------------------------------------------------------------------------------------

    async def _send_chat(self, chat_id: int, ids: list[int]) -> None:
        for index, row_id in enumerate(ids):
            if self._stopping:
                await self.claims.unlock(ids[index:])
                return
            try:
                carry_on = await self._send_row(row_id, chat_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("delivery of outbox row %s failed unexpectedly", row_id)
                await self.attempts.reschedule(row_id, backoff(1), f"internal error: {exc!r}", count=True)
                carry_on = False
            if not carry_on:
                await self.claims.unlock(ids[index + 1 :])
                return

    async def _send_row(self, row_id: int, chat_id: int) -> bool:
        """Send one row; False when the chat's later rows must wait (ordering, retry-after)."""
        await self.pacing.wait_for_chat(chat_id)
        if self._stopping:
            await self.claims.unlock([row_id])
            return False
        prepared = await self.journal.prepare(row_id)
        if isinstance(prepared, bool):
            return prepared
        method, payload, done, message_ids, attempt = prepared
        parts = calls.calls_for(method, payload)
        result: Any = None
        part_method = method
        for part_index in range(done, len(parts)):
            part_method, part_payload = parts[part_index]
            if part_index > done:  # the first call's attempt was begun by the journal's prepare
                await self.pacing.wait_for_chat(chat_id)
                attempt = await self.attempts.begin(row_id)
                if not attempt:
                    return True  # dropped meanwhile (customer unreachable), or no longer ours
            await self.pacing.acquire(chat_id)  # last, so nothing slow sits between the slot and the call
            try:
                result = await self._call(part_method, part_payload)
            except RetryLater as exc:
                self.stats.retried_429 += 1
                self.hooks.call_failed("retry_after")
                self.pacing.refused(chat_id, exc.retry_after)
                await self.attempts.reschedule(
                    row_id, timedelta(seconds=exc.retry_after), str(exc), count=False, parts=part_index, ids=message_ids
                )
                return False
            except Transient as exc:
                self.stats.retried_transient += 1
                self.hooks.call_failed("transient")
                self.pacing.defer(chat_id, 0.5)
                await self.attempts.reschedule(
                    row_id, backoff(attempt), str(exc), count=True, parts=part_index, ids=message_ids,
                    maybe_sent=calls.maybe_sent(exc),
                )  # fmt: skip
                return False
            except Unreachable as exc:
                self.stats.unreachable += 1
                self.hooks.call_failed("unreachable")
                await self.attempts.unreachable(row_id, str(exc))
                return True
            except Rejected as exc:
                self.hooks.call_failed("rejected")
                await self.attempts.rejected(row_id, exc.description, harmless=calls.harmless_refusal(exc.description))
                return True
            finally:
                self.pacing.record(chat_id)
            message_id = calls.message_id_of(result)
            if message_id is not None:
                message_ids.append(message_id)
            if part_index < len(parts) - 1:
                await self.attempts.note_parts(row_id, part_index + 1, message_ids)
        self.hooks.call_succeeded(part_method)
        recorded = await self._record_sent(row_id, message_ids, calls.thread_id_of(result))
        if recorded:
            self.pacing.recorded(chat_id)
        return recorded

    async def _call(self, method: str, payload: dict[str, Any], *, first_try: bool = True) -> Any:
        """One call; a refusal Telegram would accept without what it refused goes again without it, once."""
        self.stats.calls += 1
        try:
            return await self.transport.call(method, payload)
        except Rejected as exc:
            if calls.not_modified(exc.description):
                return True
            instead = calls.fallback(payload, exc.description) if first_try else None
            if instead is None:
                raise
            chat = payload.get("chat_id")
            if instead.kind == "plain":
                self.stats.plain_fallbacks += 1
                log.warning("%s to chat %s: HTML refused (%s); sending plain text", method, chat, exc)
            elif instead.kind == "general_topic":
                log.warning("chat %s: forum topic is gone or closed (%s); sending to the general topic", chat, exc)
            else:
                log.warning("%s to chat %s: keyboard refused (%s); sending without it", method, chat, exc)
            return await self._call(method, instead.payload, first_try=False)

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

    async def _succeeded(self, row_id: int, message_ids: list[int], thread_id: int | None = None) -> None:
        """Record a delivered row (in a transaction shared with other chats' records, see `journal`)."""
        self.stats.sent += 1
        await self.journal.succeeded(row_id, message_ids, thread_id)
