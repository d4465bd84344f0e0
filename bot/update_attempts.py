"""What the inbox records about each attempt at an update: its log line, a failed attempt counted, and
parking after the last one (the update kept for a person, the staff told, the customer never left silent).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bot.handlers.context import ButtonAnswers
from bot.handlers.update import chat_key_of, sender_of, update_kind
from helpdesk import failures, metrics
from helpdesk.clock import now_utc
from helpdesk.policy import DeskPolicy
from storage.db import Database
from storage.models import InboxUpdate
from storage.repos import dialect_insert

log = logging.getLogger("bot.updates")


@dataclass(frozen=True)
class Seen:
    """What the log and the failure path need of an inbox row (plain values: they outlive a rollback)."""

    update_id: int
    chat_key: int
    kind: str
    attempts: int


@dataclass(frozen=True)
class PressAnswer:
    """The answer a parked button press still gets (after the park is committed): its spinner stops."""

    query_id: str
    text: str


def query_id_of(payload: dict[str, Any]) -> str | None:
    """The id of a button press's callback query (None: no press, or one without a usable id)."""
    if update_kind(payload) != "callback_query":
        return None
    body = payload.get("callback_query")
    query_id = body.get("id") if isinstance(body, dict) else None
    return query_id if isinstance(query_id, str) and query_id else None


@dataclass
class InboxStats:
    stored: int = 0
    processed: int = 0
    failed_attempts: int = 0
    parked: int = 0
    duplicates: int = 0
    batches: int = 0  # transactions that handled updates
    stores: int = 0  # transactions that stored updates


