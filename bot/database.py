"""The configured database, opened for the bot or a command: checked, migrated, its failures said in one line."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.operator_errors import ConfigError, database_error
from storage import migrate
from storage.db import DEFAULT_DATABASE_URL, Database, normalise_url

#: the one directory a SQLite DATABASE_URL may name before it exists (created at first use): ./data
DEFAULT_DATA_DIR = Path(make_url(DEFAULT_DATABASE_URL).database or "data/bot.db").parent


async def open_database(settings: Settings, revision: str | None = "head") -> Database:
    """DATABASE_URL with DB_POOL_SIZE, migrated to `revision` (by default the newest: a command may run
    before the bot ever started; None: as it is, for `migrate` to look first); a missing directory, an
    unreachable or refused database raises an `OperatorError`."""
    _check_directory(settings.database_url)
    with _reported(settings.database_url):
        db = Database(settings.database_url, pool_size=settings.db_pool_size)  # may create ./data
        try:
            if revision is not None:
                await migrate.upgrade(db, revision)
        except BaseException:
            await db.dispose()
            raise
    return db


@asynccontextmanager
async def database(settings: Settings, revision: str | None = "head") -> AsyncIterator[Database]:
    """`open_database` for the length of a command, closed afterwards; losing the database midway is
    reported like failing to reach it."""
    db = await open_database(settings, revision)
    try:
        with _reported(db.url):
            yield db
    finally:
        await db.dispose()


def location(url: str) -> str:
    """Where the data is, for people: host:port/database, or the SQLite file; never the password."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _check_directory(url: str) -> None:
    """A SQLite file in a mistyped directory is refused, not created: only ./data is made on first use."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.query or parsed.database in (None, "", ":memory:"):
        return
    directory = Path(parsed.database).parent
    if not directory.is_dir() and directory.resolve() != DEFAULT_DATA_DIR.resolve():
        raise ConfigError(
            f"DATABASE_URL: the directory {directory.absolute()} does not exist (create it, or correct the path)"
        )


@contextmanager
def _reported(url: str) -> Iterator[None]:
    """Database failures become the operator's one line; anything else (a bug) keeps its traceback."""
    try:
        yield
    except Exception as exc:
        failure = database_error(exc, location(url))
        if failure is None:
            raise
        raise failure from None
