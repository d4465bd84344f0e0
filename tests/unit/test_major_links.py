"""Major incidents on a real database: the rules of /major, /link and /unlink (each refusal a clear answer
that changes nothing), linked tickets following their parent with their own clocks still, and one voice:
what is said on the parent reaches every linked customer once, in their language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk import agent_actions, customer_messages
from helpdesk.agent_actions import Refusal
from helpdesk.clock import now_utc
from helpdesk.content import Content
from helpdesk.major_incidents import linking
from helpdesk.vocabulary import Category, Cause, State
from scheduler.followup_sweeps import FollowupSweeps
from storage import repos
from storage.db import Database
from storage.models import Ticket
from tests.unit.desk import AGENT, POLICY, STAFF, act, customer, events_of, fresh, rows_of, text_of, ticket_for

INTERNET = "Internet is down for the whole office"


async def outage(db: Database) -> tuple[Ticket, Ticket, Ticket]:
    """Three customers (en, en, ru) report the outage; the first is made the major incident, the others linked."""
    ann, bob, vera = (
        await customer(db, 501, "Ann"),
        await customer(db, 502, "Bob"),
        await customer(db, 503, "Vera", "ru"),
    )
    first = await ticket_for(db, ann, Category.NETWORK, INTERNET)
    second = await ticket_for(db, bob, Category.NETWORK, "internet conection lost on all computers")
    third = await ticket_for(db, vera, Category.NETWORK, "Интернет не работает во всём офисе!!!")
    await act(db, first, agent_actions.take, AGENT)
    await act(db, first, linking.make_major, AGENT)
    for child in (second, third):
        async with db.session() as session:
            locked = await repos.lock_ticket(session, child.id)
            parent = await repos.lock_ticket(session, first.id)
            await linking.link(session, locked, parent, AGENT, POLICY)
    return first, second, third


async def link(db: Database, ticket: Ticket, parent: Ticket) -> object:
    async with db.session() as session:
        locked = await repos.lock_ticket(session, ticket.id)
        above = await repos.lock_ticket(session, parent.id)
        return await linking.link(session, locked, above, AGENT, POLICY)


async def refused(db: Database, ticket: Ticket, parent: Ticket) -> Refusal:
    before = (await fresh(db, ticket)).parent_id, len(await events_of(db, ticket)), len(await events_of(db, parent))
    with pytest.raises(Refusal) as caught:
        await link(db, ticket, parent)
    after = (await fresh(db, ticket)).parent_id, len(await events_of(db, ticket)), len(await events_of(db, parent))
    assert after == before  # nothing changed
    return caught.value


async def test_linking_refuses_what_the_rules_forbid_and_changes_nothing(db: Database) -> None:
    parent, child, _third = await outage(db)
    ann = await customer(db, 501)
    loose = await ticket_for(db, ann, Category.NETWORK, "wifi is slow in room 12")
    request = await ticket_for(db, ann, Category.ACCESS, "Please give me access to the finance folder")
    closed = await ticket_for(db, ann, Category.NETWORK, "VPN drops every hour")
    await act(db, closed, agent_actions.resolve, AGENT, "supplier The provider fixed their gateway")
    await act(db, closed, agent_actions.close, AGENT)

    assert (await refused(db, loose, loose)).key == "major.error.self"
    assert (await refused(db, loose, closed)).key == "major.error.parent_not_open"
    assert (await refused(db, parent, child)).key == "major.error.cycle"
    parent_linked = await refused(db, loose, child)
    assert parent_linked.key == "major.error.parent_linked" and parent_linked.values["above"] == parent.number
    assert (await refused(db, request, parent)).key == "major.error.not_incident"
    assert (await refused(db, closed, parent)).key == "major.error.not_open"
    other = await ticket_for(db, ann, Category.NETWORK, "Internet is down in building B")
    has_linked = await refused(db, parent, other)
    assert has_linked.key == "major.error.has_linked" and has_linked.values["count"] == 2
    assert "unlink" in has_linked.text("en")

    with pytest.raises(Refusal) as caught:
        await act(db, request, linking.make_major, AGENT)
    assert caught.value.key == "major.error.major_not_incident"
    with pytest.raises(Refusal) as caught:
        await act(db, child, linking.make_major, AGENT)
    assert caught.value.key == "major.error.major_is_linked"
    with pytest.raises(Refusal) as caught:
        await act(db, loose, linking.unlink, AGENT)
    assert caught.value.key == "major.error.not_linked"
    with pytest.raises(Refusal) as caught:
        await act(db, parent, linking.unlink, AGENT)
    assert caught.value.key == "major.error.unlink_major"

    notice, _ = await act(db, parent, linking.make_major, AGENT)
    assert notice.key == "major.done.already_major"
    assert (await link(db, child, parent)).key == "major.done.already_linked"


async def test_a_linked_ticket_follows_its_parent_and_its_own_clocks_stand_still(db: Database) -> None:
    parent, child, third = await outage(db)
    linked = await fresh(db, child)
    assert linked.parent_id == parent.id and linked.state == State.IN_PROGRESS.value  # took the parent's state
    assert linked.sla_paused_at is not None and linked.progress_due_at is None and linked.first_response_at
    assert (await fresh(db, parent)).is_major

    # far past every due time: the SLA watch speaks about the parent only
    jobs = FollowupSweeps(db, POLICY)
    await jobs.run(now_utc() + timedelta(days=30))
    breaches = {
        t.id: [e.kind for e in await events_of(db, t) if e.kind == "sla_breach"] for t in (parent, child, third)
    }
    assert breaches == {parent.id: ["sla_breach"], child.id: [], third.id: []}  # one alert, not three
    assert "resolution_breach" not in ((await fresh(db, child)).sla_flags or {})


async def test_one_voice_each_linked_customer_hears_each_update_once_in_their_language(db: Database) -> None:
    parent, child, third = await outage(db)
    ann = await customer(db, 501)
    twice = await ticket_for(db, ann, Category.NETWORK, "still no internet on my floor, whole team waiting")
    await link(db, twice, parent)  # Ann reported twice: she still hears each update once
    await act(db, parent, agent_actions.reply, AGENT, Content(text="The provider is on it, ETA 15:00"))
    await act(db, parent, agent_actions.resolve, AGENT, "supplier: the provider replaced a line card; all up again")

    for chat, lang in ((501, "en"), (502, "en"), (503, "ru")):
        texts = [text_of(r) for r in await rows_of(db, chat_id=chat)]
        replies = [x for x in texts if "ETA 15:00" in x]
        resolutions = [x for x in texts if "line card" in x]
        assert len(replies) == 1 and len(resolutions) == 1, (chat, texts)
        assert ("решена" in resolutions[0]) == (lang == "ru")
    bob_rows = [r for r in await rows_of(db, chat_id=502) if "line card" in text_of(r)]
    assert bob_rows[0].ticket_id == child.id  # linked to his own ticket: his reply finds its way back
    assert parent.number in text_of(bob_rows[0]) and child.number in text_of(bob_rows[0])
    assert f"fx:{child.id}:y" in str(bob_rows[0].payload["reply_markup"])

    for ticket in (child, third, twice):
        done = await fresh(db, ticket)
        assert done.state == "resolved" and done.cause == Cause.SUPPLIER.value
        assert done.resolution_report == "the provider replaced a line card; all up again"
        assert done.auto_close_due_at is None  # closes with its parent, not on its own
    await act(db, parent, agent_actions.close, AGENT)
    assert {(await fresh(db, t)).state for t in (child, third, twice)} == {"closed"}
    assert len([r for r in await rows_of(db, chat_id=503) if "закрыта" in text_of(r)]) == 1


async def test_a_linked_customer_writes_and_the_staff_read_it_under_the_parent(db: Database) -> None:
    parent, child, _third = await outage(db)
    async with db.session() as session:
        found = await session.get(Ticket, parent.id)
        found.staff_message_id = 9001  # the parent's card was delivered
    async with db.session() as session:
        bob = await repos.customer_by_telegram_id(session, 502)
        locked = await repos.lock_ticket(session, child.id)
        await customer_messages.add_message(
            session, bob, locked, Content(text="Still down here", chat_id=502, message_id=7), POLICY
        )
    (relay,) = [r for r in await rows_of(db, chat_id=STAFF) if "Still down here" in text_of(r)]
    assert f"{child.number} (linked to {parent.number})" in text_of(relay)
    assert relay.payload["reply_parameters"]["message_id"] == 9001 and relay.ticket_id == child.id
    assert (await fresh(db, child)).state == "in_progress"


async def test_unlinked_the_ticket_is_on_its_own_again(db: Database) -> None:
    parent, child, _third = await outage(db)
    notice, _ = await act(db, child, linking.unlink, AGENT)
    assert notice.key == "major.done.unlinked"
    alone = await fresh(db, child)
    assert alone.parent_id is None and alone.sla_paused_at is None  # its clocks run again
    assert any("no longer part of" in text_of(r) for r in await rows_of(db, chat_id=502))
    await act(db, parent, agent_actions.reply, AGENT, Content(text="Update for the linked ones"))
    assert not any("Update for the linked ones" in text_of(r) for r in await rows_of(db, chat_id=502))


async def test_still_a_problem_on_a_linked_ticket_takes_it_out_of_the_major_incident(db: Database) -> None:
    parent, child, third = await outage(db)
    await act(db, parent, agent_actions.resolve, AGENT, "supplier the provider replaced a line card")
    async with db.session() as session:
        bob = await repos.customer_by_telegram_id(session, 502)
        answer = await customer_messages.confirm_fix(session, bob, child.id, False, POLICY)
    assert answer is not None
    reopened = await fresh(db, child)
    assert reopened.state == "in_progress" and reopened.parent_id is None
    assert (await fresh(db, parent)).state == "resolved" and (await fresh(db, third)).state == "resolved"
