"""Rows written in bulk: queued in the session, inserted (or updated) together before its next query or its
commit.

An update's handler writes one or two outbox rows; as ORM objects each costs its construction, the unit
of work's bookkeeping and its own INSERT at flush, several times the row's real work. Queued here as
plain dicts they go in one executemany per run of one table's writes of one statement, each table's in
the order they were queued (the tables queued here refer to none of one another's queued rows), when the session next
runs a statement that involves their table (in any clause or subquery; textual SQL counts as involving
every table) or commits, so a query sees them, as with autoflush. A rollback forgets them with the rest
of the transaction; a savepoint's rollback forgets the ones queued inside it. `queue_update` does the same
for an UPDATE built once (its parameters queued, run as one executemany with the rest in queue order).

Rows queued before a savepoint must be written before it starts (`write_queued`), or its rollback could
take them along: starting a savepoint with rows queued is refused.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.util import find_tables
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import session_info

_QUEUE = "deferred.rows"


def queue_insert(
    session: AsyncSession | Session, table: Table, row: dict[str, Any], *, skip_conflicts: bool = False
) -> dict[str, Any]:
    """Queue `row` (every column the table needs) for insertion; returns it (changes until written count).

    `skip_conflicts`: a row that would break a unique constraint is left out (ON CONFLICT DO NOTHING)."""
    session_info(session).setdefault(_QUEUE, []).append((table, row, skip_conflicts))
    return row


def queue_update(session: AsyncSession | Session, table: Table, statement: Any, params: dict[str, Any]) -> None:
    """Queue `params` for `statement`, an UPDATE of `table` built once; written like the queued inserts, in
    the table's queue order, its consecutive ones of one statement in one executemany."""
    session_info(session).setdefault(_QUEUE, []).append((table, params, statement))


def queued(session: AsyncSession | Session) -> int:
    return len(session_info(session).get(_QUEUE, ()))


def _write(session: Session) -> None:
    rows = session.info.pop(_QUEUE, None)
    if not rows:
        return
    for table, how, group in _runs(rows):
        session.execute(_statement(session, table, how), group)


def _runs(rows: list[tuple[Table, dict[str, Any], Any]]) -> list[tuple[Table, Any, list[dict[str, Any]]]]:
    """The queued writes as executemany runs: a write joins its table's latest run when that run is of the
    same statement, else starts a new one, so each table's writes keep their queue order (a draft's INSERT
    before its UPDATE) while the interleaved writes of other tables do not split a run."""
    runs: list[tuple[Table, Any, list[dict[str, Any]]]] = []
    latest: dict[Table, tuple[Table, Any, list[dict[str, Any]]]] = {}
    for table, row, how in rows:
        run = latest.get(table)
        if run is None or run[1] is not how:
            run = latest[table] = (table, how, [])
            runs.append(run)
        run[2].append(row)
    return runs


def _statement(session: Session, table: Table, how: bool | Any) -> Any:
    """An insert (`how`: whether it skips conflicts), or the queued update's own statement."""
    if not isinstance(how, bool):
        return how
    return _skipping_insert(session, table) if how else insert(table)


def _skipping_insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).on_conflict_do_nothing()


async def write_queued(session: AsyncSession) -> None:
    """Insert what is queued now (before a savepoint; tests that want the rows' ids)."""
    if session_info(session).get(_QUEUE):
        await session.run_sync(_write)


@event.listens_for(Session, "do_orm_execute")
def _before_query(state: ORMExecuteState) -> None:
    rows = state.session.info.get(_QUEUE)
    if rows and _may_read(state.statement, {table for table, _, _ in rows}):
        _write(state.session)


#: the tables of each statement seen (statements are immutable; the hot ones are built once and run for
#: every update, and walking one costs more than running it)
_TABLES: weakref.WeakKeyDictionary[Any, frozenset[Table]] = weakref.WeakKeyDictionary()


def _may_read(statement: Any, queued_tables: set[Table]) -> bool:
    """Whether the statement involves a queued table anywhere (FROM, columns, subqueries, DML target).

    A statement whose tables cannot be told (textual SQL) counts as involving them all.
    """
    found = _TABLES.get(statement)
    if found is None:
        found = frozenset(
            t for t in find_tables(statement, check_columns=True, include_crud=True) if isinstance(t, Table)
        )
        _TABLES[statement] = found
    return not found or not found.isdisjoint(queued_tables)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    _write(session)


@event.listens_for(Session, "after_transaction_create")
def _savepoint_starts(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and session.info.get(_QUEUE):
        raise RuntimeError("rows are queued for insertion: write_queued() before starting a savepoint")


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous: SessionTransaction) -> None:
    # a savepoint starts with nothing queued, so whatever is queued now belongs to what was rolled back
    session.info.pop(_QUEUE, None)
