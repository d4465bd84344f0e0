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
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import Update
from pydantic import ValidationError
from sqlalchemy import bindparam, text, update
from sqlmodel import col, select

from bot.context import HandlerContext
from helpdesk import failures, metrics
from helpdesk.clock import now_utc
from helpdesk.people import Person, prefetch_people
from helpdesk.policy import DeskPolicy
from storage.db import Database
from storage.models import InboxUpdate
from storage.repos import dialect_insert

log = logging.getLogger("bot.updates")

#: namespace (first key) of the PostgreSQL advisory locks that give one process a chat at a time; the
#: two-key space never overlaps the one-key locks used elsewhere (migrations)
PG_LOCK_NAMESPACE = 0x1B07

#: update types that carry a chat; the value is where the chat id is in the payload
_CHAT_PATHS: dict[str, tuple[str, ...]] = {
    "message": ("chat", "id"),
    "edited_message": ("chat", "id"),
    "channel_post": ("chat", "id"),
    "edited_channel_post": ("chat", "id"),
    "business_message": ("chat", "id"),
    "edited_business_message": ("chat", "id"),
    "my_chat_member": ("chat", "id"),
    "chat_member": ("chat", "id"),
    "chat_join_request": ("chat", "id"),
    "message_reaction": ("chat", "id"),
    "message_reaction_count": ("chat", "id"),
    "chat_boost": ("chat", "id"),
    "removed_chat_boost": ("chat", "id"),
}


def update_kind(payload: dict[str, Any]) -> str:
    return next((k for k in payload if k != "update_id"), "unknown")


