"""Retention (erasure of personal data) and the customer export, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.config import Settings
from helpdesk import corrections, privacy, tickets
from helpdesk.clock import now_utc
from helpdesk.people import Person, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, Priority, Urgency
from scheduler.periodic import Jobs
from scheduler.retention import retention_sweep
from scheduler.schedule import register_sweeps
from storage import migrate
from storage.db import Database
from storage.models import (
    Attachment,
    Customer,
    Draft,
    InboxUpdate,
    LabelledExample,
    OutboxMessage,
    RelayedMessage,
    Ticket,
    TicketEvent,
)
from tests.support.botproc import run_cli

POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=-100123)
DAYS = 30


async def customer(db: Database, user_id: int, name: str = "Ann", *, seen_days_ago: float = 0) -> Customer:
    async with db.session() as session:
        person = Person(user_id=user_id, chat_id=user_id, first_name=name, last_name="Smith", username=f"u{user_id}")
        row = await ensure_customer(session, person)
        row.phone = "+15551234567"
        row.last_seen_at = now_utc() - timedelta(days=seen_days_ago)
        session.add(row)
    return row


async def ticket(
    db: Database, owner: Customer, *, state: str = "closed", closed_days_ago: float | None = 40, rating: int = 4
) -> Ticket:
    """A ticket with everything personal a real one collects: files, messages, a report, a label."""
    classification = tickets.Classification(
        Category.HARDWARE.ticket_type, Category.HARDWARE, Priority.P2, Impact.TEAM, Urgency.BLOCKED, 0.9, "laptop → P2"
    )
    async with db.session() as session:
        new = tickets.NewTicket(
            description="Ann Smith's laptop (serial 123) is dead, call me at +15551234567",
            classification=classification,
            service="Laptop",
            contact="+15551234567",
            attachments=[
                {"kind": "photo", "file_id": "PHOTO-FILE-ID", "file_unique_id": "U1", "file_size": 999, "caption": "me"}
            ],
        )
        row = await tickets.register(session, owner, new, POLICY)
        tickets.record_event(
            session,
            row,
            "message",
            actor_kind="customer",
            actor_id=owner.telegram_id,
            actor_name="Ann Smith",
            note="my home address is 1 Main St",
            data={"message": [owner.chat_id, 77], "file": "photo"},
        )
        tickets.record_event(
            session, row, "reply", actor_kind="agent", actor_id=7001, actor_name="Agent1", note="try rebooting, Ann"
        )
        corrections.remember(session, -100123, 1000 + row.id, row, corrections.REPLY, "try rebooting, Ann")
        tickets.record_event(
            session, row, "priority", actor_kind="agent", actor_id=7001, actor_name="Agent1", note="P3 → P2"
        )
        session.add(
            LabelledExample(ticket_id=row.id, text=new.description, ticket_type="incident", category="hardware")
        )
        row.state = state
        row.resolution_report = "Ann's laptop PSU replaced"
        row.rating = rating
        row.rating_comment = "Thanks, Bob!"
        if closed_days_ago is not None:
            row.closed_at = now_utc() - timedelta(days=closed_days_ago)
            row.updated_at = row.closed_at
        session.add(row)
        for outbox_row in (await session.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == row.id))).all():
            outbox_row.status = "sent"
            session.add(outbox_row)
    return row


async def load(db: Database, ticket_id: int):
    async with db.read() as session:
        row = await session.get(Ticket, ticket_id)
        events = (await session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id))).all()
        files = (await session.exec(select(Attachment).where(Attachment.ticket_id == ticket_id))).all()
        outbox = (await session.exec(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id))).all()
        labels = (await session.exec(select(LabelledExample).where(LabelledExample.ticket_id == ticket_id))).all()
    return row, events, files, outbox, labels


async def relayed_of(db: Database, ticket_id: int) -> list[RelayedMessage]:
    """The agents' messages remembered for corrections (references to messages: erased too)."""
    async with db.read() as session:
        return list((await session.exec(select(RelayedMessage).where(RelayedMessage.ticket_id == ticket_id))).all())


