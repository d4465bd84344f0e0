"""SQLite statements run on the event loop's thread: waiting for another connection's lock must not stop it."""

from __future__ import annotations

import asyncio
import time
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
        ticks = 0
        holding = asyncio.Event()

        async def hold() -> None:
            async with first.session() as session:
                session.add(Counter(name="first", value=1))
                await session.flush()  # BEGIN IMMEDIATE: the write lock is taken
                holding.set()
                await asyncio.sleep(0.3)

        async def tick() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        done = asyncio.Event()
        holder = asyncio.create_task(hold())
        ticker = asyncio.create_task(tick())
        await holding.wait()
        started = time.monotonic()
        async with second.session() as session:
            session.add(Counter(name="second", value=2))
        waited = time.monotonic() - started
        done.set()
        await asyncio.gather(holder, ticker)
        assert waited >= 0.2  # it did wait for the lock...
        assert ticks >= 10  # ...and the event loop kept running meanwhile
        async with first.read() as session:
            names = set((await session.exec(select(Counter.name))).all())
        assert {"first", "second"} <= names
    finally:
        await first.dispose()
        await second.dispose()
