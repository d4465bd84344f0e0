"""Reading a running bot's database from a test (SQLite or PostgreSQL), to wait for conditions, not for time.

A test that kills the bot must first know that what it expects to survive is recorded: "the outbox is
settled" (every message due so far was sent and Telegram's answer recorded) is such a condition.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.clock import now_utc
from storage.db import Database
from storage.models import OutboxMessage

__all__ = ["outbox_settled", "read", "wait_outbox_settled", "wait_until_true"]

T = TypeVar("T")


async def read(database_url: str, query: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``query(session)`` in a read transaction on a fresh connection and return its result."""
    db = Database(database_url)
    try:
        async with db.read() as session:
            return await query(session)
    finally:
        await db.dispose()


async def outbox_settled(database_url: str) -> bool:
    """No outbox row is due and unsent: everything the bot had to send by now went out and was recorded."""

    async def due(session: AsyncSession) -> int:
        stmt = (
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == "pending", col(OutboxMessage.next_attempt_at) <= now_utc())
        )
        return int((await session.exec(stmt)).one())

    return await read(database_url, due) == 0


async def wait_until_true(condition: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    """Poll an async condition until it is truthy; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_outbox_settled(database_url: str, timeout: float = 30.0) -> None:
    """Wait until ``outbox_settled``: a kill after this loses no message and no record of one."""
    await wait_until_true(lambda: outbox_settled(database_url), "the outbox to settle", timeout)