async def test_sweep_erases_personal_data_and_keeps_statistics(db: Database) -> None:
    ann = await customer(db, 501, seen_days_ago=45)
    old = await ticket(db, ann, closed_days_ago=40)
    before, events_before, *_ = await load(db, old.id)
    assert len(await relayed_of(db, old.id)) == 1

    erased = await retention_sweep(db, DAYS)
    assert erased.tickets == 1 and erased.labels == 1

    row, events, files, outbox, labels = await load(db, old.id)
    # personal data gone
    assert row.personal_data_erased_at is not None
    assert row.description == "" and row.contact is None
    assert row.resolution_report is None and row.rating_comment is None
    assert all(f.file_id == "" and f.file_unique_id is None and f.caption is None for f in files)
    by_kind = {e.kind: e for e in events}
    assert by_kind["message"].note is None and by_kind["message"].actor_name is None
    assert "message" not in by_kind["message"].data and by_kind["message"].data["file"] == "photo"
    assert by_kind["reply"].note is None
    assert outbox == [] and labels == [] and await relayed_of(db, old.id) == []
    # statistics kept
    for field in (
        "number",
        "seq",
        "ticket_type",
        "category",
        "priority",
        "impact",
        "urgency",
        "state",
        "service",
        "created_at",
        "closed_at",
        "first_response_due",
        "resolution_due",
        "rating",
        "explanation",
    ):
        assert getattr(row, field) == getattr(before, field), field
    assert [e.kind for e in events] == [e.kind for e in events_before]
    assert [e.at for e in events] == [e.at for e in events_before]
    assert by_kind["created"].note == "laptop → P2"
    assert by_kind["priority"].note == "P3 → P2"
    assert by_kind["reply"].actor_name == "Agent1"  # agents act in their role, not as data subjects
    assert [(f.kind, f.file_size) for f in files] == [("photo", 999)]

    # the customer has nothing newer: their name, username and phone go too; the id stays
    async with db.read() as session:
        person = await session.get(Customer, ann.id)
    assert (person.first_name, person.last_name, person.username, person.phone) == ("", None, None, None)
    assert person.telegram_id == 501

    # idempotent: nothing more to do
    again = await retention_sweep(db, DAYS)
    assert not again.anything


async def test_recent_and_open_tickets_and_their_customers_are_kept(db: Database) -> None:
    bob = await customer(db, 502, "Bob", seen_days_ago=45)
    recent = await ticket(db, bob, closed_days_ago=5)
    cara = await customer(db, 503, "Cara", seen_days_ago=60)
    open_old = await ticket(db, cara, state="in_progress", closed_days_ago=None)
    async with db.session() as session:  # opened long ago, still open
        row = await session.get(Ticket, open_old.id)
        row.created_at = row.updated_at = now_utc() - timedelta(days=90)
        session.add(row)
    dan = await customer(db, 504, "Dan", seen_days_ago=2)  # erased old ticket, but he wrote recently
    dans_old = await ticket(db, dan, closed_days_ago=100)
    eve = await customer(db, 505, "Eve", seen_days_ago=45)
    eves_old = await ticket(db, eve, state="cancelled", closed_days_ago=50)
    await ticket(db, eve, closed_days_ago=3)  # ...and a newer one that keeps her name

    erased = await retention_sweep(db, DAYS)
    assert erased.tickets == 2

    for kept in (recent, open_old):
        row, _events, files, _outbox, labels = await load(db, kept.id)
        assert row.personal_data_erased_at is None and row.description.startswith("Ann Smith")
        assert files[0].file_id == "PHOTO-FILE-ID" and len(labels) == 1
    for gone in (dans_old, eves_old):
        row, *_ = await load(db, gone.id)
        assert row.personal_data_erased_at is not None and row.description == ""
    async with db.read() as session:
        names = {c.telegram_id: c.first_name for c in (await session.exec(select(Customer))).all()}
    assert names == {502: "Bob", 503: "Cara", 504: "Dan", 505: "Eve"}


