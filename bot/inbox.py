"""Durable update handling: nothing lost, nothing twice.

aiogram's own polling confirms an update before its handler finishes and drops a handler's exception.
Here an update is stored (keyed by `update_id`) before its offset is confirmed, and marked done in the
same transaction as its effects (ticket changes and outbox rows). Updates of one chat are handled one
at a time in `update_id` order; different chats run in parallel. A failing handler is retried a few
times (the count is stored, so a crash does not reset it), then the update is parked, the staff are
told and the customer gets an apology. See docs/reliability.md for the guarantees.
"""

from __future__ import annotations

import asyncio
import enum
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
from helpdesk.people import Person
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


# Built once: a statement built anew for every update costs more (its cache key) than running it.
_NEXT_PENDING = (
    select(InboxUpdate)
    .where(InboxUpdate.chat_key == bindparam("chat_key"), InboxUpdate.status == "pending")
    .order_by(col(InboxUpdate.update_id))
    .limit(2)
)
_MARK_DONE = (
    update(InboxUpdate)
    .where(col(InboxUpdate.update_id) == bindparam("b_update_id"))
    .values(status="done", done_at=bindparam("b_done_at"), attempts=col(InboxUpdate.attempts) + 1)
)


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
    """What the log and the failure path need of an inbox row (the ORM row expires on rollback)."""

    update_id: int
    chat_key: int
    kind: str
    attempts: int


class Step(enum.Enum):
    NONE = "none"  # no pending update in this chat
    BUSY = "busy"  # another process holds the chat; it drains it
    DONE = "done"  # one update handled (or parked)
    LAST = "last"  # one update handled, and no other was pending when it was read
    RETRY = "retry"  # the handler failed; try again after `delay`
    STALL = "stall"  # the inbox itself could not be read; recovery picks the chat up later


