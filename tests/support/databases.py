"""Database URLs for tests: a SQLite file per test, or a fresh PostgreSQL database per test.

PostgreSQL: the server is ``TEST_POSTGRES_URL`` or ``postgresql://postgres@127.0.0.1:5432`` (trust auth).
An admin connection (to the URL's database, else ``test``, else ``postgres``) runs CREATE/DROP DATABASE.
If the server cannot be reached the test is skipped, unless ``CI`` is set, where it fails loudly.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "PostgresUnavailable",
    "create_postgres_database",
    "database_for",
    "drop_postgres_database",
    "postgres_database",
    "postgres_server_url",
    "sqlite_url",
]

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
ADMIN_DATABASES = ("test", "postgres")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server for tests cannot be reached."""


def sqlite_url(path: Path | str) -> str:
    """``sqlite+aiosqlite:///{path}`` (an absolute path gives four slashes, as SQLAlchemy expects)."""
    return f"sqlite+aiosqlite:///{path}"


def postgres_server_url() -> str:
    """The server URL: ``TEST_POSTGRES_URL`` or the default, without a SQLAlchemy driver suffix."""
    raw = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    parts = urlsplit(raw)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


def _with_database(server_url: str, name: str, scheme: str | None = None) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((scheme or parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _where(server_url: str) -> str:
    parts = urlsplit(server_url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"


async def _admin_connection(server_url: str):  # -> asyncpg.Connection
    import asyncpg

    given = urlsplit(server_url).path.strip("/")
    candidates = (given,) if given else ADMIN_DATABASES
    last: BaseException | None = None
    for name in candidates:
        try:
            return await asyncpg.connect(_with_database(server_url, name), timeout=5)
        except asyncpg.InvalidCatalogNameError as exc:  # that admin database does not exist: try the next
            last = exc
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise PostgresUnavailable(f"PostgreSQL not reachable at {_where(server_url)}: {exc!r}") from exc
    raise PostgresUnavailable(f"PostgreSQL at {_where(server_url)} has none of {candidates}: {last!r}")


async def create_postgres_database(prefix: str = "t_") -> tuple[str, str]:
    """Create an empty database ``{prefix}<random>``; returns (name, ``postgresql+asyncpg://…/name`` URL)."""
    server = postgres_server_url()
    name = f"{prefix}{secrets.token_hex(6)}"
    conn = await _admin_connection(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, _with_database(server, name, scheme="postgresql+asyncpg")


async def drop_postgres_database(name: str) -> None:
    """``DROP DATABASE … WITH (FORCE)`` (disconnects leftover sessions, e.g. of a killed bot)."""
    conn = await _admin_connection(postgres_server_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def postgres_database(prefix: str = "t_") -> AsyncIterator[str]:
    """A fresh PostgreSQL database for the duration of the block (skip/fail if the server is unreachable)."""
    try:
        name, url = await create_postgres_database(prefix)
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
        raise  # not reached: _unavailable skips or fails
    try:
        yield url
    finally:
        await drop_postgres_database(name)


@contextlib.asynccontextmanager
async def database_for(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """``sqlite`` → a file URL in ``tmp_path``; ``postgres`` → a fresh database, dropped afterwards."""
    if backend == "sqlite":
        yield sqlite_url(tmp_path / "bot.db")
    elif backend == "postgres":
        async with postgres_database() as url:
            yield url
    else:
        raise ValueError(f"unknown database backend {backend!r}")
