"""Alembic migrations: `python -m bot migrate` works on both backends and matches the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage import migrate
from storage.db import Database
from tests.support.botproc import run_cli


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


async def test_migrate_command_then_schema_matches_models(database_url: str, tmp_path: Path) -> None:
    result = run_cli(["migrate"], {"DATABASE_URL": database_url}, workdir=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "revision" in result.stdout
    db = Database(database_url)
    try:
        assert await migrate.current_revision(db) is not None
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
        assert diff == [], diff
        await migrate.upgrade(db)  # idempotent
    finally:
        await db.dispose()