@dataclass
class InboxStats:
    stored: int = 0
    processed: int = 0
    failed_attempts: int = 0
    parked: int = 0
    duplicates: int = 0


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
        self.stats = InboxStats()
        self._inlined = False
        self._slots = asyncio.Semaphore(concurrency)
        self._chats: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self.last_update_at: float | None = None

    # -- storing ------------------------------------------------------------------------------------

    async def store(self, payloads: Iterable[dict[str, Any]]) -> list[int]:
        """Store updates durably (ignoring ones already stored) and schedule them; returns the new ids.

        Polling calls this before it confirms the batch with the next offset; a webhook handler must
        call it before it answers 200. When this returns, the updates survive a crash.
        """
        by_id: dict[int, dict[str, Any]] = {}
        for payload in payloads:
            by_id.setdefault(int(payload["update_id"]), payload)
        if not by_id:
            return []
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
        # every chat of the batch, redelivered ones too: a redelivered update may be stored but unfinished
        # (its process died), and waiting for the periodic recovery would leave its customer waiting
        for key in dict.fromkeys(chat_key_of(p) for p in by_id.values()):
            self.schedule(key)
        return [int(p["update_id"]) for p in fresh]

    # -- scheduling ---------------------------------------------------------------------------------

    def schedule(self, chat_key: int) -> None:
        """Make sure the chat's pending updates get drained (one drainer task per chat)."""
        self._dirty.add(chat_key)
        if chat_key not in self._chats:
            self._chats[chat_key] = asyncio.create_task(self._drain_chat(chat_key), name=f"inbox-chat-{chat_key}")

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
        return bool(self._chats)

    async def idle(self, timeout: float = 30.0) -> bool:
        """Wait until every scheduled chat is drained (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._chats:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait(list(self._chats.values()), timeout=remaining)
        return True

    async def _drain_chat(self, chat_key: int) -> None:
        me = asyncio.current_task()
        try:
            while chat_key in self._dirty:
                self._dirty.discard(chat_key)
                while True:
                    async with self._slots:
                        step, delay = await self._handle_next(chat_key)
                    if step is Step.RETRY:
                        await asyncio.sleep(delay)  # the slot is free meanwhile; the chat waits, in order
                        continue
                    if step is Step.BUSY:
                        # Another process holds the chat. It drains what it can see, but an update we
                        # stored just after its last look would wait for the periodic recovery: look
                        # again shortly (until the chat has nothing pending).
                        await asyncio.sleep(self.busy_retry)
                        continue
                    if step is not Step.DONE:
                        # NONE, STALL, or LAST: an update stored since is in `_dirty` (store() schedules
                        # after its commit), so the outer loop looks again; LAST spares a read for nothing
                        break
        finally:
            # No await between the last look at `_dirty` and this: a `schedule()` either saw this task
            # (and set the flag we checked) or comes after and starts a new one. Nothing is left behind.
            if self._chats.get(chat_key) is me:
                del self._chats[chat_key]

    # -- processing ---------------------------------------------------------------------------------

    async def _handle_next(self, chat_key: int) -> tuple[Step, float]:
        """Handle the oldest pending update of the chat, in one transaction with its effects."""
        started = time.perf_counter()
        if not self._inlined:  # once, at the first update: every router is included by then
            self._inlined = True
            inline_magic_filters(self.dp)
        context: HandlerContext | None = None
        seen: Seen | None = None
        handled = Step.DONE
        try:
            async with self.db.session() as session:
                if not self.db.is_sqlite:
                    locked = (
                        await session.execute(
                            text("SELECT pg_try_advisory_xact_lock(:ns, :k)"),
                            {"ns": PG_LOCK_NAMESPACE, "k": pg_lock_key(chat_key)},
                        )
                    ).scalar_one()
                    if not locked:
                        return Step.BUSY, 0.0
                rows = (await session.exec(_NEXT_PENDING, params={"chat_key": chat_key})).all()
                if not rows:
                    return Step.NONE, 0.0
                row = rows[0]
                handled = Step.DONE if len(rows) > 1 else Step.LAST
                seen = Seen(row.update_id, row.chat_key, update_kind(row.payload), row.attempts)
                if row.attempts >= self.attempts:  # failed before a crash and never parked
                    await self._park(session, row, row.error_id or uuid.uuid4().hex[:8], row.last_error or "?")
                    return Step.DONE, 0.0
                person, chat_id, chat_type = person_of(row.payload)
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
                    await self._park(session, row, uuid.uuid4().hex[:8], f"unparseable update: {exc}")
                    return Step.DONE, 0.0
                result = await asyncio.wait_for(
                    self.dp.feed_update(self.bot, update, ctx=context), timeout=self.handler_timeout
                )
                if result is UNHANDLED and context.outcome == "handled":
                    context.outcome = "ignored"
                # the done mark, in the handler's transaction (a plain UPDATE: the row object is not needed)
                await session.exec(_MARK_DONE, params={"b_update_id": row.update_id, "b_done_at": now_utc()})
        except Exception as exc:
            if seen is None:
                log.exception("chat=%s outcome=inbox_error reading the inbox failed", chat_key)
                return Step.STALL, 0.0
            return await self._failed(seen, exc, started)
        if context is None:  # parked without running the handler again
            return Step.DONE, 0.0
        self.stats.processed += 1
        metrics.update_done(seen.kind, context.outcome, time.perf_counter() - started)
        self._log_outcome(seen, context.outcome, started, attempt=seen.attempts + 1)
        for action in context.after_commit:
            try:
                await action()
            except Exception:  # after the commit nothing may undo the update; log and carry on
                log.exception("update=%s an after-commit action failed", seen.update_id)
        return handled, 0.0

    def _log_outcome(self, seen: Seen, outcome: str, started: float, **more: Any) -> None:
        """The one line per update attempt: `update=… chat=… kind=… outcome=… attempt=… latency_ms=…`."""
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

    async def _failed(self, seen: Seen, exc: BaseException, started: float) -> tuple[Step, float]:
        """Count the failed attempt (stored, so a restart keeps counting) and park after the last one."""
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
                    return Step.DONE, 0.0
                fresh.attempts += 1
                fresh.error_id = error_id
                fresh.last_error = error[:2000]
                session.add(fresh)
                if fresh.attempts >= self.attempts:
                    await self._park(session, fresh, error_id, error)
                    return Step.DONE, 0.0
                attempts_done = fresh.attempts
        except Exception:
            log.exception("update=%s recording a failed attempt failed", seen.update_id)
            return Step.STALL, 0.0
        delay = self.retry_delays[min(attempts_done - 1, len(self.retry_delays) - 1)]
        return Step.RETRY, delay

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
