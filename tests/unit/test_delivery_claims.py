"""What a claim pass costs and what it learns (scheduler/delivery/claims.py), counted in transactions and
statements, never timed: one transaction per pass on PostgreSQL, no write lock for an idle pass on SQLite,
a split group message counted as its messages whichever process sent it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text

from helpdesk import outbox
from scheduler.delivery import TEXT_LIMIT, DeliveryLimits, calls_for
from storage.db import Database
from storage.outbox_rows import bell
from tests.unit import desk
from tests.unit.test_delivery import FakeTransport, queue

LIMITS = DeliveryLimits(per_second=1000, private_interval=0.0, group_per_minute=1000, poll_every=0.05)


@pytest.fixture(autouse=True)
def _fresh_bell() -> None:
    bell.reset()


@pytest.fixture
async def any_db(database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(database_url)
    yield database
    await database.dispose()


@contextmanager
def counted(db: Database) -> Iterator[dict[str, int]]:
    """Transactions begun and statements run on `db`'s engine meanwhile ("BEGIN IMMEDIATE": SQLite's write
    lock, taken by every write session and by no read session)."""
    seen = {"transactions": 0, "statements": 0, "write locks": 0}

    def begun(_conn: Any) -> None:
        seen["transactions"] += 1

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen["statements"] += 1
        if sql.strip().upper() == "BEGIN IMMEDIATE":
            seen["write locks"] += 1

    engine = db.engine.sync_engine
    event.listen(engine, "begin", begun)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", begun)
        event.remove(engine, "before_cursor_execute", statement)


async def test_a_claim_pass_is_one_transaction(any_db: Database) -> None:
    """Claim, order check and the chats' recent sends share one transaction (on PostgreSQL they were two:
    the order check ran after the claim's commit). SQLite adds its read-only look for due rows."""
    for chat in (501, 502, 503):
        await queue(any_db, chat, f"hello {chat}")
    delivery = desk.delivery(any_db, FakeTransport(), LIMITS)
    await delivery.startup()
    with counted(any_db) as seen:
        claimed = await delivery._claim()
    assert len(claimed) == 3
    assert seen["transactions"] == (2 if any_db.is_sqlite else 1)
    assert delivery.stats.claim_passes == 1


async def test_an_idle_sqlite_pass_takes_no_write_lock(sqlite_database_url: str) -> None:
    """Nothing due: the poll finds out in a read transaction and never holds up a handler's write."""
    db = await desk.migrated(sqlite_database_url)
    try:
        delivery = desk.delivery(db, FakeTransport(), LIMITS)
        await delivery.startup()
        with counted(db) as idle:
            assert await delivery.dispatch_due() == 0
        assert idle["write locks"] == 0 and idle["transactions"] == 1
        await queue(db, 501, "hello")
        with counted(db) as busy:
            assert await delivery.dispatch_due() == 1
            await delivery.drain()
        assert busy["write locks"] >= 1  # what is counted would show a write lock
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_a_row_another_claim_holds_stops_the_chat_in_the_same_transaction(postgres_database_url: str) -> None:
    """SKIP LOCKED passes over a row another process is claiming right now: the later rows of that chat are
    not leased (the order check in the claim's own transaction sees the held row as pending, not ours)."""
    db = await desk.migrated(postgres_database_url)
    other = Database(postgres_database_url)
    try:
        first = await queue(db, 501, "one")
        second = await queue(db, 501, "two")
        await queue(db, 501, "three")
        delivery = desk.delivery(db, FakeTransport(), LIMITS)
        await delivery.startup()
        async with other.session() as held:  # the other process's claim, not yet committed
            await held.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": second})
            claimed = await delivery._claim()
        assert claimed == [(first, 501)]
        assert delivery.stats.order_conflicts == 1
        async with db.read() as session:
            leased = (await session.execute(text("SELECT id FROM outbox WHERE locked_by IS NOT NULL"))).all()
        assert [row_id for (row_id,) in leased] == [first]  # the third row was never leased
    finally:
        await other.dispose()
        await db.dispose()


async def test_a_split_group_message_counts_as_its_messages_for_the_next_process(any_db: Database) -> None:
    """A notification sent to a group as three messages is three of the group's 20 a minute, also for a
    process (or a restart) that knows it only from the table."""
    long_text = "word " * (TEXT_LIMIT // 2)  # ~2.5 × the limit: three messages
    parts = len(calls_for("sendMessage", {"chat_id": desk.STAFF, "text": long_text}))
    assert parts == 3
    async with any_db.session() as session:
        outbox.send_text(session, desk.STAFF, long_text)
    await queue(any_db, 501, long_text)  # a private chat's interval runs from its last message: once
    transport = FakeTransport()
    await desk.delivery(any_db, transport, LIMITS).drain(until_empty=True)
    assert len(transport.to(desk.STAFF)) == parts

    successor = desk.delivery(any_db, FakeTransport(), LIMITS)
    sends = await successor.claims.recent_sends()
    assert [chat for chat, _ in sends].count(desk.STAFF) == parts
    assert [chat for chat, _ in sends].count(501) == 1
    successor.pacing.restore(sends)
    assert len(successor.pacing.chats._group_window[desk.STAFF]) == parts


class HeldTransport(FakeTransport):
    """Calls to `held` chats wait until `release` is set (a slow chat, still at work)."""

    def __init__(self, held: set[int]) -> None:
        super().__init__()
        self.held = held
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        if payload.get("chat_id") in self.held:
            self.waiting.set()
            await self.release.wait()
        return await super().call(method, payload)


async def test_a_finished_chat_asks_for_no_pass_when_nothing_can_be_waiting(any_db: Database) -> None:
    """Each chat's sender that finished used to ring for a claim pass: one pass per chat sent to, doubled
    with two processes. With nothing committed for it meanwhile and no limit reached, nothing rings."""
    async with any_db.session() as session:
        for chat in (501, 502, 503, 504):
            outbox.send_text(session, chat, f"hello {chat}")
    delivery = desk.delivery(any_db, FakeTransport(), LIMITS)
    await delivery.startup()
    assert await bell.wait(5)  # the commit's (heard, so no longer rung)
    assert await delivery.dispatch_due() == 4
    await asyncio.gather(*delivery._active.values())
    assert not delivery._active and delivery.stats.sent == 4
    assert not bell.is_rung()  # no pass asked for
    assert delivery.stats.claim_passes == 1


async def test_rows_committed_for_a_busy_chat_are_claimed_when_it_finishes(any_db: Database) -> None:
    """A pass passes over a chat at work; when its sender finishes, the rows that came for it meanwhile
    ring for a pass, which takes them (no wait for the poll)."""
    transport = HeldTransport({501})
    delivery = desk.delivery(any_db, transport, LIMITS)
    await delivery.startup()
    await queue(any_db, 501, "first")
    assert await delivery.dispatch_due() == 1
    await transport.waiting.wait()  # chat 501 is at work
    await queue(any_db, 501, "second")  # committed meanwhile: its bell rings
    await queue(any_db, 502, "other chat")
    assert await bell.wait(5)  # rung (heard, so no longer rung)
    assert await delivery.dispatch_due() == 1  # 502 only: 501 is busy
    await delivery._active[502]  # 502 sent
    assert not bell.is_rung()  # 502's sender finished with nothing left behind
    transport.release.set()
    await asyncio.gather(*delivery._active.values())
    assert bell.is_rung()  # 501's sender finished with a row waiting: a pass is asked for
    assert await delivery.dispatch_due() == 1
    await asyncio.gather(*delivery._active.values())
    assert transport.delivered[501] == ["first", "second"]