async def test_old_drafts_inbox_and_outbox_rows_go(db: Database) -> None:
    ann = await customer(db, 506, seen_days_ago=1)
    long_ago = now_utc() - timedelta(days=DAYS + 1)
    async with db.session() as session:
        session.add(Draft(customer_id=ann.id, token="t", step="service", answers={"description": "secret"}))
        session.add(
            InboxUpdate(
                update_id=1, chat_key=506, payload={"message": {"text": "hi"}}, status="done", received_at=long_ago
            )
        )
        session.add(InboxUpdate(update_id=2, chat_key=506, payload={}, status="parked", received_at=long_ago))
        session.add(InboxUpdate(update_id=3, chat_key=506, payload={}, status="pending", received_at=long_ago))
        session.add(InboxUpdate(update_id=4, chat_key=506, payload={}, status="done"))
        session.add(
            OutboxMessage(chat_id=506, method="sendMessage", payload={"text": "x"}, status="sent", created_at=long_ago)
        )
        session.add(
            OutboxMessage(
                chat_id=506, method="sendMessage", payload={"text": "y"}, status="pending", created_at=long_ago
            )
        )
    async with db.session() as session:
        draft = await session.get(Draft, ann.id)
        draft.updated_at = long_ago
        session.add(draft)
    erased = await retention_sweep(db, DAYS)
    assert (erased.drafts, erased.inbox, erased.outbox) == (1, 2, 1)
    async with db.read() as session:
        assert [u.update_id for u in (await session.exec(select(InboxUpdate))).all()] == [3, 4]
        assert [o.status for o in (await session.exec(select(OutboxMessage))).all()] == ["pending"]


@pytest.mark.postgres
async def test_concurrent_sweeps_on_postgres_erase_each_ticket_once(postgres_database_url: str) -> None:
    db = Database(postgres_database_url)
    await migrate.upgrade(db)
    other = Database(postgres_database_url)
    try:
        ids = []
        for n in range(12):
            owner = await customer(db, 600 + n, seen_days_ago=90)
            ids.append((await ticket(db, owner, closed_days_ago=40 + n)).id)
        results = await asyncio.gather(*(retention_sweep(d, DAYS, batch=3) for d in (db, other, db, other)))
        assert sum(r.tickets for r in results) == 12
        assert sum(r.customers for r in results) == 12
        for ticket_id in ids:
            row, *_ = await load(db, ticket_id)
            assert row.personal_data_erased_at is not None
    finally:
        await other.dispose()
        await db.dispose()


async def test_export_has_everything_about_the_customer(db: Database) -> None:
    ann = await customer(db, 507)
    first = await ticket(db, ann, closed_days_ago=2)
    second = await ticket(db, ann, state="new", closed_days_ago=None)
    stranger = await customer(db, 508, "Stranger")
    await ticket(db, stranger)

    async with db.read() as session:
        exported = await privacy.export_customer(session, 507)
        assert await privacy.export_customer(session, 999_999) is None
    text = json.dumps(exported, ensure_ascii=False)  # plain JSON
    assert exported["customer"]["telegram_id"] == 507 and exported["customer"]["phone"] == "+15551234567"
    assert [t["number"] for t in exported["tickets"]] == [first.number, second.number]
    one = exported["tickets"][0]
    assert one["description"].startswith("Ann Smith") and one["contact"] == "+15551234567"
    assert {e["kind"] for e in one["events"]} >= {"created", "message", "reply"}
    assert one["attachments"][0]["file_id"] == "PHOTO-FILE-ID"
    assert one["created_at"].endswith("+00:00")
    assert "Stranger" not in text
    assert all(m["chat_id"] == ann.chat_id for m in exported["messages_to_customer"])


def test_sweep_is_registered_only_with_retention_days() -> None:
    for days, expected in ((None, False), (30, True)):
        jobs = Jobs()
        register_sweeps(jobs, db=None, policy=POLICY, settings=Settings(_env_file=None, retention_days=days))  # type: ignore[arg-type]
        assert any(job.id == "retention" for job in jobs.scheduler.get_jobs()) is expected


async def test_retention_days_must_be_positive(db: Database) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await retention_sweep(db, 0)


