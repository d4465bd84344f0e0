"""Group commit: the row transactions that senders of different chats need at the same moment, in one.

Each attempt begins with a transaction (the row locked and checked, its in-flight mark) and ends with
one (the record of its success). Senders of many chats reach those points together, so the requests
queued meanwhile share one transaction. For each row nothing changes: its mark is committed before its
call, its record after the call returned. Records go first, so a card recorded in a transaction is seen
by the replies to it prepared in the same one. When the shared transaction fails, each request is tried
again alone, so one bad row fails only itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select

from scheduler.delivery.row_attempts import RowAttempts
from storage.db import Database
from storage.models import Customer, OutboxMessage, Ticket

# The shared transaction's statements, built once (building one per batch costs more than running it).
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


@dataclass
class _Request:
    """For the next shared transaction: begin a row's attempt, or record its success."""

    kind: str  # "prepare" | "succeeded"
    row_id: int
    message_ids: list[int] = field(default_factory=list)
    thread_id: int | None = None
    future: asyncio.Future[Any] | None = None


def _settle(request: _Request, result: Any = None, *, exc: BaseException | None = None) -> None:
    future = request.future
    if future is None or future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    elif exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class Journal:
    """The shared row transactions of one delivery loop."""

    def __init__(self, db: Database, attempts: RowAttempts) -> None:
        self.db = db
        self.attempts = attempts
        self._requests: list[_Request] = []
        self._task: asyncio.Task[None] | None = None

    async def prepare(self, row_id: int) -> Any:
        """`RowAttempts.prepare` for this row, in the next shared transaction."""
        return await self._submit(_Request("prepare", row_id))

    async def succeeded(self, row_id: int, message_ids: list[int], thread_id: int | None) -> OutboxMessage | None:
        """`RowAttempts.record_success` for this row, in the next shared transaction."""
        return await self._submit(_Request("succeeded", row_id, list(message_ids), thread_id))

    async def _submit(self, request: _Request) -> Any:
        """Queue a request for the next shared transaction and wait until it is committed."""
        request.future = asyncio.get_running_loop().create_future()
        self._requests.append(request)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="outbox-journal")
        return await request.future

    async def _run(self) -> None:
        try:
            await asyncio.sleep(0)  # senders woken by the same answers queue their requests first
            while self._requests:
                batch, self._requests = self._requests, []
                # a sender that went away (cancelled at shutdown) gets no in-flight mark; records are kept
                batch = [r for r in batch if r.kind == "succeeded" or not r.future.done()]
                if not batch:
                    continue
                try:
                    results = await self._apply(batch)
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0], exc=exc)
                        continue
                    for request in batch:
                        try:
                            (result,) = await self._apply([request])
                        except Exception as single:
                            _settle(request, exc=single)
                        else:
                            _settle(request, result)
                    continue
                for request, result in zip(batch, results, strict=True):
                    _settle(request, result)
        except BaseException as exc:  # cancelled with the loop: nobody may wait for ever
            for request in self._requests:
                _settle(request, exc=exc)
            self._requests = []
            raise

    async def _apply(self, batch: list[_Request]) -> list[Any]:
        """One transaction for a batch of requests; results in the batch's order."""
        results: dict[int, Any] = {}
        async with self.db.session() as session:
            ids = sorted({r.row_id for r in batch})
            rows = {row.id: row for row in (await session.exec(_ROWS_FOR_UPDATE, params={"ids": ids})).all()}
            prepares = [r for r in batch if r.kind == "prepare"]
            unreachable: set[int] = set()
            chats = {rows[r.row_id].chat_id for r in prepares if r.row_id in rows and rows[r.row_id].chat_id > 0}
            if chats:  # did the person of a private chat block the bot? (its id is its user's id)
                found = await session.exec(_UNREACHABLE, params={"chats": sorted(chats)})
                unreachable = {int(chat) for chat in found.all()}
            tickets = {row.ticket_id for row in rows.values() if row.ticket_id}
            if tickets:  # loaded once for the whole batch: session.get finds them in the identity map
                (await session.exec(_TICKETS, params={"ids": sorted(tickets)})).all()
            for index, request in enumerate(batch):  # records first: see the module docstring
                if request.kind == "succeeded":
                    row = rows.get(request.row_id)
                    results[index] = await self.attempts.record_success(
                        session, row, request.message_ids, request.thread_id
                    )
            for index, request in enumerate(batch):
                if request.kind == "prepare":
                    row = rows.get(request.row_id)
                    blocked = row is not None and row.chat_id in unreachable
                    results[index] = await self.attempts.prepare(session, row, blocked)
        return [results[index] for index in range(len(batch))]
