"""Engine and sessions for SQLite (default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.orm.session import Session as SyncSession

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bot.db"
#: PostgreSQL transactions a process runs at once for updates (DB_POOL_SIZE)
DEFAULT_POOL_SIZE = 10
#: PostgreSQL connections beyond DB_POOL_SIZE for peaks (delivery, sweeps, stores next to the updates' batches)
PEAK_CONNECTIONS = 10
#: prepared statements kept per PostgreSQL connection (SQLAlchemy's asyncpg default: 100). The bot runs some
#: 350 distinct statements (an IN list of each length is one of its own), so with 100 every connection kept
#: evicting and preparing again: one in eight statements of the intake was a fresh prepare (a round trip
#: and a plan). A URL's own `prepared_statement_cache_size` wins.
PREPARED_STATEMENTS = 500
#: execution option of `Database.read()`'s connections on SQLite: their transactions begin DEFERRED
_READ_ONLY = "intake_read_only"
#: how long a statement waits for another connection's write lock before it fails (as busy_timeout did)
SQLITE_BUSY_WAIT = 30.0
#: a PostgreSQL connection that rested in the pool longer than this is pinged before use (see `_ping_if_rested`)
PING_AFTER_REST = 2.0
#: connection-record key: when the connection went back to the pool (time.monotonic)
_RETURNED_AT = "intake_returned_at"


def normalise_url(url: str) -> str:
    """Accept the URLs operators paste (postgres://, postgresql://, sqlite:///) and pick async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class Database:
    """One engine per process; sessions are short and never held across network calls."""

    def __init__(
        self, url: str = DEFAULT_DATABASE_URL, *, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE
    ) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # One writer at a time is SQLite's nature; a single pooled connection turns lock contention
            # into a fair asyncio queue instead of SQLITE_BUSY errors.
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
            if not parsed.query:  # plain file (or :memory:): statements run on the event loop's thread
                kwargs["async_creator"] = _in_loop_creator(database or ":memory:")
        else:
            # every connection opened is kept: an overflow connection closed at the end of each peak (QueuePool's
            # max_overflow) made the next peak pay a new connection and all its prepared statements again
            # last in, first out: the connection back most recently goes next, so a quiet process (a poll a
            # second) keeps using one and the others rest; first in, first out would hand out the one that
            # rested longest, and ping it (`_ping_if_rested`) at every poll
            kwargs.update(pool_size=pool_size + PEAK_CONNECTIONS, max_overflow=0, pool_use_lifo=True)
            if "prepared_statement_cache_size" not in parsed.query:
                kwargs["connect_args"] = {"prepared_statement_cache_size": PREPARED_STATEMENTS}
        #: transactions for updates at once: more would only queue for a connection
        self.pool_size: int = 1 if self.is_sqlite else pool_size
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_if_rested(self.engine)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, sync_session_class=_KeepingSession, expire_on_commit=False
        )
        # reads begin DEFERRED on SQLite (a snapshot, no write lock: see `_configure_sqlite`)
        reader = self.engine.execution_options(**{_READ_ONLY: True}) if self.is_sqlite else self.engine
        self._read_sessions = async_sessionmaker(
            reader, class_=AsyncSession, sync_session_class=_KeepingSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on any exception."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading: nothing is committed; objects stay readable after it closes. On SQLite its
        transaction takes no write lock (a plain BEGIN), so a read never holds up another connection's
        writer (a CLI command, a second Database); whatever it wrote would be rolled back anyway."""
        async with self._read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def session_info(session: AsyncSession | SyncSession) -> dict[str, Any]:
    """The session's `info` dict, for an async or a sync session: what lives as long as its transaction."""
    return session.sync_session.info if isinstance(session, AsyncSession) else session.info


class _KeepingSession(SyncSession):
    """A session that keeps what it loaded until it closes.

    SQLAlchemy's identity map holds unchanged rows weakly: a row read, used and dropped (a draft turned
    into a dialog state, a ticket looked up for a check) is forgotten at once, and the next
    `session.get` of it in the same transaction reads it again. Sessions here are one short transaction,
    so holding the rows for its length costs nothing and saves those reads.
    """


@event.listens_for(_KeepingSession, "loaded_as_persistent")
def _keep_loaded(session: SyncSession, instance: Any) -> None:
    session.info.setdefault("_loaded", []).append(instance)


@event.listens_for(_KeepingSession, "after_soft_rollback")
def _forget_loaded(session: SyncSession, _previous: Any) -> None:
    session.info.pop("_loaded", None)


def _ping_if_rested(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it rested in the pool (`PING_AFTER_REST`).

    SQLAlchemy's `pool_pre_ping` pings at every checkout: with asyncpg three round trips (BEGIN, an empty
    query, ROLLBACK) and a transaction of their own, as many as all the real transactions together and
    the per-session cost that grows with processes (more, smaller batches; benchmarks/README.md). A
    connection that went back to the pool a moment ago was alive then; what a ping is for (the server
    restarted, an idle connection was cut) shows on connections that rested. A server that dies within
    the moment fails the transaction that uses it, as it would fail one in flight: SQLAlchemy sees the
    disconnect and replaces every older connection of the pool. A fresh connection is not pinged either.
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)  # none yet: a new connection (a reconnect clears `info`)
        if returned is None or time.monotonic() - returned < PING_AFTER_REST:
            return
        try:  # the dialect's ping and disconnect test, as pool_pre_ping uses them (Dialect's public API)
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            alive = False
        if not alive:  # the pool replaces this connection and every older one, as after pool_pre_ping's
            raise exc.InvalidatePoolError("the connection was closed while it rested in the pool")


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so writers never deadlock on upgrade (a read
    session's plain BEGIN: it never upgrades, as it writes nothing it keeps)."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        in_loop = isinstance(getattr(dbapi_connection, "_connection", None), InLoopConnection)
        if not in_loop:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (in-loop: set at connect)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # in-loop: SQLite must not sleep on a lock (that would stop the event loop); the wait is async
        cursor.execute("PRAGMA busy_timeout=0" if in_loop else "PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


# -- SQLite on the event loop's thread -----------------------------------------------------------------
#
# aiosqlite runs every call (cursor, execute, fetch, close: four per statement) on a worker thread and
# hands the result back through the event loop: for the short statements of this bot that hop costs far
# more than SQLite's own work, and the ping-pong of the GIL between the two threads more still. With one
# connection, one writer and statements of microseconds, running them directly on the loop's thread is
# cheaper and changes nothing else: same SQL, same transactions, same connection pool of one. Waiting for
# another connection's lock (another process, a CLI command) is the one thing that must not block the
# loop: SQLite's busy handler is off and the wait is an asyncio sleep, retried for up to 30 s.


async def _retry_busy(call: Callable[..., Any], *args: Any) -> Any:
    deadline: float | None = None
    delay = 0.001
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + SQLITE_BUSY_WAIT
            elif now >= deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)


class InLoopCursor:
    """The part of aiosqlite's Cursor that SQLAlchemy's aiosqlite dialect uses, without the thread."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InLoopCursor:
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InLoopCursor:
        if parameters is None:
            await _retry_busy(self._cursor.execute, sql)
        else:
            await _retry_busy(self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> InLoopCursor:
        await _retry_busy(self._cursor.executemany, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Immediate:
    """Stands in for aiosqlite's request queue (SQLAlchemy sets isolation_level through it)."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InLoopConnection:
    """The part of aiosqlite's Connection that SQLAlchemy's aiosqlite dialect uses, without the thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._tx = _Immediate()

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InLoopCursor:
        return InLoopCursor(self._conn.cursor())

    async def commit(self) -> None:
        await _retry_busy(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _in_loop_creator(database: str) -> Callable[[], Any]:
    async def connect() -> InLoopConnection:
        # isolation_level=None: no implicit transactions, we issue BEGIN IMMEDIATE ourselves
        return InLoopConnection(sqlite3.connect(database, isolation_level=None, timeout=0, check_same_thread=False))

    return connect
