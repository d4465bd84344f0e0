"""Detecting a major incident on a real database: similar incidents within the window make ONE proposal to
the staff, "Merge" makes the earliest the parent, "Not related" is remembered, a second press changes
nothing, and later similar reports join the major incident on their own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk.agent_actions import Refusal
from helpdesk.clock import now_utc
from helpdesk.major_incidents import detection, proposals
from helpdesk.people import Actor
from helpdesk.vocabulary import Category
from storage import major_incidents, repos
from storage.db import Database
from storage.models import MajorProposal, Ticket
from tests.unit.desk import AGENT, OTHER, POLICY, STAFF, customer, events_of, fresh, rows_of, text_of, ticket_for

SIMILAR = (
    (501, "en", "Internet is down for the whole office"),
    (502, "en", "internet conection lost on all computers"),
    (503, "ru", "Интернет не работает во всём офисе!!!"),
)
UNRELATED = "в принтере на 3 этаже закончился тонер"


async def report(db: Database, user_id: int, text: str, lang: str = "en", *, declined: tuple[str, ...] = ()) -> Ticket:
    """A customer's incident registered as the intake does it, then placed by the detector."""
    who = await customer(db, user_id, f"C{user_id}", lang)
    category = Category.HARDWARE if "принтер" in text else Category.NETWORK
    ticket = await ticket_for(db, who, category, text)
    async with db.session() as session:
        locked = await repos.lock_ticket(session, ticket.id)
        await detection.on_registered(session, locked, POLICY, declined=declined)
    return await fresh(db, ticket)


async def all_proposals(db: Database) -> list[MajorProposal]:
    since = now_utc() - timedelta(days=1)
    async with db.read() as session:
        found = [
            p
            for status in ("pending", "merged", "rejected")
            for p in await major_incidents.proposals_since(session, status, since)
        ]
    return sorted(found, key=lambda p: p.id)


async def decide(db: Database, how, proposal_id: int, actor: Actor = AGENT) -> proposals.Decision:
    async with db.session() as session:
        return await how(session, proposal_id, actor, POLICY)


async def three_similar(db: Database) -> tuple[list[Ticket], Ticket]:
    first = await report(db, SIMILAR[0][0], SIMILAR[0][2], SIMILAR[0][1])
    unrelated = await report(db, 510, UNRELATED, "ru")
    rest = [await report(db, user, text, lang) for user, lang, text in SIMILAR[1:]]
    return [first, *rest], unrelated


async def test_three_similar_incidents_make_one_proposal_naming_them_and_not_the_unrelated_one(db: Database) -> None:
    tickets, unrelated = await three_similar(db)
    (proposal,) = await all_proposals(db)
    assert proposal.status == "pending" and proposal.ticket_ids == [t.id for t in tickets]
    (message,) = [r for r in await rows_of(db, chat_id=STAFF) if "Possible major incident" in text_of(r)]
    assert all(t.number in text_of(message) for t in tickets) and unrelated.number not in text_of(message)
    labels = [b["text"] for row in message.payload["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["🔗 Merge into a major incident", "✖ Not related"]

    # a fourth similar report joins the proposal that stands (its unsent message is rewritten), no second one
    fourth = await report(db, 504, "INTERNET DOWN AGAIN??? nobody can work")
    (proposal,) = await all_proposals(db)
    assert proposal.ticket_ids[-1] == fourth.id
    (message,) = [r for r in await rows_of(db, chat_id=STAFF) if "Possible major incident" in text_of(r)]
    assert fourth.number in text_of(message)


async def test_merge_makes_the_earliest_the_parent_and_a_second_press_changes_nothing(db: Database) -> None:
    tickets, unrelated = await three_similar(db)
    (proposal,) = await all_proposals(db)
    assert (await fresh(db, tickets[0])).is_major is False
    # who may decide is the dispatch's check (only agents reach the buttons): tests/handlers/test_major_incidents.py

    decision = await decide(db, proposals.merge, proposal.id)
    assert decision.notice.key == "major.proposal.merged" and decision.notice.values["count"] == 2
    assert "Merged by Agent One" in decision.text
    parent = await fresh(db, tickets[0])
    assert parent.is_major and parent.parent_id is None
    assert [(await fresh(db, t)).parent_id for t in tickets[1:]] == [parent.id, parent.id]
    assert (await fresh(db, unrelated)).parent_id is None

    trail = len(await events_of(db, parent))
    for how in (proposals.merge, proposals.reject):
        with pytest.raises(Refusal) as caught:
            await decide(db, how, proposal.id, OTHER)
        assert caught.value.key == "major.proposal.already_merged"
        assert parent.number in caught.value.text("en") and "Agent One" in caught.value.text("en")
    assert len(await events_of(db, parent)) == trail

    # while it stands, a further similar report joins it by itself, and the staff are told why
    later = await report(db, 505, "no internet at all, nobody can work 😡")
    assert (await fresh(db, later)).parent_id == parent.id
    assert any(later.number in text_of(r) and "automatically" in text_of(r) for r in await rows_of(db, chat_id=STAFF))
    # ... unless its customer said at intake that theirs is something else
    other = await report(db, 506, "the internet is down for everyone", declined=(f"major:{parent.id}",))
    assert (await fresh(db, other)).parent_id is None


async def test_not_related_is_remembered(db: Database) -> None:
    tickets, _unrelated = await three_similar(db)
    (proposal,) = await all_proposals(db)
    decision = await decide(db, proposals.reject, proposal.id)
    assert decision.notice.key == "major.proposal.rejected" and "Not related" in decision.text
    states = [await fresh(db, t) for t in tickets]
    assert all(t.parent_id is None and not t.is_major for t in states)

    # the same tickets are not proposed again; two new ones alone are below the threshold
    await report(db, 504, "INTERNET DOWN AGAIN??? nobody can work")
    assert [p.status for p in await all_proposals(db)] == ["rejected"]
    await report(db, 505, "no internet at all, nobody can work 😡")
    fresh_one = await report(db, 506, "the internet is down for everyone")
    pending = [p for p in await all_proposals(db) if p.status == "pending"]
    assert len(pending) == 1 and not set(pending[0].ticket_ids) & {t.id for t in tickets}
    assert pending[0].ticket_ids[-1] == fresh_one.id
    with pytest.raises(Refusal) as caught:
        await decide(db, proposals.reject, proposal.id)
    assert caught.value.key == "major.proposal.already_rejected"


async def test_reports_older_than_the_window_are_not_counted(db: Database) -> None:
    first = await report(db, SIMILAR[0][0], SIMILAR[0][2], SIMILAR[0][1])
    async with db.session() as session:
        old = await session.get(Ticket, first.id)
        old.created_at = old.created_at - POLICY.major_incident_window - timedelta(minutes=1)
    for user, lang, text in SIMILAR[1:]:
        await report(db, user, text, lang)
    assert await all_proposals(db) == []
