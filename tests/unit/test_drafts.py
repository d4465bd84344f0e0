"""Intake drafts as plain rows (storage/drafts.py), on SQLite and PostgreSQL: a batch's drafts come with its
customers (no statement of their own, no ORM object) and go back in one statement, only when changed.

Every button press mid-intake reads and writes its customer's draft; these count statements, never time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel import select

from helpdesk.clock import now_utc
from helpdesk.people import Person, ensure_customer
from storage import drafts, repos
from storage.db import Database
from storage.models import Customer, Draft


@contextlib.contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run meanwhile (transaction control left out; an executemany counts once)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            seen.append(sql)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def state(step: str, token: str, **answers: Any) -> dict[str, Any]:
    return {"step": step, "token": token, "answers": answers, "attachments": [], "history": [], "editing": False}


async def customers_with_drafts(db: Database, ids: list[int]) -> list[Customer]:
    async with db.session() as session:
        people = [await ensure_customer(session, Person(user_id=i, chat_id=i, first_name=f"C{i}")) for i in ids]
        for customer in people:
            assert customer.id is not None
            drafts.save(session, None, customer.id, state("service", "t0", description="printer"), now_utc())
    return people


async def stored(db: Database) -> dict[int, Draft]:
    async with db.read() as session:
        return {d.customer_id: d for d in (await session.exec(select(Draft))).all()}


async def test_a_batchs_drafts_are_read_with_its_customers_and_written_in_one_statement(db: Database) -> None:
    ids = [4101, 4102, 4103]
    people = await customers_with_drafts(db, ids)
    async with db.session() as session:
        with statements(db) as seen:
            await repos.prefetch_customers(session, ids)
            assert len(seen) == 1  # the customers, their drafts, their open tickets: one query
            rows = [await repos.draft_of(session, c.id) for c in people]
            assert len(seen) == 1 and all(isinstance(r, drafts.DraftRow) for r in rows)
            for customer, row in zip(people, rows, strict=True):
                assert row is not None and row.step == "service" and row.answers == {"description": "printer"}
                drafts.save(session, row, customer.id, state("urgency", "t1", service="Printer"), now_utc())
            assert len(seen) == 1  # queued, not written yet
            assert not [o for o in session.sync_session.identity_map.values() if isinstance(o, Draft)]
            await session.commit()
        updates = [s for s in seen if s.lstrip().upper().startswith("UPDATE DRAFTS")]
        assert len(seen) == 2 and len(updates) == 1  # the three drafts in one executemany
    after = await stored(db)
    assert {c.id: (after[c.id].step, after[c.id].token, after[c.id].answers) for c in people} == {
        c.id: ("urgency", "t1", {"service": "Printer"}) for c in people
    }


async def test_an_unchanged_draft_is_not_written_until_its_time_is_stale(db: Database) -> None:
    (customer,) = await customers_with_drafts(db, [4201])
    same = state("service", "t0", description="printer")
    async with db.session() as session:
        await repos.prefetch_customers(session, [customer.telegram_id])
        row = await repos.draft_of(session, customer.id)
        with statements(db) as seen:
            drafts.save(session, row, customer.id, same, now_utc())
            await session.commit()
        assert seen == []
    async with db.session() as session:
        row = await repos.draft_of(session, customer.id)
        assert row is not None and row.updated_at is not None
        later = row.updated_at + drafts.TOUCH_RESOLUTION + timedelta(seconds=1)
        drafts.save(session, row, customer.id, same, later)
    assert (await stored(db))[customer.id].updated_at == later


async def test_a_new_draft_is_seen_and_a_deleted_one_is_gone_in_the_same_transaction(db: Database) -> None:
    async with db.session() as session:
        customer = await ensure_customer(session, Person(user_id=4301, chat_id=4301, first_name="N"))
        await repos.prefetch_customers(session, [4301])
        assert await repos.draft_of(session, customer.id) is None
        drafts.save(session, None, customer.id, state("description", "t0"), now_utc())
        row = await repos.draft_of(session, customer.id)
        assert row is not None and row.step == "description"
        drafts.save(session, row, customer.id, state("service", "t1", description="x"), now_utc())
        # a query of the table sees the queued insert and update, in order
        found = (await session.exec(select(Draft).where(Draft.customer_id == customer.id))).one()
        assert (found.step, found.answers) == ("service", {"description": "x"})
        await repos.delete_draft(session, customer.id)
        assert await repos.draft_of(session, customer.id) is None
    assert customer.id not in await stored(db)


async def test_a_rollback_forgets_the_drafts_read_and_queued(db: Database) -> None:
    (customer,) = await customers_with_drafts(db, [4401])
    async with db.session() as session:
        row = await repos.draft_of(session, customer.id)
        drafts.save(session, row, customer.id, state("urgency", "t9"), now_utc())
        await session.rollback()
        again = await repos.draft_of(session, customer.id)
        assert again is not None and again.step == "service"  # read again, as stored
    assert (await stored(db))[customer.id].token == "t0"


async def test_a_batchs_draft_updates_do_not_jump_ahead_of_another_customers_new_draft(db: Database) -> None:
    """One batch: A answers (an UPDATE queued), B starts (an INSERT), B answers at once (an UPDATE): B's
    UPDATE must run after B's INSERT, or it finds no row and B's answer is lost without an error."""
    (first,) = await customers_with_drafts(db, [4501])
    async with db.session() as session:
        second = await ensure_customer(session, Person(user_id=4502, chat_id=4502, first_name="B"))
        await repos.prefetch_customers(session, [4501, 4502])
        row = await repos.draft_of(session, first.id)
        drafts.save(session, row, first.id, state("urgency", "a1"), now_utc())
        new = drafts.save(session, None, second.id, state("description", "b0"), now_utc())
        drafts.save(session, new, second.id, state("service", "b1", description="scanner"), now_utc())
    found = await stored(db)
    assert (found[first.id].step, found[first.id].token) == ("urgency", "a1")
    assert (found[second.id].step, found[second.id].token, found[second.id].answers) == (
        "service",
        "b1",
        {"description": "scanner"},
    )
