"""The lifecycle's rules and its one transition procedure (helpdesk.lifecycle), on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update
from sqlmodel import col

from helpdesk.clock import now_utc
from helpdesk.lifecycle import ALLOWED, Refused, TransitionError, apply_transition, check_transition
from helpdesk.vocabulary import State
from storage import repos
from storage.db import Database
from storage.models import Ticket
from tests.unit import desk
from tests.unit.desk import POLICY


@pytest.fixture
async def db(sqlite_database_url: str) -> AsyncIterator[Database]:
    database = await desk.migrated(sqlite_database_url)
    yield database
    await database.dispose()


def test_every_pair_of_states_is_either_allowed_or_refused_with_its_reason() -> None:
    """`ALLOWED` is the rule; a refusal says why: the same state, a close of a ticket not resolved, or any
    other change `ALLOWED` does not list."""
    for current in State:
        assert ALLOWED[current], current  # every state can go somewhere (a refusal names where)
        for target in State:
            if target in ALLOWED[current]:
                check_transition(current, target, has_report=True)
                continue
            with pytest.raises(TransitionError) as refused:
                check_transition(current, target, has_report=True)
            assert (refused.value.current, refused.value.target) == (current, target)
            if current == target:
                assert refused.value.why == Refused.SAME
            elif target == State.CLOSED and current != State.CANCELLED:
                assert refused.value.why == Refused.CLOSE_UNRESOLVED
            else:
                assert refused.value.why == Refused.NOT_ALLOWED
    with pytest.raises(TransitionError, match="closing report") as refused:
        check_transition(State.IN_PROGRESS, State.RESOLVED)
    assert refused.value.why == Refused.NEEDS_REPORT


async def test_a_change_moves_the_clocks_and_is_recorded_with_who_made_it(db: Database) -> None:
    tid = await desk.new_ticket(db, POLICY, 501)
    now = now_utc()
    async with db.session() as session:
        ticket = await repos.lock_ticket(session, tid)
        event = await apply_transition(
            session, ticket, State.WAITING_CUSTOMER, POLICY, now, actor_kind="agent", actor_id=7001, note="asked"
        )
    assert (event.from_state, event.to_state, event.actor_kind, event.actor_id, event.note) == (
        "new",
        "waiting_customer",
        "agent",
        7001,
        "asked",
    )
    waiting = await desk.ticket(db, tid)
    assert waiting.state == "waiting_customer" and waiting.sla_paused_at is not None
    assert waiting.reminder_due_at is not None and waiting.auto_close_due_at is not None
    async with db.session() as session:
        ticket = await repos.lock_ticket(session, tid)
        await apply_transition(session, ticket, State.IN_PROGRESS, POLICY, now, actor_kind="customer", note="answered")
    answered = await desk.ticket(db, tid)
    assert answered.sla_paused_at is None and answered.reminder_due_at is None and answered.auto_close_due_at is None
    assert [(e.from_state, e.to_state, e.actor_kind) for e in await desk.events(db, tid, "state")] == [
        ("new", "waiting_customer", "agent"),
        ("waiting_customer", "in_progress", "customer"),
    ]


async def test_cancelling_stops_every_clock(db: Database) -> None:
    tid = await desk.new_ticket(db, POLICY, 501, priority="P1")
    await desk.ask(db, POLICY, tid, "Which floor?")
    async with db.session() as session:
        ticket = await repos.lock_ticket(session, tid)
        await apply_transition(session, ticket, State.CANCELLED, POLICY, now_utc(), actor_kind="agent", actor_id=7001)
    cancelled = await desk.ticket(db, tid)
    assert cancelled.state == "cancelled" and cancelled.closed_at is not None
    assert cancelled.reminder_due_at is cancelled.auto_close_due_at is cancelled.progress_due_at is None
    assert cancelled.survey_due_at is None and cancelled.sla_paused_at is None


async def test_a_refused_change_leaves_the_ticket_and_its_trail_as_they_were(db: Database) -> None:
    tid = await desk.new_ticket(db, POLICY, 501)
    async with db.session() as session:
        ticket = await repos.lock_ticket(session, tid)
        with pytest.raises(TransitionError):
            await apply_transition(session, ticket, State.CLOSED, POLICY, now_utc(), actor_kind="system")
    assert (await desk.ticket(db, tid)).state == "new"
    assert await desk.events(db, tid, "state") == []


async def test_the_desk_auto_closing_and_an_agent_closing_move_the_same_clocks(db: Database) -> None:
    """One procedure for everyone: a sweep's close and an agent's close leave identical clocks."""
    closed = []
    for actor_kind in ("system", "agent"):
        tid = await desk.new_ticket(db, POLICY, 501)
        await desk.set_state(db, POLICY, tid, State.RESOLVED)
        now = now_utc()
        async with db.session() as session:
            ticket = await repos.lock_ticket(session, tid)
            await apply_transition(session, ticket, State.CLOSED, POLICY, now, actor_kind=actor_kind)
        ticket = await desk.ticket(db, tid)
        closed.append((ticket.survey_due_at - now, ticket.auto_close_due_at, ticket.reminder_due_at))
    assert closed[0] == closed[1]


def test_a_refusal_explains_itself_to_whoever_reads_it() -> None:
    """The reason names what the rules allow from where the ticket is, or the report resolving needs."""
    with pytest.raises(TransitionError) as refused:
        check_transition(State.IN_PROGRESS, State.NEW, has_report=True)
    assert refused.value.reason == (
        "in_progress → new is not allowed; from in_progress: cancelled, resolved, waiting_customer"
    )
    assert refused.value.allowed == "cancelled, resolved, waiting_customer"
    assert str(refused.value) == refused.value.reason
    with pytest.raises(TransitionError) as refused:
        check_transition(State.NEW, State.CLOSED, has_report=True)
    assert refused.value.reason == "only a resolved ticket can be closed; this one is new"
    with pytest.raises(TransitionError) as refused:
        check_transition(State.WAITING_CUSTOMER, State.RESOLVED)
    assert (refused.value.current, refused.value.target) == (State.WAITING_CUSTOMER, State.RESOLVED)
    assert refused.value.reason == "resolving needs a closing report: /resolve N what was wrong, what was done"
    with pytest.raises(TransitionError) as refused:
        check_transition(State.CLOSED, State.CLOSED)
    assert refused.value.reason == "the ticket is already closed"


async def test_resolving_without_a_report_is_refused_unless_the_caller_has_one(db: Database) -> None:
    tid = await desk.new_ticket(db, POLICY, 501)
    async with db.session() as session:
        ticket = await repos.lock_ticket(session, tid)
        with pytest.raises(TransitionError, match="closing report"):
            await apply_transition(session, ticket, State.RESOLVED, POLICY, now_utc(), actor_kind="agent")
    assert (await desk.ticket(db, tid)).state == "new"


async def test_a_major_incident_resolved_resolves_its_linked_tickets_with_its_report_and_cause(db: Database) -> None:
    """The linked tickets follow with the parent's report and cause, each change recorded as made with the
    parent; one the rules do not let follow (already resolved) is left as it is and does not stop the rest;
    the linked tickets' own clocks stay still (the parent's speak for all); unlinked tickets are untouched."""
    parent = await desk.new_ticket(db, POLICY, 501)
    already = await desk.new_ticket(db, POLICY, 502)
    child = await desk.new_ticket(db, POLICY, 503)
    loose = await desk.new_ticket(db, POLICY, 504)
    await desk.set_state(db, POLICY, already, State.RESOLVED)
    await desk.change(db, parent, is_major=True)
    for linked in (already, child):
        await desk.change(db, linked, parent_id=parent)
    now = now_utc()
    report = "The core switch failed; replaced it"
    async with db.session() as session:
        ticket = await repos.lock_ticket(session, parent)
        ticket.resolution_report, ticket.cause = report, "technical"
        parent_event = await apply_transition(
            session,
            ticket,
            State.RESOLVED,
            POLICY,
            now,
            actor_kind="agent",
            actor_id=7001,
            actor_name="Agent1",
            note="switch replaced",
            has_report=True,
        )
        number = ticket.number
    assert parent_event.data == {} and parent_event.actor_name == "Agent1"

    followed = await desk.ticket(db, child)
    assert (followed.state, followed.resolution_report, followed.cause) == ("resolved", report, "technical")
    assert followed.auto_close_due_at is None and followed.reminder_due_at is None  # its clocks stand still
    assert followed.first_response_at.replace(tzinfo=None) == now.replace(tzinfo=None)  # told with the parent
    assert (await desk.ticket(db, parent)).auto_close_due_at is not None  # the parent's run
    [event] = await desk.events(db, child, "state")
    assert (event.from_state, event.to_state, event.note, event.data) == (
        "new",
        "resolved",
        "switch replaced",
        {"with": number},
    )
    assert (event.actor_kind, event.actor_id, event.actor_name) == ("agent", 7001, "Agent1")
    assert event.at.replace(tzinfo=None) == now.replace(tzinfo=None)

    left = await desk.ticket(db, already)
    assert left.state == "resolved" and left.resolution_report != report and left.cause is None
    assert [e.to_state for e in await desk.events(db, already, "state")] == ["resolved"]
    assert (await desk.ticket(db, loose)).state == "new"


async def test_linked_tickets_follow_with_the_note_when_the_parent_has_no_report_of_its_own(db: Database) -> None:
    parent = await desk.new_ticket(db, POLICY, 501)
    child = await desk.new_ticket(db, POLICY, 502)
    await desk.change(db, parent, is_major=True)
    await desk.change(db, child, parent_id=parent)
    async with db.session() as session:
        ticket = await repos.lock_ticket(session, parent)
        await apply_transition(
            session, ticket, State.RESOLVED, POLICY, now_utc(), actor_kind="system", note="power back", has_report=True
        )
    assert (await desk.ticket(db, child)).resolution_report == "power back"


async def test_linked_tickets_are_judged_on_their_state_now_not_as_the_transaction_first_read_them(
    db: Database,
) -> None:
    """A linked ticket another writer resolved after this transaction loaded it is not resolved again over
    its own report (the linked tickets are read afresh, row-locked, when the parent changes)."""
    parent = await desk.new_ticket(db, POLICY, 501)
    child = await desk.new_ticket(db, POLICY, 502)
    await desk.change(db, parent, is_major=True)
    await desk.change(db, child, parent_id=parent)
    async with db.session() as session:
        stale = await session.get(Ticket, child)
        assert stale is not None and stale.state == "new"
        # another writer resolved it meanwhile (the ORM's copy is left as it was read)
        await session.exec(
            update(Ticket)
            .where(col(Ticket.id) == child)
            .values(state="resolved", resolution_report="Fixed on its own")
            .execution_options(synchronize_session=False)
        )
        ticket = await repos.lock_ticket(session, parent)
        ticket.resolution_report = "The core switch failed; replaced it"
        await apply_transition(session, ticket, State.RESOLVED, POLICY, now_utc(), actor_kind="agent", has_report=True)
    kept = await desk.ticket(db, child)
    assert (kept.state, kept.resolution_report) == ("resolved", "Fixed on its own")
    assert await desk.events(db, child, "state") == []