async def test_erasing_a_customer_on_request(db: Database) -> None:
    ann = await customer(db, 509)
    closed = await ticket(db, ann, closed_days_ago=1)  # recent: retention would keep it
    still_open = await ticket(db, ann, state="in_progress", closed_days_ago=None)
    bob = await customer(db, 510, "Bob")
    bobs = await ticket(db, bob, closed_days_ago=1)

    async with db.session() as session:
        refused = await privacy.erase_customer(session, 509)
        assert refused.found and refused.open_tickets == [still_open.number]
        assert not (await privacy.erase_customer(session, 999_999)).found
    assert (await load(db, closed.id))[0].description.startswith("Ann Smith")  # nothing touched

    await kit_close(db, still_open.id)
    async with db.session() as session:
        preview = await privacy.erase_customer(session, 509, apply=False)
        assert preview.erasure.tickets == 2 and preview.erasure.customers == 0
    assert (await load(db, closed.id))[0].description.startswith("Ann Smith")  # a preview changes nothing
    async with db.session() as session:
        done = await privacy.erase_customer(session, 509)
    assert done.erasure.tickets == 2 and done.erasure.customers == 1 and done.erasure.labels == 2

    for ticket_id in (closed.id, still_open.id):
        row, events, files, outbox, labels = await load(db, ticket_id)
        assert row.description == "" and row.contact is None and row.personal_data_erased_at is not None
        assert row.number and row.category == "hardware" and row.rating == 4  # statistics stay
        assert all(e.note is None or e.kind in privacy.SYSTEM_NOTES for e in events)
        assert all(f.file_id == "" for f in files) and outbox == [] and labels == []
    async with db.read() as session:
        kept = (await session.exec(select(Customer).where(Customer.telegram_id == 509))).one()
        assert (kept.first_name, kept.last_name, kept.username, kept.phone) == ("", None, None, None)
        assert not (await session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == 509))).all()
    assert (await load(db, bobs.id))[0].description.startswith("Ann Smith")  # another customer: untouched


async def kit_close(db: Database, ticket_id: int) -> None:
    async with db.session() as session:
        row = await session.get(Ticket, ticket_id)
        row.state = "closed"
        row.closed_at = now_utc()
        session.add(row)


def test_erase_customer_command(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    async def seed() -> tuple[str, str]:
        database = Database(url)
        await migrate.upgrade(database)
        try:
            ann = await customer(database, 511)
            closed = await ticket(database, ann, closed_days_ago=1)
            open_one = await ticket(database, ann, state="new", closed_days_ago=None)
            return closed.number, open_one.number
        finally:
            await database.dispose()

    _closed, open_number = asyncio.run(seed())
    env = {"DATABASE_URL": url}
    unknown = run_cli(["erase-customer", "999"], env, workdir=tmp_path)
    assert unknown.returncode == 1 and "no customer with Telegram id 999" in unknown.stderr
    refused = run_cli(["erase-customer", "511", "--yes"], env, workdir=tmp_path)
    assert refused.returncode == 1 and open_number in refused.stderr and "close or cancel" in refused.stderr

    async def close_and_read(number: str | None) -> str | None:
        database = Database(url)
        try:
            async with database.session() as session:
                rows = (await session.exec(select(Ticket))).all()
            for row in rows:
                if number is not None and row.number == number:
                    await kit_close(database, row.id)
            async with database.read() as session:
                return (await session.exec(select(Ticket.description).order_by(col(Ticket.id)))).first()
        finally:
            await database.dispose()

    asyncio.run(close_and_read(open_number))
    preview = run_cli(["erase-customer", "511"], env, workdir=tmp_path)
    assert preview.returncode == 0 and "2 tickets" in preview.stdout and "--yes" in preview.stdout
    assert asyncio.run(close_and_read(None)).startswith("Ann Smith")
    erased = run_cli(["erase-customer", "511", "--yes"], env, workdir=tmp_path)
    assert erased.returncode == 0 and "customer 511 erased: 2 tickets" in erased.stdout
    assert asyncio.run(close_and_read(None)) == ""
