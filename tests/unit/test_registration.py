"""Registering a ticket for a customer, the one procedure the intake, the known-outage offer and /open share
(helpdesk.registration): the card, major-incident detection, the opening agent in the history, and the
customer's text, sent from there only when the caller asks."""

from __future__ import annotations

from helpdesk import registration
from helpdesk.tickets import Classification, NewTicket
from helpdesk.vocabulary import Category, Impact, Priority, Urgency
from storage import major_incidents
from storage.db import Database
from tests.unit.desk import AGENT, POLICY, STAFF, customer, events_of, rows_of, text_of

OUTAGE = ("Internet is down for the whole office", "internet conection lost on all computers", "No internet at all")


def report(text: str, lang: str = "en") -> NewTicket:
    category = Category.NETWORK
    classification = Classification(
        category.ticket_type, category, Priority.P2, Impact.TEAM, Urgency.BLOCKED, 0.9, "test"
    )
    return NewTicket(description=text, classification=classification, language=lang)


async def test_each_registration_gets_its_card_detection_and_the_customers_text(db: Database) -> None:
    done = []
    for n, text in enumerate(OUTAGE):
        who = await customer(db, 501 + n, f"C{n}")
        async with db.session() as session:
            done.append(await registration.register(session, who, report(text), POLICY, text_key="intake.registered"))
    first = done[0]
    assert first.ticket.number in first.text and "First response" in first.text and not first.told
    assert [r.ticket.ticket_type for r in done] == ["incident"] * 3
    cards = [r for r in await rows_of(db, chat_id=STAFF) if any(d.ticket.number in text_of(r) for d in done)]
    assert len(cards) >= 3  # every one has its card
    async with db.read() as session:
        (proposal,) = await major_incidents.proposals_since(
            session, "pending", first.ticket.created_at.replace(year=2000)
        )
    assert set(proposal.ticket_ids) == {r.ticket.id for r in done}  # detection ran for each
    assert [await rows_of(db, r.ticket, 501 + n) for n, r in enumerate(done)] == [[], [], []]  # none sent from here


async def test_opened_by_an_agent_it_is_in_the_history_and_the_customer_is_told_from_here(db: Database) -> None:
    olga = await customer(db, 601, "Ольга", "ru")
    async with db.session() as session:
        new = report("Не работает принтер в бухгалтерии", "ru")
        opened = await registration.register(
            session, olga, new, POLICY, text_key="replies.open.customer", opened_by=AGENT, tell=True
        )
    assert opened.told and opened.ticket.number in opened.text and "Не работает принтер" in opened.text
    (event,) = [e for e in await events_of(db, opened.ticket) if e.kind == "opened_by_agent"]
    assert (event.actor_kind, event.actor_id, event.actor_name) == ("agent", AGENT.user_id, AGENT.name)
    (told,) = await rows_of(db, opened.ticket, 601)
    assert text_of(told) == opened.text
