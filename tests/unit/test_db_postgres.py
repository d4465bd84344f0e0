"""PostgreSQL connections: pinged only after resting in the pool, and a dead rested one replaced unnoticed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage import db as db_module
from storage.db import Database

pytestmark = pytest.mark.postgres


def count_pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every ping the pool makes (each one a transaction and three round trips with asyncpg)."""
    dialect = database.engine.sync_engine.dialect
    pings: list[Any] = []
    real = dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", ping)
    return pings


async def backend_pid(database: Database) -> int:
    async with database.session() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_back_from_work_is_used_again_without_a_ping(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(postgres_database_url)
    pings = count_pings(database, monkeypatch)
    monkeypatch.setattr(db_module, "PING_AFTER_REST", 3600.0)  # nothing rests that long in this test
    try:
        pids = {await backend_pid(database) for _ in range(5)}
        async with database.read() as session:
            await session.execute(text("SELECT 1"))
    finally:
        await database.dispose()
    assert len(pids) == 1  # one pooled connection, used six times
    assert pings == []


async def test_a_rested_connection_the_server_closed_is_replaced_before_use(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(postgres_database_url)
    pings = count_pings(database, monkeypatch)
    try:
        first = await backend_pid(database)
        admin = await asyncpg.connect(postgres_database_url.replace("postgresql+asyncpg", "postgresql"))
        try:  # the server cuts the connection while it rests in the pool (a restart, an idle timeout)
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        monkeypatch.setattr(db_module, "PING_AFTER_REST", 0.0)  # it has rested long enough to be pinged
        second = await backend_pid(database)  # no error: the ping found it dead, a new one took its place
    finally:
        await database.dispose()
    assert second != first
    assert len(pings) == 1


async def test_a_quiet_process_polling_every_second_pings_nothing_after_a_peak(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a peak opened several connections, a poll a second takes the connection back last (it rested
    a second); handing out the one that rested longest would ping at every poll."""
    database = Database(postgres_database_url)
    pings = count_pings(database, monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(db_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    try:
        async with database.session() as a, database.session() as b, database.session() as c:
            for session in (a, b, c):  # a peak: three transactions at once, three connections
                await session.execute(text("SELECT 1"))
        polled = set()
        for _ in range(10):  # then quiet: one short transaction a second
            clock[0] += 1.0
            polled.add(await backend_pid(database))
        kept = database.engine.pool.checkedin()
    finally:
        await database.dispose()
    assert kept == 3
    assert len(polled) == 1
    assert pings == []


async def test_a_ping_that_fails_for_another_reason_than_a_disconnect_is_not_hidden(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a disconnect makes the pool replace a rested connection; any other error of the ping surfaces."""
    database = Database(postgres_database_url)
    dialect = database.engine.sync_engine.dialect

    def failing_ping(_dbapi_connection: Any) -> bool:
        raise dialect.loaded_dbapi.Error("not a disconnect")

    try:
        await backend_pid(database)
        monkeypatch.setattr(dialect, "do_ping", failing_ping)
        monkeypatch.setattr(db_module, "PING_AFTER_REST", 0.0)
        with pytest.raises(DBAPIError, match="not a disconnect"):
            await backend_pid(database)
    finally:
        await database.dispose()
