"""SQLite statements run on the event loop's thread: waiting for another connection's lock must not stop it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import select

from storage import migrate
from storage.db import Database, InLoopConnection
from storage.models import Counter


async def test_statements_run_without_aiosqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.driver_connection, InLoopConnection)
        async with db.session() as session:
            session.add(Counter(name="n", value=1))
        async with db.read() as session:
            assert (await session.exec(select(Counter.value).where(Counter.name == "n"))).one() == 1
    finally:
        await db.dispose()


async def test_a_lock_held_elsewhere_is_waited_for_without_blocking_the_loop(tmp_path: Path) -> None:
    """Two connections to one file (a CLI command next to the bot): the second writer waits asynchronously."""
    url = f"sqlite:///{tmp_path / 'b.db'}"
    first, second = Database(url), Database(url)
    try:
        await migrate.upgrade(first)
        holding, release, ticked = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with first.session() as session:
                session.add(Counter(name="first", value=1))
                await session.flush()  # BEGIN IMMEDIATE: the write lock is taken
                holding.set()
                await release.wait()

        async def tick() -> None:
            for _ in range(10):  # ten turns of the event loop, each a little later
                await asyncio.sleep(0.01)
            ticked.set()

        async def write_second() -> None:
            async with second.session() as session:
                session.add(Counter(name="second", value=2))

        holder = asyncio.create_task(hold())
        await holding.wait()
        writer = asyncio.create_task(write_second())
        ticker = asyncio.create_task(tick())
        await asyncio.wait_for(ticked.wait(), 60)  # the event loop keeps running while the second writer waits
        assert not writer.done()  # ...and it does wait: the first still holds the lock
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, ticker, writer), 60)
        async with first.read() as session:
            names = set((await session.exec(select(Counter.name))).all())
        assert {"first", "second"} <= names
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_read_takes_no_write_lock(tmp_path: Path) -> None:
    """`Database.read()` begins a plain (deferred) transaction: while it is open another connection can
    still take the write lock; a unit of work (`session()`) holds it from its start (BEGIN IMMEDIATE)."""
    import sqlite3

    path = tmp_path / "c.db"
    db = Database(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        await migrate.upgrade(db)
        async with db.read() as session:
            assert (await session.exec(select(Counter.value))).all() == []
            other.execute("BEGIN IMMEDIATE")  # would raise 'database is locked' under a write lock
            other.execute("INSERT INTO counters (name, value) VALUES ('other', 1)")
            other.execute("COMMIT")
        async with db.session() as session:
            await session.exec(select(Counter.value))
            try:
                other.execute("BEGIN IMMEDIATE")
                locked = False
                other.execute("ROLLBACK")
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc)
            assert locked
    finally:
        other.close()
        await db.dispose()
