"""Migrations down and up on a database that holds data, on SQLite and PostgreSQL.

An operator rolling a release back runs the previous revision's schema on a database full of tickets, and
rolls forward again. Each migration must go down with rows in its tables (SQLite rebuilds tables in
batch mode, PostgreSQL checks foreign keys), keep every row of the tables the older schema still has, and
come back up to a schema that matches the models, on which the desk goes on numbering where it stopped.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from helpdesk import corrections, outbox
from storage import migrate
from storage.db import Database
from storage.models import ReportSchedule, Ticket
from tests.unit import desk


def chain() -> list[tuple[str, str]]:
    """(revision, its down revision) from the newest to the first; the first goes down to "base"."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [(rev.revision, rev.down_revision or "base") for rev in script.walk_revisions()]  # type: ignore[misc]


async def row_counts(db: Database) -> dict[str, int]:
    """Rows per application table that exists now."""
    async with db.engine.connect() as connection:
        present = set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        counts = {}
        for table in SQLModel.metadata.sorted_tables:
            if table.name in present:
                counts[table.name] = (await connection.execute(select(func.count()).select_from(table))).scalar_one()
    return counts


def _diff(connection: Any) -> list[Any]:
    return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)


async def schema_diff(db: Database) -> list[Any]:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_diff)


async def fill(db: Database) -> None:
    """Two customers' tickets (with their events, outbox rows and cards queued, an agent's reply remembered
    for corrections), the digest's schedule and a chart waiting to be uploaded."""
    first = await desk.new_ticket(db, desk.POLICY, 501)
    await desk.new_ticket(db, desk.POLICY, 502, description="I need access to the finance share")
    async with db.session() as session:
        ticket = await session.get(Ticket, first)
        corrections.remember(session, desk.STAFF, 4242, ticket, corrections.REPLY, "Please restart it")
        session.add(ReportSchedule(name="digest", spec="09:00 UTC", covered_day="2026-12-01"))
        await outbox.send_upload(
            session, desk.STAFF, "photo", b"\x89PNG chart", "stats.png", "image/png", caption="Stats"
        )


async def numbers(db: Database) -> list[tuple[str, str]]:
    async with db.read() as session:
        rows = (await session.exec(select(Ticket.number, Ticket.description).order_by(Ticket.id))).all()
    return [tuple(row) for row in rows]


async def test_each_migration_goes_down_and_up_again_with_data_in_the_tables(database_url: str) -> None:
    db = await desk.migrated(database_url)
    try:
        await fill(db)
        full = await row_counts(db)
        assert all(
            full[name] > 0
            for name in ("customers", "tickets", "ticket_events", "outbox", "outbox_files", "report_schedules")
        )
        tickets = await numbers(db)
        for revision, older in chain():
            if older == "base":
                continue  # all the way down: the next test
            await migrate.downgrade(db, older)
            assert await migrate.current_revision(db) == older
            kept = await row_counts(db)
            assert kept == {name: full[name] for name in kept}, (revision, kept)  # no row lost on the way down
            await migrate.upgrade(db)
            back = await row_counts(db)
            assert {name: back[name] for name in kept} == kept, (revision, back)  # nor on the way up
            assert await schema_diff(db) == [], revision
            assert await numbers(db) == tickets
            full = back
        # the desk works on the schema that went down and up: the next ticket takes the next number
        await desk.new_ticket(db, desk.POLICY, 503)
        latest = (await numbers(db))[-1][0]
        assert int(latest.split("-")[1]) == max(int(n.split("-")[1]) for n, _ in tickets) + 1
    finally:
        await db.dispose()


async def test_all_the_way_down_and_up_again_with_data_in_the_tables(database_url: str) -> None:
    db = await desk.migrated(database_url)
    try:
        await fill(db)
        await migrate.downgrade(db, "base")  # with rows everywhere: foreign keys must not stop the drops
        assert await row_counts(db) == {}
        assert await migrate.current_revision(db) is None
        await migrate.upgrade(db)
        assert await schema_diff(db) == []
        assert set((await row_counts(db)).values()) == {0}
    finally:
        await db.dispose()
