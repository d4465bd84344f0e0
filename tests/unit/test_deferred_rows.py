"""Outbox rows queued in the session (storage/deferred.py): seen by the next query, written at commit, in
order, and forgotten with a rollback, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from helpdesk import outbox
from helpdesk.people import Person, ensure_customer
from storage import outbox_rows
from storage.db import Database
from storage.deferred import queued, write_queued
from storage.models import OutboxMessage


async def texts(db: Database) -> list[str]:
    async with db.read() as s:
        rows = (await s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all()
        return [r.payload.get("text", r.method) for r in rows]


async def test_queued_rows_are_written_at_commit_in_the_order_queued(db: Database) -> None:
    async with db.session() as s:
        outbox.send_text(s, 1, "one")
        outbox.edit_text(s, 2, 7, "two")
        outbox.send_text(s, 1, "three")
        assert queued(s) == 3
    assert await texts(db) == ["one", "two", "three"]
    async with db.read() as s:
        row = (await s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == 2))).one()
        assert row.status == "pending" and row.attempts == 0 and row.method == "editMessageText"
        assert row.created_at.tzinfo is not None and row.next_attempt_at == row.created_at


async def test_a_query_in_the_same_transaction_sees_the_queued_rows(db: Database) -> None:
    async with db.session() as s:
        outbox.send_text(s, 5, "first")
        pending = (await s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == 5))).all()
        assert [r.payload["text"] for r in pending] == ["first"] and queued(s) == 0


async def test_any_statement_involving_the_outbox_sees_them(db: Database) -> None:
    from sqlalchemy import func, text

    from storage.models import Ticket

    async with db.session() as s:
        outbox.send_text(s, 5, "one")
        assert (await s.exec(select(func.count()).select_from(OutboxMessage))).one() == 1
        outbox.send_text(s, 5, "two")
        subquery = select(OutboxMessage.ticket_id).where(OutboxMessage.chat_id == 5)
        (await s.exec(select(Ticket).where(col(Ticket.id).in_(subquery)))).all()
        assert queued(s) == 0
        outbox.send_text(s, 5, "three")
        assert (await s.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 3  # textual: written


async def test_a_query_of_another_table_leaves_them_queued(db: Database) -> None:
    from storage.models import Ticket

    async with db.session() as s:
        outbox.send_text(s, 5, "first")
        (await s.exec(select(Ticket).where(Ticket.customer_id == 1))).all()
        assert queued(s) == 1  # still one INSERT for all of them at the end
        outbox.send_text(s, 5, "second")
    assert await texts(db) == ["first", "second"]


async def test_coalescing_rewrites_a_row_queued_in_the_same_transaction(db: Database) -> None:
    async with db.session() as s:
        await outbox.send_or_update_pending(s, 6, "received: 1 file", key="receipt")
        await outbox.send_or_update_pending(s, 6, "received: 2 files", key="receipt")
    assert await texts(db) == ["received: 2 files"]


async def test_a_rollback_forgets_the_queued_rows(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with db.session() as s:
            outbox.send_text(s, 1, "never")
            raise RuntimeError("boom")
    async with db.session() as s:  # the same pool connection: nothing carried over
        outbox.send_text(s, 1, "kept")
    assert await texts(db) == ["kept"]


async def test_a_savepoint_never_starts_with_rows_queued(db: Database) -> None:
    async with db.session() as s:
        outbox.send_text(s, 1, "before")
        with pytest.raises(RuntimeError, match="queued"):
            async with s.begin_nested():
                pass
        await write_queued(s)
        try:
            async with s.begin_nested():
                outbox.send_text(s, 1, "inside, rolled back")
                raise ValueError
        except ValueError:
            pass
        outbox.send_text(s, 1, "after")
    assert await texts(db) == ["before", "after"]


async def test_a_new_customer_in_a_transaction_with_queued_rows(db: Database) -> None:
    """ensure_customer may take a savepoint (a concurrent insert of the same person): queued rows survive."""
    async with db.session() as s:
        outbox.send_text(s, 1, "queued first")
        customer = await ensure_customer(s, Person(user_id=77, chat_id=77, first_name="Ann"))
        assert customer.id is not None
    assert await texts(db) == ["queued first"]


def test_an_outbox_row_is_built_with_new_row() -> None:
    with pytest.raises(TypeError, match="new_row"):
        outbox_rows.enqueue(None, OutboxMessage(chat_id=1, method="sendMessage", payload={}))  # type: ignore[arg-type]


async def test_message_links_are_queued_and_a_message_keeps_its_first_link(db: Database) -> None:
    """Links are queued like outbox rows (delivery records one per message sent about a ticket): seen by
    a query of the links in the same transaction, and a message linked twice keeps its first link."""
    from storage import repos
    from storage.models import MessageLink
    from tests.unit.test_tickets import new_customer, register

    ticket = await register(db, await new_customer(db, 5))
    async with db.session() as s:
        await repos.add_link(s, 5, 100, ticket.id, "to_customer")
        assert queued(s) == 1  # no statement yet
        assert (await repos.link_of(s, 5, 100)).kind == "to_customer"
        await repos.add_link(s, 5, 100, ticket.id, "card")  # the same message again: no error, no change
        await repos.add_link(s, 5, 101, ticket.id, "card")
    async with db.read() as s:
        links = (await s.exec(select(MessageLink).where(MessageLink.chat_id == 5))).all()
    assert sorted((link.message_id, link.kind) for link in links) == [(100, "to_customer"), (101, "card")]
