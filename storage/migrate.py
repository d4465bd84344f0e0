"""Apply Alembic migrations (at start-up and from `python -m bot migrate`)."""

from __future__ import annotations

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


def _upgrade(connection: Any, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call from several processes at once."""
    async with db.engine.connect() as connection:
        if not db.is_sqlite:
            await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        try:
            await connection.run_sync(_upgrade, revision)
            await connection.commit()
        finally:
            if not db.is_sqlite:
                await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                await connection.commit()


def _current(connection: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_current)