def _int_or_zero(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def chat_key_of(payload: dict[str, Any]) -> int:
    """The chat an update belongs to (its ordering key); 0 for updates without a chat."""
    kind = update_kind(payload)
    body = payload.get(kind)
    if not isinstance(body, dict):
        return 0
    if kind == "callback_query":
        message = body.get("message") or {}
        chat = (message.get("chat") or {}).get("id") if isinstance(message, dict) else None
        return _int_or_zero(chat or (body.get("from") or {}).get("id"))
    path = _CHAT_PATHS.get(kind)
    if path:
        node: Any = body
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return _int_or_zero(node)
    sender = body.get("from") or body.get("user") or {}
    return _int_or_zero(sender.get("id")) if isinstance(sender, dict) else 0


def person_of(payload: dict[str, Any]) -> tuple[Person | None, int | None, str | None]:
    """The sender, the chat id and the chat type of an update (transport-neutral)."""
    kind = update_kind(payload)
    body = payload.get(kind) or {}
    message = body.get("message") if kind == "callback_query" else body
    chat = (message or {}).get("chat") or {}
    user = body.get("from") or body.get("user")
    chat_id = chat.get("id")
    if kind == "callback_query" and chat_id is None and user:
        chat_id = user.get("id")
    if not isinstance(user, dict) or user.get("is_bot"):
        return None, chat_id, chat.get("type")
    if body.get("sender_chat"):  # anonymous admins and channels speak as a chat, never as an agent
        return None, chat_id, chat.get("type")
    chat_type = chat.get("type")
    if kind == "callback_query" and not chat and chat_id == user.get("id"):
        chat_type = "private"  # a button under an inaccessible message: answer the user privately
    person = Person(
        user_id=int(user["id"]),
        chat_id=int(chat_id if chat_id is not None else user["id"]),
        first_name=str(user.get("first_name") or ""),
        last_name=user.get("last_name"),
        username=user.get("username"),
        language_code=user.get("language_code"),
    )
    return person, chat_id, chat_type


# Built once (a statement built anew for every update costs more, in its cache key, than running it), on
# the table rather than the ORM class: these run per update, and the ORM's bookkeeping around a
# statement costs several times the statement itself.
_INBOX = InboxUpdate.__table__  # type: ignore[attr-defined]
_PENDING_OF_CHATS = (
    select(_INBOX.c.update_id, _INBOX.c.chat_key, _INBOX.c.attempts)
    .where(_INBOX.c.chat_key.in_(bindparam("chat_keys", expanding=True)), _INBOX.c.status == "pending")
    .order_by(_INBOX.c.update_id)
)
_PAYLOADS = select(_INBOX.c.update_id, _INBOX.c.payload).where(_INBOX.c.update_id.in_(bindparam("ids", expanding=True)))
_MARK_DONE = (
    update(_INBOX)
    .where(_INBOX.c.update_id == bindparam("b_update_id"))
    .values(status="done", done_at=bindparam("b_done_at"), attempts=_INBOX.c.attempts + 1)
)


_TRY_LOCKS = text("SELECT k FROM unnest(CAST(:keys AS integer[])) AS t(k) WHERE pg_try_advisory_xact_lock(:ns, k)")


@dataclass
class _Head:
    """The oldest pending update of a chat, as a batch needs it."""

    update_id: int
    chat_key: int
    attempts: int
    payload: Any


def inline_magic_filters(dispatcher: Dispatcher) -> int:
    """Evaluate aiogram's magic filters (`F.chat.type == "private"`, …) on the event loop; returns how many.

    aiogram runs every filter that is not a coroutine function through `asyncio.to_thread`, magic filters
    included: a thread hop (and a fight for the GIL) for each of the dozen filters an update meets on its
    way through the routers. A magic filter only reads attributes of the event, so it runs inline here,
    with the same result. Idempotent; call it again after including more routers.
    """
    changed = 0
    for router in dispatcher.chain_tail:
        for observer in router.observers.values():
            handlers = [observer._handler, *observer.handlers]  # the router-wide filters, then each handler's
            for handler in handlers:
                for flt in handler.filters or ():
                    if flt.magic is not None and not flt.awaitable:
                        flt.callback = _inline(flt.callback)
                        flt.awaitable = True
                        changed += 1
    return changed


def _inline(resolve: Any) -> Any:
    async def run(*args: Any, **kwargs: Any) -> Any:
        return resolve(*args, **kwargs)

    return run


def pg_lock_key(chat_key: int) -> int:
    """A signed 32-bit key for the chat (collisions only make two chats take turns)."""
    return zlib.crc32(str(chat_key).encode()) - 2**31


@dataclass(frozen=True)
class Seen:
    """What the log and the failure path need of an inbox row (plain values: they outlive a rollback)."""

    update_id: int
    chat_key: int
    kind: str
    attempts: int


@dataclass
class InboxStats:
    stored: int = 0
    processed: int = 0
    failed_attempts: int = 0
    parked: int = 0
    duplicates: int = 0
    batches: int = 0  # transactions that handled updates
    stores: int = 0  # transactions that stored updates


class _Blamed(Exception):
    """A failure that names its update: a handler raised (or timed out), or a batch of one failed (its
    commit too). The batch rolls back and `seen` is blamed."""

    def __init__(self, seen: Seen, error: BaseException) -> None:
        super().__init__(str(error))
        self.seen = seen
        self.error = error


@dataclass
class _Handled:
    """One update handled in a batch, waiting for the batch's commit to be logged and followed up."""

    seen: Seen
    context: HandlerContext | None  # None: parked without running the handler
    handler_seconds: float = 0.0


@dataclass
class _BatchOutcome:
    handled: list[_Handled]
    more: set[int]  # chats with another pending update after the one handled
    busy: set[int]  # chats another process holds (PostgreSQL)


#: payloads of updates this process stored, kept until handled so the handler need not read them back
PAYLOAD_CACHE_LIMIT = 20_000


class UpdateInbox:
    """Stores updates and drains them per chat; see the module docstring."""

    def __init__(
        self,
        db: Database,
        dispatcher: Dispatcher,
        bot: Bot,
        policy: DeskPolicy,
        triage: Any,
        *,
        attempts: int = 3,
        concurrency: int = 32,
        batch_size: int = 50,
        worker_id: str | None = None,
        handler_timeout: float = 60.0,
        retry_delays: tuple[float, ...] = (0.2, 1.0, 3.0),
        busy_retry: float = 0.2,
    ) -> None:
        self.db = db
        self.dp = dispatcher
        self.bot = bot
        self.policy = policy
        self.triage = triage
        self.attempts = max(1, attempts)
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.handler_timeout = handler_timeout
        self.retry_delays = retry_delays or (0.0,)
        self.busy_retry = busy_retry
        self.batch_size = max(1, batch_size)
        # transactions in flight at once: no more than the pool's connections (SQLite has one)
        self.max_workers = max(1, min(concurrency, db.pool_size))
        self.stats = InboxStats()
        self._inlined = False
        self._ready: dict[int, None] = {}  # chats with work, oldest first, not in a batch now
        self._running: set[int] = set()  # chats in a batch now
        self._again: set[int] = set()  # chats scheduled while in a batch: look again after it
        self._waiting: dict[int, asyncio.Task[None]] = {}  # chats waiting to retry (failure, busy)
        self._workers: set[asyncio.Task[None]] = set()
        self._payloads: dict[int, dict[str, Any]] = {}
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
        request = list(payloads)
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
        async with self.db.session() as session:
            existing = set(
                (
                    await session.exec(select(InboxUpdate.update_id).where(col(InboxUpdate.update_id).in_(list(by_id))))
                ).all()
            )
            fresh = [p for uid, p in by_id.items() if uid not in existing]
            self.stats.duplicates += len(by_id) - len(fresh)
            if fresh:
                received = now_utc()
                stmt = dialect_insert(session, InboxUpdate).on_conflict_do_nothing()
                await session.execute(
                    stmt,
                    [
                        {
                            "update_id": int(p["update_id"]),
                            "chat_key": chat_key_of(p),
                            "payload": p,
                            "status": "pending",
                            "attempts": 0,
                            "received_at": received,
                        }
                        for p in fresh
                    ],
                )
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
        while self._ready and len(self._workers) < min(self.max_workers, len(self._ready)):
            task = asyncio.create_task(self._work(), name="inbox-worker")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

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

    async def recover(self) -> int:
        """Schedule every stored update not yet done (after a crash, or another process's death)."""
        async with self.db.read() as session:
            chats = (
                await session.exec(select(InboxUpdate.chat_key).where(InboxUpdate.status == "pending").distinct())
            ).all()
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
            chats = list(self._ready)[: max(1, min(self.batch_size, share))]
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
        if not self._inlined:  # once, at the first update: every router is included by then
            self._inlined = True
            inline_magic_filters(self.dp)
        try:
            outcome = await self._run_batch(chats, started)
        except _Blamed as failed:
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
        for item in outcome.handled:
            self._payloads.pop(item.seen.update_id, None)
            context = item.context
            if context is None:
                continue
            self.stats.processed += 1
            metrics.update_done(item.seen.kind, context.outcome, latency)
            self._log_outcome(
                item.seen,
                context.outcome,
                started,
                attempt=item.seen.attempts + 1,
                batch=len(outcome.handled),
                handler_ms=round(item.handler_seconds * 1000, 1),
            )
            for action in context.after_commit:
                try:
                    await action()
                except Exception:  # after the commit nothing may undo the update; log and carry on
                    log.exception("update=%s an after-commit action failed", item.seen.update_id)
        return outcome.more

    async def _run_batch(self, chats: list[int], started: float) -> _BatchOutcome:
        handled: list[_Handled] = []
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
                        return _BatchOutcome(handled, more, busy)
                heads = await self._heads(session, chats, more)
                senders = [person_of(row.payload) for row in heads]
                # a message in a private chat is a customer's (first) contact: see `prefetch_people`
                pairs = zip(heads, senders, strict=True)
                contacts = [(p, "message" in row.payload and kind == "private") for row, (p, _, kind) in pairs]
                await prefetch_people(session, contacts)
                for row, sender in zip(heads, senders, strict=True):
                    seen = Seen(row.update_id, row.chat_key, update_kind(row.payload), row.attempts)
                    handled.append(await self._handle(session, row, seen, sender))
                done = [h.seen.update_id for h in handled if h.context is not None]
                if done:  # the done marks, in the handlers' transaction
                    at = now_utc()
                    await session.execute(_MARK_DONE, [{"b_update_id": uid, "b_done_at": at} for uid in done])
        except _Blamed:
            raise
        except Exception as exc:
            if len(heads) == 1 and seen is not None:  # a batch of one: the failure (the commit too) is its
                raise _Blamed(seen, exc) from exc
            raise
        return _BatchOutcome(handled, more, busy)

    async def _lock_chats(self, session: Any, chats: list[int]) -> set[int]:
        """PostgreSQL: the chats whose advisory lock we got (held until the transaction ends), in one query."""
        keys = {chat_key: pg_lock_key(chat_key) for chat_key in chats}
        locked = set(
            (await session.execute(_TRY_LOCKS, {"ns": PG_LOCK_NAMESPACE, "keys": sorted(set(keys.values()))})).scalars()
        )
        return {chat_key for chat_key, key in keys.items() if key in locked}

    async def _heads(self, session: Any, chats: list[int], more: set[int]) -> list[_Head]:
        """The oldest pending update of each chat (payloads from memory when this process stored them)."""
        rows = (await session.execute(_PENDING_OF_CHATS, {"chat_keys": chats})).all()
        heads: dict[int, _Head] = {}
        for update_id, chat_key, attempts in rows:
            if chat_key in heads:
                more.add(chat_key)
            else:
                heads[chat_key] = _Head(int(update_id), int(chat_key), int(attempts), self._payloads.get(update_id))
        missing = {h.update_id: h for h in heads.values() if h.payload is None}
        if missing:
            for update_id, payload in (await session.execute(_PAYLOADS, {"ids": list(missing)})).all():
                missing[update_id].payload = payload
        return sorted(heads.values(), key=lambda h: h.update_id)

    async def _handle(
        self, session: Any, row: _Head, seen: Seen, sender: tuple[Person | None, int | None, str | None]
    ) -> _Handled:
        """Run one update's handler in the batch's transaction; `sender` is `person_of(row.payload)`."""
        if row.attempts >= self.attempts:  # failed before a crash and never parked
            stored = await session.get(InboxUpdate, row.update_id)
            await self._park(session, stored, stored.error_id or uuid.uuid4().hex[:8], stored.last_error or "?")
            return _Handled(seen, None)
        person, chat_id, chat_type = sender
        context = HandlerContext(
            session=session,
            policy=self.policy,
            triage=self.triage,
            bot=self.bot,
            update_id=row.update_id,
            chat_id=chat_id,
            chat_type=chat_type,
            person=person,
        )
        try:
            update = Update.model_validate(row.payload, context={"bot": self.bot})
        except ValidationError as exc:  # no retry can fix it: park it alone, the chat goes on
            stored = await session.get(InboxUpdate, row.update_id)
            await self._park(session, stored, uuid.uuid4().hex[:8], f"unparseable update: {exc}")
            return _Handled(seen, None)
        began = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                self.dp.feed_update(self.bot, update, ctx=context), timeout=self.handler_timeout
            )
        except Exception as exc:
            raise _Blamed(seen, exc) from exc
        if result is UNHANDLED and context.outcome == "handled":
            context.outcome = "ignored"
        return _Handled(seen, context, time.perf_counter() - began)

    def _log_outcome(self, seen: Seen, outcome: str, started: float, **more: Any) -> None:
        """The one line per update attempt: `update=… chat=… kind=… outcome=… attempt=… latency_ms=…`.

        `latency_ms` runs from the start of the update's batch to its commit; `handler_ms` is its own
        handler's share, `batch` how many updates shared the transaction.
        """
        latency = (time.perf_counter() - started) * 1000
        fields = {
            "update": seen.update_id,
            "chat": seen.chat_key,
            "kind": seen.kind,
            "outcome": outcome,
            **more,
            "latency_ms": round(latency, 1),
        }
        level = logging.ERROR if outcome in ("error", "parked") else logging.INFO
        if not log.isEnabledFor(level):
            return
        log.log(level, " ".join(f"{k}={v}" for k, v in fields.items()), extra={"fields": fields})

    async def _blame(self, seen: Seen, error: BaseException, started: float) -> bool:
        """Count the failed attempt against its update; True when its chat may go on at once (parked).

        A retry waits for its delay (the chat keeps its order meanwhile); a stall waits for the recovery.
        """
        step, delay = await self._failed(seen, error, started)
        if step == "retry":
            self._wait_then_schedule(seen.chat_key, delay)
            return False
        if step == "done":
            self._payloads.pop(seen.update_id, None)
        return step == "done"

    async def _failed(self, seen: Seen, exc: BaseException, started: float) -> tuple[str, float]:
        """Count the failed attempt (stored, so a restart keeps counting) and park after the last one.

        Returns ("retry", delay), ("done", 0) when the update is parked (the chat goes on), or ("stall", 0)
        when not even that could be written (the periodic recovery tries again).
        """
        self.stats.failed_attempts += 1
        metrics.update_failed(seen.kind)
        error_id = uuid.uuid4().hex[:8]
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, TimeoutError) else "TimeoutError: handler"
        attempt = seen.attempts + 1
        self._log_outcome(
            seen, "error", started, attempt=f"{attempt}/{self.attempts}", error_id=error_id, error=type(exc).__name__
        )
        if attempt >= self.attempts:
            log.error("update=%s error_id=%s handler failed", seen.update_id, error_id, exc_info=exc)
        try:
            async with self.db.session() as session:
                fresh = await session.get(InboxUpdate, seen.update_id)
                if fresh is None or fresh.status != "pending":
                    return "done", 0.0
                fresh.attempts += 1
                fresh.error_id = error_id
                fresh.last_error = error[:2000]
                session.add(fresh)
                if fresh.attempts >= self.attempts:
                    await self._park(session, fresh, error_id, error)
                    return "done", 0.0
                attempts_done = fresh.attempts
        except Exception:
            log.exception("update=%s recording a failed attempt failed", seen.update_id)
            return "stall", 0.0
        delay = self.retry_delays[min(attempts_done - 1, len(self.retry_delays) - 1)]
        return "retry", delay

    async def _park(self, session: Any, row: InboxUpdate, error_id: str, error: str) -> None:
        """Give up on an update (in the caller's transaction): keep it for a person, and never stay silent.

        The staff chat is told (with the customer's open ticket when there is one); a customer writing in
        private gets a short apology saying their message was received.
        """
        self.stats.parked += 1
        metrics.updates_parked.inc()
        row.status = "parked"
        row.error_id = error_id
        row.last_error = error[:2000]
        row.done_at = now_utc()
        session.add(row)
        person, chat_id, chat_type = person_of(row.payload)
        who = person.display_name if person is not None else f"chat {chat_id if chat_id is not None else '?'}"
        await failures.update_parked(
            session,
            chat_id=chat_id if chat_type == "private" and person is not None else None,
            user_id=person.user_id if person is not None else None,
            who=who,
            error_id=error_id,
            policy=self.policy,
        )
        log.error(
            "update=%s chat=%s kind=%s outcome=parked attempt=%s error_id=%s",
            row.update_id,
            row.chat_key,
            update_kind(row.payload),
            row.attempts,
            error_id,
            extra={
                "fields": {
                    "update": row.update_id,
                    "chat": row.chat_key,
                    "kind": update_kind(row.payload),
                    "outcome": "parked",
                    "attempt": row.attempts,
                    "error_id": error_id,
                }
            },
        )
