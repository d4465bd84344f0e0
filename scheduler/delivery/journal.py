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

from scheduler.delivery import plain_rows
from scheduler.delivery.row_attempts import RowAttempts
from storage.db import Database
from storage.models import Customer, OutboxMessage, Ticket
from storage.types import utcnow

# The shared transaction's statements, built once (building one per batch costs more than running it).
_ROWS = select(OutboxMessage).where(col(OutboxMessage.id).in_(bindparam("ids", expanding=True)))
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

    async def succeeded(self, row_id: int, message_ids: list[int], thread_id: int | None) -> None:
        """`RowAttempts.record_success` for this row, in the next shared transaction."""
        await self._submit(_Request("succeeded", row_id, list(message_ids), thread_id))

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
        """One transaction for a batch of requests; results in the batch's order.

        The ordinary rows are begun and recorded in plain SQL (`plain_rows`); the others (a card, a file, a
        blocked customer, parts, an unconcluded attempt…) as ORM objects by `RowAttempts`."""
        results: dict[int, Any] = {}
        async with self.db.session() as session:
            ids = sorted({r.row_id for r in batch})
            found = {row.id: row for row in (await session.execute(plain_rows.ROWS_FOR_UPDATE, {"ids": ids})).all()}
            prepares = [(i, r) for i, r in enumerate(batch) if r.kind == "prepare" and r.row_id in found]
            unreachable: set[int] = set()
            chats = {found[r.row_id].chat_id for _, r in prepares if found[r.row_id].chat_id > 0}
            if chats:  # did the person of a private chat block the bot? (its id is its user's id)
                blocked = await session.exec(_UNREACHABLE, params={"chats": sorted(chats)})
                unreachable = {int(chat) for chat in blocked.all()}
            records = [(i, r) for i, r in enumerate(batch) if r.kind == "succeeded" and r.row_id in found]
            plain_records = [(i, r) for i, r in records if plain_rows.can_record(found[r.row_id])]
            plain = {i for i, _ in plain_records}
            orm_records = [(i, r) for i, r in records if i not in plain]
            # a ticket whose card or topic is recorded here: its rows are prepared the ORM way, after it
            recorded = {t for _, r in orm_records if (t := found[r.row_id].ticket_id) is not None}
            staff_chats = await plain_rows.staff_chats_of(
                session, (t for _, r in prepares if (t := found[r.row_id].ticket_id) and t not in recorded)
            )
            plain_prepares = [
                (i, r)
                for i, r in prepares
                if found[r.row_id].chat_id not in unreachable
                and found[r.row_id].ticket_id not in recorded
                and plain_rows.can_begin(found[r.row_id], staff_chats)
            ]
            plain.update(i for i, _ in plain_prepares)
            orm_prepares = [(i, r) for i, r in prepares if i not in plain]
            for index, request in enumerate(batch):
                if request.row_id not in found:
                    results[index] = True if request.kind == "prepare" else None
            now = utcnow()
            begun: list[dict[str, Any]] = []
            sent: list[dict[str, Any]] = []
            for index, request in plain_records:  # records first: see the module docstring
                await plain_rows.record(session, found[request.row_id], request.message_ids, now, sent)
                results[index] = None
            for index, request in plain_prepares:
                row = found[request.row_id]
                results[index] = plain_rows.begin(row, self.attempts.worker_id, self.attempts.limits.lease, now, begun)
            await plain_rows.write(session, begun, sent)
            await self._apply_orm(session, orm_records, orm_prepares, unreachable, results)
        return [results[index] for index in range(len(batch))]

    async def _apply_orm(
        self,
        session: Any,
        records: list[tuple[int, _Request]],
        prepares: list[tuple[int, _Request]],
        unreachable: set[int],
        results: dict[int, Any],
    ) -> None:
        """The requests of rows that are not plain, on ORM objects (locked already by the shared read)."""
        ids = sorted({r.row_id for _, r in records + prepares})
        if not ids:
            return
        rows = {row.id: row for row in (await session.exec(_ROWS, params={"ids": ids})).all()}
        tickets = {row.ticket_id for row in rows.values() if row.ticket_id}
        if tickets:  # loaded once for the whole batch: session.get finds them in the identity map
            (await session.exec(_TICKETS, params={"ids": sorted(tickets)})).all()
        for index, request in records:  # records first: see the module docstring
            row = rows.get(request.row_id)
            await self.attempts.record_success(session, row, request.message_ids, request.thread_id)
            results[index] = None
        for index, request in prepares:
            row = rows.get(request.row_id)
            blocked = row is not None and row.chat_id in unreachable
            results[index] = await self.attempts.prepare(session, row, blocked)
