"""Durable update handling: nothing lost, nothing twice.

aiogram's own polling confirms an update before its handler finishes and drops a handler's exception.
Here an update is stored (keyed by `update_id`) before its offset is confirmed, and marked done in the
same transaction as its effects (ticket changes and outbox rows). Updates of one chat are handled one
at a time in `update_id` order; different chats run in parallel. A failing handler is retried a few
times, then the update is parked, the staff are told and the customer gets an apology.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy import text
from sqlmodel import col, select

from bot.context import HandlerContext
from helpdesk import failures
from helpdesk.clock import now_utc
from helpdesk.people import Person
from helpdesk.policy import DeskPolicy
from storage.db import Database
from storage.models import InboxUpdate
from storage.repos import dialect_insert

log = logging.getLogger("bot.updates")

#: update types that carry a chat; the value is where the chat id is in the payload
_CHAT_PATHS: dict[str, tuple[str, ...]] = {
    "message": ("chat", "id"),
    "edited_message": ("chat", "id"),
    "channel_post": ("chat", "id"),
    "edited_channel_post": ("chat", "id"),
    "business_message": ("chat", "id"),
    "my_chat_member": ("chat", "id"),
    "chat_member": ("chat", "id"),
    "chat_join_request": ("chat", "id"),
    "message_reaction": ("chat", "id"),
}


def update_kind(payload: dict[str, Any]) -> str:
    return next((k for k in payload if k != "update_id"), "unknown")


def chat_key_of(payload: dict[str, Any]) -> int:
    """The chat an update belongs to (its ordering key); 0 for updates without a chat."""
    kind = update_kind(payload)
    body = payload.get(kind) or {}
    if kind == "callback_query":
        message = body.get("message") or {}
        chat = (message.get("chat") or {}).get("id")
        return int(chat or (body.get("from") or {}).get("id") or 0)
    path = _CHAT_PATHS.get(kind)
    if path:
        node: Any = body
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return int(node or 0)
    sender = body.get("from") or body.get("user") or {}
    return int(sender.get("id") or 0) if isinstance(sender, dict) else 0


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
    person = Person(
        user_id=int(user["id"]),
        chat_id=int(chat_id if chat_id is not None else user["id"]),
        first_name=str(user.get("first_name") or ""),
        last_name=user.get("last_name"),
        username=user.get("username"),
        language_code=user.get("language_code"),
    )
    return person, chat_id, chat.get("type")


@dataclass
class InboxStats:
    processed: int = 0
    failed_attempts: int = 0
    parked: int = 0
    duplicates: int = 0


class UpdateInbox:
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
    ) -> None:
        self.db = db
        self.dp = dispatcher
        self.bot = bot
        self.policy = policy
        self.triage = triage
        self.attempts = attempts
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.stats = InboxStats()
        self._slots = asyncio.Semaphore(concurrency)
        self._chats: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self.last_update_at: float | None = None

    # -- storing ------------------------------------------------------------------------------------

    async def store(self, payloads: Iterable[dict[str, Any]]) -> list[int]:
        """Store updates (ignoring ones already stored) and schedule them; returns the new ids."""
        payloads = list(payloads)
        if not payloads:
            return []
        self.last_update_at = time.monotonic()
        async with self.db.session() as session:
            existing = set(
                (
                    await session.exec(
                        select(InboxUpdate.update_id).where(
                            col(InboxUpdate.update_id).in_([int(p["update_id"]) for p in payloads])
                        )
                    )
                ).all()
            )
            fresh = [p for p in payloads if int(p["update_id"]) not in existing]
            self.stats.duplicates += len(payloads) - len(fresh)
            if fresh:
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
                            "received_at": now_utc(),
                        }
                        for p in fresh
                    ],
                )
        for payload in fresh:
            self.schedule(chat_key_of(payload))
        return [int(p["update_id"]) for p in fresh]

    # -- scheduling ---------------------------------------------------------------------------------

    def schedule(self, chat_key: int) -> None:
        self._dirty.add(chat_key)
        if chat_key not in self._chats:
            task = asyncio.create_task(self._drain_chat(chat_key))
            self._chats[chat_key] = task
            task.add_done_callback(lambda _t, c=chat_key: self._chats.pop(c, None))

    async def recover(self) -> int:
        """Schedule every stored update not yet done (after a crash, or another process's death)."""
        async with self.db.read() as session:
            chats = (
                await session.exec(select(InboxUpdate.chat_key).where(InboxUpdate.status == "pending").distinct())
            ).all()
        for chat_key in chats:
            self.schedule(int(chat_key))
        return len(chats)

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until every scheduled chat is drained (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._chats and time.monotonic() < deadline:
            await asyncio.gather(*list(self._chats.values()), return_exceptions=True)

    async def _drain_chat(self, chat_key: int) -> None:
        while chat_key in self._dirty:
            self._dirty.discard(chat_key)
            while True:
                async with self._slots:
                    handled = await self._handle_next(chat_key)
                if not handled:
                    break

    # -- processing ---------------------------------------------------------------------------------

    async def _handle_next(self, chat_key: int) -> bool:
        """Handle the oldest pending update of the chat; False when there is none (or another process has it)."""
        for attempt in range(1, self.attempts + 1):
            started = time.perf_counter()
            context: HandlerContext | None = None
            update_id: int | None = None
            kind = "unknown"
            try:
                async with self.db.session() as session:
                    if not self.db.is_sqlite:
                        locked = (
                            await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": chat_key})
                        ).scalar_one()
                        if not locked:
                            return False  # another process is working on this chat; it drains it
                    row = (
                        await session.exec(
                            select(InboxUpdate)
                            .where(InboxUpdate.chat_key == chat_key, InboxUpdate.status == "pending")
                            .order_by(col(InboxUpdate.update_id))
                            .limit(1)
                            .with_for_update()
                        )
                    ).first()
                    if row is None:
                        return False
                    update_id = row.update_id
                    kind = update_kind(row.payload)
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
                    update = Update.model_validate(row.payload, context={"bot": self.bot})
                    result = await self.dp.feed_update(self.bot, update, ctx=context)
                    if result is None or result.__class__.__name__ == "_Unhandled":
                        context.outcome = "ignored" if context.outcome == "handled" else context.outcome
                    row.status = "done"
                    row.done_at = now_utc()
                    row.attempts += 1
                    session.add(row)
            except Exception as exc:
                if update_id is None:
                    log.exception("reading the inbox of chat %s failed", chat_key)
                    await asyncio.sleep(0.5)
                    return False
                self.stats.failed_attempts += 1
                error_id = uuid.uuid4().hex[:8]
                log.error(
                    "update=%s chat=%s kind=%s outcome=error attempt=%s/%s error_id=%s error=%s",
                    update_id,
                    chat_key,
                    kind,
                    attempt,
                    self.attempts,
                    error_id,
                    type(exc).__name__,
                    exc_info=attempt == self.attempts,
                )
                if attempt < self.attempts:
                    await asyncio.sleep(0.2 * 4 ** (attempt - 1))
                    continue
                await self._park(update_id, error_id, repr(exc))
                return True
            self.stats.processed += 1
            latency = (time.perf_counter() - started) * 1000
            log.info(
                "update=%s chat=%s kind=%s outcome=%s attempt=%s latency_ms=%.1f",
                update_id,
                chat_key,
                kind,
                context.outcome if context else "?",
                attempt,
                latency,
            )
            if context is not None:
                for action in context.after_commit:
                    await action()
            return True
        return True

    async def _park(self, update_id: int, error_id: str, error: str) -> None:
        """Give up on an update: keep it (parked) for a person to look at, and never stay silent."""
        self.stats.parked += 1
        async with self.db.session() as session:
            row = await session.get(InboxUpdate, update_id)
            if row is None or row.status != "pending":
                return
            row.status = "parked"
            row.error_id = error_id
            row.last_error = error[:2000]
            row.attempts += self.attempts
            session.add(row)
            person, chat_id, chat_type = person_of(row.payload)
            if person is not None and chat_type == "private":
                await failures.update_parked(
                    session,
                    chat_id=chat_id,
                    user_id=person.user_id,
                    who=person.display_name,
                    error_id=error_id,
                    policy=self.policy,
                )
        log.error("update=%s outcome=parked error_id=%s", update_id, error_id)
