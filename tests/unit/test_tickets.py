"""Registering and finding tickets on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlmodel import col, select

from helpdesk import people, tickets, views
from helpdesk.numbering import format_number, parse_number
from helpdesk.people import LAST_SEEN_RESOLUTION, Person, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, Priority, TicketType, Urgency
from storage import repos, ticket_lines
from storage.db import Database
from storage.models import Attachment, OutboxMessage, Ticket, TicketEvent

POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=-100123)


def classification(category: Category = Category.HARDWARE) -> tickets.Classification:
    return tickets.Classification(
        category.ticket_type, category, Priority.P2, Impact.TEAM, Urgency.BLOCKED, 0.9, "hardware; team; blocked → P2"
    )


async def new_customer(db: Database, user_id: int, name: str = "Ann"):
    async with db.session() as session:
        return await ensure_customer(session, Person(user_id=user_id, chat_id=user_id, first_name=name))


async def register(db: Database, customer, category: Category = Category.HARDWARE, files=()) -> Ticket:
    async with db.session() as session:
        new = tickets.NewTicket(
            description="Printer <jammed> & dead",
            classification=classification(category),
            service="Printer",
            attachments=list(files),
        )
        return await tickets.register(session, customer, new, POLICY)


def test_numbers_look_like_the_design_says() -> None:
    assert format_number(TicketType.INCIDENT, 42) == "INC-000042"
    assert format_number(TicketType.SERVICE_REQUEST, 43) == "REQ-000043"
    assert parse_number("inc-42") == ("INC", 42)
    assert parse_number(" #42 ") == (None, 42)
    assert parse_number("REQ-000043") == ("REQ", 43)
    for bad in ("", "INC-", "abc", "42; DROP TABLE", "INC-1-2", "<b>1</b>"):
        assert parse_number(bad) is None


async def test_register_writes_ticket_event_attachments_and_card_in_one_go(db: Database) -> None:
    ann = await new_customer(db, 501)
    photo = {"kind": "photo", "file_id": "PHOTO1", "file_unique_id": "U1", "file_size": 1234}
    ticket = await register(db, ann, files=[photo])
    assert ticket.number.startswith("INC-") and ticket.state == "new"
    assert ticket.first_response_due and ticket.resolution_due
    assert (
        ticket.first_response_due - ticket.created_at
        == POLICY.sla.target(TicketType.INCIDENT, Priority.P2).first_response
    )
    async with db.read() as session:
        events = (await session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
        files = (await session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))).all()
        rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id))).all()
    assert [e.kind for e in events] == ["created"]
    assert [f.file_id for f in files] == ["PHOTO1"]
    card, copy = sorted(rows, key=lambda r: r.id)
    assert card.chat_id == POLICY.staff_chat_id and card.link_kind == "card"
    assert "Printer &lt;jammed&gt; &amp; dead" in card.payload["text"]
    assert copy.method == "sendPhoto" and copy.reply_to_card


async def test_numbering_is_unique_under_concurrency(db: Database) -> None:
    customers = [await new_customer(db, 600 + i) for i in range(12)]
    created = await asyncio.gather(
        *(register(db, c, Category.ACCESS if i % 2 else Category.NETWORK) for i, c in enumerate(customers))
    )
    numbers = [t.number for t in created]
    seqs = sorted(t.seq for t in created)
    assert len(set(numbers)) == len(numbers) == 12
    assert seqs == list(range(seqs[0], seqs[0] + 12))
    assert {n[:3] for n in numbers} == {"INC", "REQ"}


async def test_a_rolled_back_registration_leaves_no_ticket(db: Database) -> None:
    ann = await new_customer(db, 700)
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            new = tickets.NewTicket(description="x broken", classification=classification())
            await tickets.register(session, ann, new, POLICY)
            raise RuntimeError("crash before commit")
    async with db.read() as session:
        assert (await session.exec(select(Ticket))).all() == []
        assert (await session.exec(select(OutboxMessage))).all() == []


async def test_customers_only_find_their_own_tickets(db: Database) -> None:
    ann = await new_customer(db, 801, "Ann")
    bob = await new_customer(db, 802, "Bob")
    ticket = await register(db, ann)
    async with db.read() as session:
        assert (await tickets.status_for_customer(session, ann, ticket.number)).id == ticket.id
        assert (await tickets.status_for_customer(session, ann, ticket.number.lower())).id == ticket.id
        assert (await tickets.status_for_customer(session, ann, str(ticket.seq))).id == ticket.id
        assert await tickets.status_for_customer(session, bob, ticket.number) is None
        assert await tickets.status_for_customer(session, ann, "INC-999999") is None
        assert await tickets.ticket_for_customer(session, bob, ticket.id) is None


async def test_status_view_and_my_list(db: Database) -> None:
    ann = await new_customer(db, 901)
    ticket = await register(db, ann)
    async with db.read() as session:
        text = await views.status_text(session, ticket, "ru")
        open_, closed = await tickets.customer_tickets(session, ann, POLICY)
    assert ticket.number in text and "Новая" in text and "История" in text
    body, buttons = views.my_list("en", open_, closed)
    assert ticket.number in body and buttons


@contextlib.contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run meanwhile (transaction control left out)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(sql)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_my_list_and_status_read_in_one_and_two_statements(db: Database) -> None:
    """/my and /status run for every customer who asks: the list is one query, the status view two (the
    ticket, its visible history). What each lists is the customer's own, open and recently closed apart,
    newest first."""
    ann, bob = await new_customer(db, 911), await new_customer(db, 912, "Bob")
    older, newer, done = await register(db, ann), await register(db, ann), await register(db, ann)
    foreign = await register(db, bob)
    async with db.session() as session:
        for ticket, state, minutes in ((older, "in_progress", 30), (newer, "new", 10), (done, "closed", 20)):
            row = await session.get(Ticket, ticket.id)
            row.state, row.updated_at = state, row.updated_at - timedelta(minutes=minutes)
            session.add(row)
    async with db.read() as session:
        with statements(db) as listing:
            open_, closed = await tickets.customer_tickets(session, ann, POLICY)
        with statements(db) as status:
            found = await tickets.status_for_customer(session, ann, older.number)
            text = await views.status_text(session, found, "en")
        loaded = [row for row in session.sync_session.identity_map.values() if isinstance(row, (Ticket, TicketEvent))]
        assert await tickets.status_for_customer(session, ann, foreign.number) is None
        assert await tickets.status_for_customer(session, bob, foreign.number.lower()) is not None
    assert [t.number for t in open_] == [newer.number, older.number]
    assert [t.number for t in closed] == [done.number]
    assert foreign.number not in views.my_list("en", open_, closed)[0]
    assert older.number in text and "History" in text
    assert len(listing) == 1, listing
    assert len(status) == 2, status
    assert loaded == []  # read as plain rows: no ticket or event loaded as an ORM object


async def test_the_status_view_reads_what_the_ticket_holds(db: Database) -> None:
    """The status view from plain rows reads exactly like the one from the ticket itself."""
    ann = await new_customer(db, 913)
    ticket = await register(db, ann)
    async with db.session() as session:
        row = await session.get(Ticket, ticket.id)
        row.state, row.assignee_name = "in_progress", "Agent <One>"
        session.add(
            TicketEvent(ticket_id=row.id, actor_kind="agent", kind="state", from_state="new", to_state="in_progress")
        )
        session.add(TicketEvent(ticket_id=row.id, actor_kind="customer", kind="rating", data={"rating": 5}))
    async with db.read() as session:
        whole = await tickets.find_by_number(session, ticket.number)
        plain = await tickets.status_for_customer(session, ann, ticket.number)
        for lang in ("en", "ru"):
            assert await views.status_text(session, plain, lang) == await views.status_text(session, whole, lang)
            assert views.status_button(plain, lang) == views.status_button(whole, lang)
            events = await repos.latest_events_of_kinds(session, ticket.id, views.CUSTOMER_VISIBLE, views.HISTORY_LINES)
            lines = await ticket_lines.latest_event_lines(
                session, ticket.id, views.CUSTOMER_VISIBLE, views.HISTORY_LINES
            )
            assert [views._event_line(lang, e) for e in lines] == [views._event_line(lang, e) for e in events]  # type: ignore[arg-type]
            assert len(lines) == 3 and "5" in views._event_line(lang, lines[-1])
    async with db.session() as session:  # what the transaction changed and has not flushed yet is read too
        row = await session.get(Ticket, ticket.id)
        row.state = "resolved"
        session.add(TicketEvent(ticket_id=row.id, actor_kind="agent", kind="reply"))
        assert (await tickets.status_for_customer(session, ann, ticket.number)).state == "resolved"
        latest = await ticket_lines.latest_event_lines(session, ticket.id, views.CUSTOMER_VISIBLE, 9)
        assert latest[-1].kind == "reply"


async def test_customer_rows_are_created_once(db: Database) -> None:
    results = await asyncio.gather(*(new_customer(db, 1001) for _ in range(5)))
    assert len({c.id for c in results}) == 1
    async with db.read() as session:
        assert (await repos.customer_by_telegram_id(session, 1001)).first_name == "Ann"


async def test_a_returning_customer_is_refreshed_and_last_seen_is_kept_coarse(db: Database) -> None:
    person = Person(user_id=4242, chat_id=4242, first_name="Ann", username="ann")
    async with db.session() as session:
        first = await ensure_customer(session, person)
        seen = first.last_seen_at
    renamed = Person(user_id=4242, chat_id=4242, first_name="Anna", username="anna", language_code="ru")
    async with db.session() as session:
        again = await ensure_customer(session, renamed)
        assert again.last_seen_at == seen  # minutes apart: no write for it
        assert (again.first_name, again.username, again.telegram_language) == ("Anna", "anna", "ru")
        again.last_seen_at = seen - LAST_SEEN_RESOLUTION
    async with db.session() as session:
        later = await ensure_customer(session, renamed)
        assert later.last_seen_at > seen


async def test_every_way_to_lock_a_ticket_reads_it_afresh(db: Database) -> None:
    """A ticket locked to be changed (`repos.locked`) is read again: a copy the session already holds is not
    trusted, whichever way the ticket is found (its id, its number, as an agent types it)."""
    ann = await new_customer(db, 501)
    ticket = await register(db, ann)
    ways = (
        lambda session: repos.lock_ticket(session, ticket.id),
        lambda session: repos.lock_ticket_by_number(session, ticket.number),
        lambda session: tickets.find_by_number(session, ticket.number.lower(), lock=True),
    )
    async with db.session() as session:
        held = await repos.ticket_by_id(session, ticket.id)
        for state, lock in zip(("in_progress", "waiting_customer", "resolved"), ways, strict=True):
            changed = update(Ticket).where(col(Ticket.id) == ticket.id).values(state=state)
            await session.exec(changed.execution_options(synchronize_session=False))  # another writer
            found = await lock(session)
            assert found is held and found.state == state, state


async def test_a_batch_of_first_contacts_is_one_insert(db: Database) -> None:
    """A batch's first contacts go in with one INSERT (its rows as parameters), come back as the session's
    own customers, and one someone else inserted meanwhile is read back, not inserted twice."""

    def first_contact(telegram_id: int) -> dict[str, Any]:  # some with a username, some without
        username = f"u{telegram_id}" if telegram_id % 2 else None
        person = Person(user_id=telegram_id, chat_id=telegram_id, first_name=f"N{telegram_id}", username=username)
        return people._new_customer_row(person, datetime.now(UTC))

    async with db.session() as session:
        with statements(db) as ran:
            await repos.prefetch_customers(session, [931, 932, 933], first_contact)
        inserts = [sql for sql in ran if sql.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1, ran
        found = [await repos.customer_by_telegram_id(session, tid) for tid in (931, 932, 933)]
        assert [c.first_name for c in found] == ["N931", "N932", "N933"] and all(c in session for c in found)
    async with db.session() as session:  # 932 exists: _insert_customers skips it and reads it back
        new, others = await repos._insert_customers(session, [first_contact(932), first_contact(934)])
        assert [c.telegram_id for c in new] == [934] and [c.telegram_id for c in others] == [932]
