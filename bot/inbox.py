"""Durable update handling: nothing lost, nothing twice.

aiogram's own polling confirms an update before its handler finishes and drops a handler's exception.
Here an update is stored (keyed by `update_id`) before its offset is confirmed, and marked done in the
same transaction as its effects (ticket changes and outbox rows). Updates of one chat are handled one
at a time in `update_id` order; different chats share a transaction (a batch takes the next update of up
to 50 chats: one transaction, a few queries and one INSERT of replies instead of a dozen round trips per
update) or, on PostgreSQL, run in parallel transactions. A failing handler is retried a few times (the
count is stored, so a crash does not reset it), then the update is parked, the staff are told and the
customer gets an apology. See docs/reliability.md for the guarantees.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from bot.batch import Batches, Blamed, Deliver
from bot.handlers.context import ButtonAnswers
from bot.handlers.update import chat_key_of, flood_keys_of, storable
from bot.update_attempts import Attempts, InboxStats, Seen, log_outcome, reason
from helpdesk import metrics
from helpdesk.clock import now_utc
from helpdesk.policy import DeskPolicy
from storage.db import Database
from storage.models import InboxUpdate

#: ready chats per worker before another worker (another transaction in parallel) starts: see
#: `UpdateInbox._start_workers` and benchmarks/README.md
MIN_BATCH = 4

#: how old a pending update must be before the periodic recovery takes it up (`UpdateInbox.recover`)
RECOVERY_GRACE = timedelta(seconds=5)

log = logging.getLogger("bot.updates")

_TABLE = InboxUpdate.__table__  # type: ignore[attr-defined]
#: the store's one statement, built once (PostgreSQL, SQLite): a new update's row, or nothing if known
_STORE = {
    is_sqlite: insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.update_id)
    for is_sqlite, insert in ((False, postgresql.insert), (True, sqlite.insert))
}

#: payloads of updates this process stored, kept until handled so the handler need not read them back
PAYLOAD_CACHE_LIMIT = 20_000


def _inbox_row(payload: dict[str, Any], received: datetime) -> dict[str, Any]:
    """The inbox row of a fresh update (with what flood control counts: `flood_keys_of`)."""
    input_key, sent_date = flood_keys_of(payload, received)
    return {
        "update_id": int(payload["update_id"]),
        "chat_key": chat_key_of(payload),
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "received_at": received,
        "input_key": input_key,
        "sent_date": sent_date,
    }


async def _after_commit(update_id: int, actions: list[Callable[[], Awaitable[Any]]]) -> None:
    """One update's actions after its commit (a button answer), in order: nothing may undo the update any
    more, so a failure is logged and the rest carry on."""
    for action in actions:
        try:
            await action()
        except Exception:
            log.exception("update=%s an after-commit action failed", update_id)


class UpdateInbox:
    """Stores updates and drains them per chat; see the module docstring."""

    def __init__(
        self,
        db: Database,
        deliver: Deliver,
        answers: ButtonAnswers,
        policy: DeskPolicy,
        triage: Any,
        *,
        attempts: int = 3,
        concurrency: int = 32,
        batch_size: int = 50,
        min_batch: int = MIN_BATCH,
        worker_id: str | None = None,
        handler_timeout: float = 60.0,
        retry_delays: tuple[float, ...] = (0.2, 1.0, 3.0),
        busy_retry: float = 0.2,
    ) -> None:
        self.db = db
        self.policy = policy
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.busy_retry = busy_retry
        self.batch_size = max(1, batch_size)
        self.min_batch = max(1, min(min_batch, self.batch_size))
        # transactions in flight at once: no more than the pool's connections (SQLite has one)
        self.max_workers = max(1, min(concurrency, db.pool_size))
        self.stats = InboxStats()
        self.attempts = Attempts(db, policy, self.stats, attempts=attempts, retry_delays=retry_delays, answers=answers)
        self._payloads: dict[int, dict[str, Any]] = {}
        self.batches = Batches(
            db, deliver, answers, policy, triage, self.attempts, self._payloads, handler_timeout=handler_timeout
        )
        self._ready: dict[int, None] = {}  # chats with work, oldest first, not in a batch now
        self._running: set[int] = set()  # chats in a batch now
        self._again: set[int] = set()  # chats scheduled while in a batch: look again after it
        self._waiting: dict[int, asyncio.Task[None]] = {}  # chats waiting to retry (failure, busy)
        self._workers: set[asyncio.Task[None]] = set()
        self._to_store: list[tuple[list[dict[str, Any]], asyncio.Future[set[int]]]] = []
        self._storer: asyncio.Task[None] | None = None
        self.last_update_at: float | None = None

    # -- storing ------------------------------------------------------------------------------------

    async def store(self, payloads: Iterable[dict[str, Any]]) -> list[int]:
        """Store updates durably (ignoring ones already stored) and schedule them; returns the new ids.

        Polling calls this before it confirms the batch with the next offset; a webhook handler must
        call it before it answers 200. When this returns, the updates survive a crash. Calls made at the
        same moment (webhook requests arriving together) share one transaction: a group commit.
        """
        request = [storable(payload) for payload in payloads]  # text every database takes, at the door
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        self._to_store.append((request, future))
        if self._storer is None or self._storer.done():
            self._storer = asyncio.create_task(self._store_queued(), name="inbox-store")
        fresh = await future
        return [int(p["update_id"]) for p in request if int(p["update_id"]) in fresh]

    async def _store_queued(self) -> None:
        await asyncio.sleep(0)  # requests arriving in the same moment join this transaction
        while self._to_store:
            group, self._to_store = self._to_store, []
            try:
                self.stats.stores += 1
                fresh = await self._store_now([p for payloads, _ in group for p in payloads])
            except Exception as exc:  # every caller fails (a webhook answers 500: Telegram sends again)
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in group:
                if not future.done():
                    future.set_result(fresh)

    async def _store_now(self, payloads: list[dict[str, Any]]) -> set[int]:
        by_id: dict[int, dict[str, Any]] = {}
        for payload in payloads:
            by_id.setdefault(int(payload["update_id"]), payload)
        if not by_id:
            return set()
        self.last_update_at = time.monotonic()
        try:
            fresh = await self._insert(list(by_id.values()))
        except Exception as exc:
            log.warning("storing %d updates failed (%s); storing each alone", len(by_id), reason(exc))
            fresh = await self._insert_each(list(by_id.values()))
        self.stats.stored += len(fresh)
        if len(self._payloads) + len(fresh) > PAYLOAD_CACHE_LIMIT:  # handled elsewhere (another process)
            self._payloads.clear()
        for payload in fresh:
            self._payloads[int(payload["update_id"])] = payload
        # every chat of the batch, redelivered ones too: a redelivered update may be stored but unfinished
        # (its process died), and waiting for the periodic recovery would leave its customer waiting
        for key in dict.fromkeys(chat_key_of(p) for p in by_id.values()):
            self.schedule(key)
        return {int(p["update_id"]) for p in fresh}

    async def _insert(self, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert the updates not stored yet, in one transaction and one statement; returns those.

        `ON CONFLICT DO NOTHING RETURNING`: the ids it returns are the fresh ones (a read of the known ids
        first was a statement of its own in every store: every webhook request's transaction)."""
        received = now_utc()
        rows = sorted((_inbox_row(p, received) for p in payloads), key=lambda row: row["update_id"])  # lock order
        async with self.db.session() as session:
            stored = set((await session.scalars(_STORE[self.db.is_sqlite], rows)).all())
        fresh = [p for p in payloads if int(p["update_id"]) in stored]
        self.stats.duplicates += len(payloads) - len(fresh)
        return fresh

    async def _insert_each(self, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The batch could not be stored: each update alone, so one that cannot be stored (its content makes
        the database refuse it) is parked on its own and never holds back the others. When even the parked
        record cannot be written, the database itself is in trouble: the error goes to the caller (polling
        does not confirm, a webhook answers 500) and Telegram delivers everything again. The ones stored
        already are left out first: one refused before and parked, sent again, is known, not refused again."""
        ids = [int(p["update_id"]) for p in payloads]
        async with self.db.read() as session:
            known = set((await session.scalars(select(_TABLE.c.update_id).where(_TABLE.c.update_id.in_(ids)))).all())
        self.stats.duplicates += len(known)
        fresh: list[dict[str, Any]] = []
        for payload in (p for p in payloads if int(p["update_id"]) not in known):
            try:
                fresh += await self._insert([payload])
            except Exception as exc:
                if not await self.attempts.park_unstorable(payload, exc):
                    raise
        return fresh

    # -- scheduling ---------------------------------------------------------------------------------

    def schedule(self, chat_key: int) -> None:
        """Make sure the chat's pending updates get handled (a chat is in at most one batch at a time)."""
        if chat_key in self._running:
            self._again.add(chat_key)
            return
        if chat_key in self._waiting:  # a failed update waits for its retry; the chat keeps its order
            return
        self._ready[chat_key] = None
        self._start_workers()

    def _start_workers(self) -> None:
        """A worker for every `min_batch` ready chats, at least one, at most `max_workers`. A chat that
        becomes ready while the workers are at least that busy waits for one of them to finish its batch
        (then it takes every ready chat, up to its share) instead of starting a transaction of its own."""
        while self._ready and self._running_workers() < min(self.max_workers, -(-len(self._ready) // self.min_batch)):
            task = asyncio.create_task(self._work(), name="inbox-worker")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    def _running_workers(self) -> int:
        """Workers still at work: one that has just finished stays in the set until its done callback runs
        (the next turn of the loop), and a chat scheduled meanwhile must not count on it."""
        return sum(1 for worker in self._workers if not worker.done())

    def _wait_then_schedule(self, chat_key: int, delay: float) -> None:
        async def wait() -> None:
            try:
                await asyncio.sleep(delay)
            finally:
                if self._waiting.get(chat_key) is task:
                    del self._waiting[chat_key]
            self.schedule(chat_key)

        task = asyncio.create_task(wait(), name=f"inbox-wait-{chat_key}")
        self._waiting[chat_key] = task

    async def recover(self, older_than: timedelta = timedelta(0)) -> int:
        """Schedule every stored update not yet done (after a crash, or another process's death).

        The periodic pass looks only at updates stored `older_than` ago (RECOVERY_GRACE): a fresh one is
        in the hands of the process that stored it, and taking it up too would only make the two
        processes collide on the chat's lock (each collision a failed batch and a retry: with two
        processes behind a balancer, most of the cost a second process added; benchmarks/README.md)."""
        stmt = select(InboxUpdate.chat_key).where(InboxUpdate.status == "pending")
        if older_than:
            stmt = stmt.where(InboxUpdate.received_at <= now_utc() - older_than)
        async with self.db.read() as session:
            chats = (await session.exec(stmt.distinct())).all()
        for chat_key in chats:
            self.schedule(int(chat_key))
        return len(chats)

    @property
    def busy(self) -> bool:
        return bool(self._ready or self._running or self._waiting or self._workers)

    async def idle(self, timeout: float = 30.0) -> bool:
        """Wait until every scheduled chat is drained (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.busy:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            tasks = [*self._workers, *self._waiting.values()]
            if tasks:
                await asyncio.wait(tasks, timeout=remaining)
            else:
                await asyncio.sleep(0)
        return True

    async def _work(self) -> None:
        """Take batches of ready chats (one update each) until none is left."""
        while self._ready:
            share = -(-len(self._ready) // self.max_workers)  # several workers split what is ready
            chats = list(self._ready)[: min(self.batch_size, max(self.min_batch, share))]
            for chat_key in chats:
                del self._ready[chat_key]
            self._running.update(chats)
            again: set[int] = set()
            try:
                again = await self._run(chats)
            finally:
                self._running.difference_update(chats)
                again |= self._again & set(chats)
                self._again.difference_update(chats)
            for chat_key in chats:
                if chat_key in again:
                    self.schedule(chat_key)

    # -- processing ---------------------------------------------------------------------------------

    async def _run(self, chats: list[int]) -> set[int]:
        """Handle the next update of each chat in one transaction; returns the chats to look at again.

        A handler that fails rolls the whole batch back: its update is blamed (the attempt counted, a
        retry scheduled or the update parked), the other chats simply go again. A failure that names
        no update (the commit, the inbox read) splits the batch until it does.
        """
        started = time.perf_counter()
        try:
            outcome = await self.batches.run(chats)
        except Blamed as failed:
            may_go_on = await self._blame(failed.seen, failed.error, started)
            return {c for c in chats if c != failed.seen.chat_key or may_go_on}
        except Exception:
            if len(chats) > 1:
                half = len(chats) // 2
                return await self._run(chats[:half]) | await self._run(chats[half:])
            log.exception("chat=%s outcome=inbox_error reading the inbox failed", chats[0])
            return set()  # the periodic recovery picks the chat up later
        self.stats.batches += 1
        for chat_key in outcome.busy:
            # Another process holds the chat. It drains what it can see, but an update we stored just
            # after its last look would wait for the periodic recovery: look again shortly.
            self._wait_then_schedule(chat_key, self.busy_retry)
        latency = time.perf_counter() - started
        actions: list[Any] = []
        for item in outcome.handled:
            self._payloads.pop(item.seen.update_id, None)
            context = item.context
            if context is None:
                await self.attempts.answer_press(item.press_answer)
                continue
            self.stats.processed += 1
            metrics.update_done(item.seen.kind, context.outcome, latency)
            log_outcome(
                item.seen,
                context.outcome,
                started,
                attempt=item.seen.attempts + 1,
                batch=len(outcome.handled),
                handler_ms=round(item.handler_seconds * 1000, 1),
            )
            if context.after_commit:
                actions.append(_after_commit(item.seen.update_id, context.after_commit))
        if actions:  # the updates' at once (button answers): one by one, each waited its round trip to the Bot API
            await asyncio.gather(*actions)
        return outcome.more

    async def _blame(self, seen: Seen, error: BaseException, started: float) -> bool:
        """Count the failed attempt against its update; True when its chat may go on at once (parked).

        A retry waits for its delay (the chat keeps its order meanwhile); a stall waits for the recovery.
        """
        step, delay = await self.attempts.failed(seen, error, started)
        if step == "retry":
            self._wait_then_schedule(seen.chat_key, delay)
            return False
        if step == "done":
            self._payloads.pop(seen.update_id, None)
        return step == "done"
