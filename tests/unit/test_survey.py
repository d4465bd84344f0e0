"""Satisfaction survey: ratings only from the ticket's own customer, once; the comment is the next message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import select

from helpdesk import survey
from helpdesk.clock import now_utc
from helpdesk.vocabulary import State
from storage.db import Database
from storage.models import Customer
from storage.outbox_rows import bell
from tests.unit import desk
from tests.unit.desk import STAFF

POLICY = desk.policy(survey_after=timedelta(0))


@pytest.fixture(autouse=True)
def _fresh_bell() -> None:
    bell.reset()


@pytest.fixture
async def db(sqlite_database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(sqlite_database_url)
    yield database
    await database.dispose()


async def closed_ticket(db: Database, user_id: int = 501) -> int:
    tid = await desk.new_ticket(db, POLICY, user_id)
    await desk.set_state(db, POLICY, tid, State.RESOLVED)
    await desk.set_state(db, POLICY, tid, State.CLOSED)
    return tid


async def customer(db: Database, user_id: int) -> Customer:
    async with db.read() as session:
        return (await session.exec(select(Customer).where(Customer.telegram_id == user_id))).one()


async def rate(db: Database, user_id: int, ticket_id: int, rating: int | None) -> survey.Rated:
    async with db.session() as session:
        who = (await session.exec(select(Customer).where(Customer.telegram_id == user_id))).one()
        return await survey.rate(session, who, ticket_id, rating, POLICY)


async def comment(db: Database, user_id: int, text: str | None) -> bool:
    async with db.session() as session:
        who = (await session.exec(select(Customer).where(Customer.telegram_id == user_id))).one()
        return await survey.take_comment(session, who, text, POLICY)


def test_buttons_and_texts() -> None:
    ticket = desk.Ticket(id=42, number="INC-000042")
    assert survey.buttons(ticket) == [[(str(n), f"rt:42:{n}") for n in range(1, 6)]]
    assert "INC-000042" in survey.question("ru", ticket) and "Оцените" in survey.question("ru", ticket)
    assert survey.rated_text("en", ticket, 3).endswith("⭐⭐⭐ (3/5)")


async def test_rating_is_stored_once_with_an_event(db: Database) -> None:
    tid = await closed_ticket(db)
    result = await rate(db, 501, tid, 2)
    assert result.ok and result.rating == 2
    ticket = await desk.ticket(db, tid)
    assert ticket.rating == 2 and ticket.survey_due_at is None
    (event,) = await desk.events(db, tid, "rating")
    assert event.data == {"rating": 2} and event.actor_kind == "customer" and event.actor_id == 501
    assert (await rate(db, 501, tid, 5)).outcome == "already"
    assert (await desk.ticket(db, tid)).rating == 2
    staff = desk.texts(await desk.rows(db, STAFF))
    assert any("rated 2/5" in text for text in staff)  # a low rating is shown to the staff at once


async def test_only_the_tickets_customer_rates_a_closed_ticket(db: Database) -> None:
    tid = await closed_ticket(db)
    await desk.new_ticket(db, POLICY, 777)  # Eve exists as a customer
    assert (await rate(db, 777, tid, 1)).outcome == "unavailable"
    assert (await rate(db, 501, tid, 0)).outcome == "unavailable"
    assert (await rate(db, 501, tid, 6)).outcome == "unavailable"
    assert (await rate(db, 501, 999_999, 3)).outcome == "unavailable"
    open_ticket = await desk.new_ticket(db, POLICY, 501)
    assert (await rate(db, 501, open_ticket, 3)).outcome == "unavailable"
    assert (await desk.ticket(db, tid)).rating is None


async def test_the_next_message_is_the_comment(db: Database) -> None:
    tid = await closed_ticket(db)
    async with db.session() as session:  # another area's pending state must survive
        who = (await session.exec(select(Customer).where(Customer.telegram_id == 501))).one()
        who.pending = {"answer": 12}
        session.add(who)
    await rate(db, 501, tid, 5)
    assert await comment(db, 501, "  Very quick, thank you!  ")
    ticket = await desk.ticket(db, tid)
    assert ticket.rating_comment == "Very quick, thank you!"
    assert (await customer(db, 501)).pending == {"answer": 12}
    assert [e.note for e in await desk.events(db, tid, "rating_comment")] == ["Very quick, thank you!"]
    to_customer = desk.texts(await desk.rows(db, 501))
    assert "passed your comment on" in to_customer[-1]
    to_staff = (await desk.rows(db, STAFF, method="sendMessage"))[-1]
    assert "Very quick, thank you!" in to_staff.payload["text"] and to_staff.reply_to_card
    assert not await comment(db, 501, "My printer is broken")  # only one message is taken


@pytest.mark.parametrize("text", [None, "", "   ", "/new"])
async def test_commands_and_non_text_are_not_comments(db: Database, text: str | None) -> None:
    tid = await closed_ticket(db)
    await rate(db, 501, tid, 4)
    assert not await comment(db, 501, text)
    assert (await desk.ticket(db, tid)).rating_comment is None
    assert "rating_comment" not in (await customer(db, 501)).pending  # forgotten, not waiting forever


async def test_an_old_rating_does_not_swallow_a_new_request(db: Database) -> None:
    tid = await closed_ticket(db)
    await rate(db, 501, tid, 4)
    async with db.session() as session:
        who = (await session.exec(select(Customer).where(Customer.telegram_id == 501))).one()
        who.pending = {**who.pending, "rating_comment_since": (now_utc() - timedelta(hours=2)).isoformat()}
        session.add(who)
    assert not await comment(db, 501, "The scanner does not work either")
    assert (await desk.ticket(db, tid)).rating_comment is None


async def test_without_a_rating_nothing_is_taken(db: Database) -> None:
    await closed_ticket(db)
    assert not await comment(db, 501, "hello")
