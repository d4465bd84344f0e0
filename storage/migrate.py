"""Apply Alembic migrations (at start-up and from `python -m bot migrate`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from storage.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# SQLite has no advisory locks; PostgreSQL processes starting together take turns with this one.
_PG_MIGRATION_LOCK = 727_001


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def revisions() -> list[str]:
    """The migrations' ids, oldest first."""
    from alembic.script import ScriptDirectory

    return [
        script.revision for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
    ]


def is_known(revision: str) -> bool:
    """Whether Alembic can find `revision` (an id, a unique prefix of one, "head" or "base")."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        ScriptDirectory.from_config(alembic_config()).get_revisions(revision)
    except CommandError:
        return False
    return True


def resolve(revision: str) -> str | None:
    """The migration id `revision` names ("head": the newest, a unique prefix: its id; "base": None)."""
    from alembic.script import ScriptDirectory

    if revision == "base":
        return None
    found = ScriptDirectory.from_config(alembic_config()).get_revisions(revision)
    return found[0].revision if found and found[0] is not None else None


def _run(connection: Any, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    step(config, revision)


def _sqlite_pragma(connection: Any, statement: str) -> list[Any]:
    """A PRAGMA on the raw connection: outside any transaction, where SQLite honours `foreign_keys`."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
        return list(cursor.fetchall())
    finally:
        cursor.close()


async def _migrate(db: Database, step: Callable[[Config, str], None], revision: str) -> None:
    """Run an Alembic command on one connection: PostgreSQL processes take turns under an advisory lock;
    on SQLite foreign keys are off meanwhile, because batch mode rebuilds a table (drop and rename) that
    other tables' rows still point to (Alembic's advice), and checked once the migration is committed."""
    async with db.engine.connect() as connection:
        if db.is_sqlite:
            await connection.run_sync(_sqlite_pragma, "PRAGMA foreign_keys=OFF")
        else:
            await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        try:
            await connection.run_sync(_run, step, revision)
            await connection.commit()
        finally:
            if db.is_sqlite:
                await connection.run_sync(_sqlite_pragma, "PRAGMA foreign_keys=ON")
            else:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                await connection.commit()
        if db.is_sqlite:
            broken = await connection.run_sync(_sqlite_pragma, "PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"the migration to {revision} left rows pointing nowhere: {broken[:5]}")


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    await _migrate(db, command.upgrade, revision)


async def downgrade(db: Database, revision: str) -> None:
    """Take the schema back to `revision` ("base": nothing), keeping the rows the older schema still has:
    what rolling a release back needs (the same as `alembic downgrade REVISION`)."""
    await _migrate(db, command.downgrade, revision)


def _current(connection: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_current)