def reason(exc: BaseException) -> str:
    """`Type: message` of what went wrong, the database driver's own error rather than SQLAlchemy's wrapper
    (which quotes the statement and its parameters: user text that has no place in a log line)."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {cause}"


def log_outcome(seen: Seen, outcome: str, started: float, **more: Any) -> None:
    """The one line per update attempt: `update=… chat=… kind=… outcome=… attempt=… latency_ms=…`.

    `latency_ms` runs from the start of the update's batch to its commit; `handler_ms` is its own
    handler's share, `batch` how many updates shared the transaction.
    """
    level = logging.ERROR if outcome in ("error", "parked") else logging.INFO
    if not log.isEnabledFor(level):
        return
    latency = (time.perf_counter() - started) * 1000
    fields = {
        "update": seen.update_id,
        "chat": seen.chat_key,
        "kind": seen.kind,
        "outcome": outcome,
        **more,
        "latency_ms": round(latency, 1),
    }
    log.log(level, " ".join(f"{k}={v}" for k, v in fields.items()), extra={"fields": fields})


class Attempts:
    """Failed attempts counted in the database (a crash does not reset them), parking after the last."""

    def __init__(
        self,
        db: Database,
        policy: DeskPolicy,
        stats: InboxStats,
        *,
        attempts: int,
        retry_delays: tuple[float, ...],
        answers: ButtonAnswers | None = None,
    ) -> None:
        self.db = db
        self.policy = policy
        self.answers = answers
        self.stats = stats
        self.attempts = max(1, attempts)
        self.retry_delays = retry_delays or (0.0,)

    async def failed(self, seen: Seen, exc: BaseException, started: float) -> tuple[str, float]:
        """Count the failed attempt (stored, so a restart keeps counting) and park after the last one.

        Returns ("retry", delay), ("done", 0) when the update is parked (the chat goes on), or ("stall", 0)
        when not even that could be written (the periodic recovery tries again).
        """
        self.stats.failed_attempts += 1
        metrics.update_failed(seen.kind)
        error_id = uuid.uuid4().hex[:8]
        error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, TimeoutError) else "TimeoutError: handler"
        attempt = seen.attempts + 1
        log_outcome(
            seen, "error", started, attempt=f"{attempt}/{self.attempts}", error_id=error_id, error=type(exc).__name__
        )
        if attempt >= self.attempts:
            log.error("update=%s error_id=%s handler failed", seen.update_id, error_id, exc_info=exc)
        parked: PressAnswer | None = None
        try:
            async with self.db.session() as session:
                fresh = await session.get(InboxUpdate, seen.update_id)
                if fresh is None or fresh.status != "pending":
                    return "done", 0.0
                fresh.attempts += 1
                fresh.error_id = error_id
                fresh.last_error = error[:2000]
                session.add(fresh)
                attempts_done = fresh.attempts
                if attempts_done >= self.attempts:
                    parked = await self.park(session, fresh, error_id, error)
        except Exception:
            log.exception("update=%s recording a failed attempt failed", seen.update_id)
            return "stall", 0.0
        if attempts_done >= self.attempts:
            await self.answer_press(parked)
            return "done", 0.0
        delay = self.retry_delays[min(attempts_done - 1, len(self.retry_delays) - 1)]
        return "retry", delay

    async def park_unstorable(self, payload: dict[str, Any], exc: BaseException) -> bool:
        """Record an update the database refused to store (its content) as parked, without its payload.

        Nobody is told but the log: whatever made it unstorable is no message a person wrote to us (ids
        beyond any Telegram id, text no database takes). False when even this record cannot be written.
        """
        update_id = int(payload["update_id"])
        error_id = uuid.uuid4().hex[:8]
        error = f"not stored: {reason(exc)}"[:2000]
        try:
            async with self.db.session() as session:
                stmt = dialect_insert(session, InboxUpdate).on_conflict_do_nothing()
                await session.execute(
                    stmt,
                    {
                        "update_id": update_id,
                        "chat_key": chat_key_of(payload),
                        "payload": {"update_id": update_id},
                        "status": "parked",
                        "attempts": 0,
                        "received_at": now_utc(),
                        "done_at": now_utc(),
                        "error_id": error_id,
                        "last_error": error,
                    },
                )
        except Exception:
            log.exception("update=%s could not be stored, nor parked", update_id)
            return False
        self.stats.parked += 1
        metrics.updates_parked.inc()
        query_id, (person, _chat, _type) = query_id_of(payload), sender_of(payload)
        if query_id is not None and person is not None:  # the database is the problem: no customer lookup
            text = failures.press_apology(None, person.language_code, self.policy)
            await self.answer_press(PressAnswer(query_id, text))
        fields = {
            "update": update_id,
            "chat": chat_key_of(payload),
            "kind": update_kind(payload),
            "outcome": "parked",
            "error_id": error_id,
            "error": type(getattr(exc, "orig", None) or exc).__name__,
        }
        log.error(" ".join(f"{k}={v}" for k, v in fields.items()) + f" {error}", extra={"fields": fields})
        return True

    async def park_by_id(self, session: Any, update_id: int, error: str | None = None) -> PressAnswer | None:
        """Park a stored update in the caller's transaction (its last error kept unless `error` is given);
        a button press's answer is returned, for the caller to give once that transaction is committed."""
        row = await session.get(InboxUpdate, update_id)
        error_id = (row.error_id if error is None else None) or uuid.uuid4().hex[:8]
        return await self.park(session, row, error_id, error or row.last_error or "?")

    async def answer_press(self, answer: PressAnswer | None) -> None:
        """Stop a parked press's spinner with its note (after the commit: the park is on record first)."""
        if answer is None or self.answers is None:
            return
        try:
            await self.answers.answer_button(answer.query_id, answer.text, False)
        except Exception:  # an expired query id, a network blip: the spinner stops by itself in the end
            log.warning("answering a parked button press failed", exc_info=True)

    async def park(self, session: Any, row: InboxUpdate, error_id: str, error: str) -> PressAnswer | None:
        """Give up on an update (in the caller's transaction): keep it for a person, and never stay silent.

        The staff chat is told (with the customer's open ticket when there is one); a customer writing in
        private gets a short apology saying their message was received. A button press gets a short note
        on the button too (returned: given after the commit), wherever it was pressed.
        """
        self.stats.parked += 1
        metrics.updates_parked.inc()
        row.status = "parked"
        row.error_id = error_id
        row.last_error = error[:2000]
        row.done_at = now_utc()
        session.add(row)
        person, chat_id, chat_type = sender_of(row.payload)
        who = person.display_name if person is not None else f"chat {chat_id if chat_id is not None else '?'}"
        note = await failures.update_parked(
            session,
            chat_id=chat_id if chat_type == "private" and person is not None else None,
            user_id=person.user_id if person is not None else None,
            who=who,
            error_id=error_id,
            policy=self.policy,
            pressed=update_kind(row.payload) == "callback_query",
            language_code=person.language_code if person is not None else None,
        )
        fields = {
            "update": row.update_id,
            "chat": row.chat_key,
            "kind": update_kind(row.payload),
            "outcome": "parked",
            "attempt": row.attempts,
            "error_id": error_id,
        }
        log.error(" ".join(f"{k}={v}" for k, v in fields.items()), extra={"fields": fields})
        query_id = query_id_of(row.payload)
        if query_id is None or note is None:
            return None
        return PressAnswer(query_id, note)
