"""Helpers for the scheduler's tests (no tests here): a migrated database, tickets in a given state.

The state changes below do what the agents' operations do (state, event, `helpdesk.followups` hook), so
the sweeps can be tested without the bot; the end-to-end tests use them to prepare a SQLite file before
the real bot starts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from helpdesk import followups
from helpdesk.clock import now_utc
from helpdesk.people import Person, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import Classification, NewTicket, record_event, register
from helpdesk.vocabulary import Category, Impact, Priority, State, TicketType, Urgency
from storage import migrate
from storage.db import Database
from storage.models import Customer, OutboxMessage, Ticket, TicketEvent

STAFF = -100123
AGENT_ID, AGENT_NAME = 7001, "Agent1"

POLICY = DeskPolicy(agent_ids=frozenset({7001, 7002}), staff_chat_id=STAFF)


def policy(**changes: Any) -> DeskPolicy:
    return replace(POLICY, **changes)


async def migrated(url: str) -> Database:
    db = Database(url)
    await migrate.upgrade(db)
    return db


CATEGORY = {TicketType.INCIDENT: Category.SOFTWARE, TicketType.SERVICE_REQUEST: Category.ACCESS}


async def new_ticket(
    db: Database,
    policy: DeskPolicy,
    user_id: int,
    *,
    priority: str = "P3",
    ticket_type: TicketType = TicketType.INCIDENT,
    description: str = "The accounting app crashes when I open a report",
    assignee: tuple[int, str] | None = None,
    created_at: datetime | None = None,
    language: str = "en",
    first_name: str = "Ann",
) -> int:
    """Register a ticket like the intake does (card queued for the staff chat); returns its id."""
    async with db.session() as session:
        customer = await ensure_customer(
            session, Person(user_id=user_id, chat_id=user_id, first_name=first_name, language_code=language)
        )
        await session.flush()
        classification = Classification(
            ticket_type, CATEGORY[ticket_type], Priority(priority), Impact.TEAM, Urgency.DEGRADED, 0.9, "test"
        )
        ticket = await register(session, customer, NewTicket(description, classification, language=language), policy)
        if created_at is not None:  # as if registered then
            target = policy.sla.target(ticket_type, Priority(priority))
            ticket.created_at = ticket.updated_at = ticket.last_public_update_at = created_at
            ticket.first_response_due = policy.due(created_at, target.first_response)
            ticket.resolution_due = policy.due(created_at, target.resolution)
            followups.on_public_update(ticket, policy, created_at)
        if assignee is not None:
            ticket.assignee_id, ticket.assignee_name = assignee
            if ticket.state == State.NEW.value:
                ticket.state = State.IN_PROGRESS.value
        session.add(ticket)
        return int(ticket.id)


async def change(db: Database, ticket_id: int, **fields: Any) -> None:
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        for key, value in fields.items():
            setattr(ticket, key, value)
        session.add(ticket)


def _state(session: Any, ticket: Ticket, target: State, policy: DeskPolicy, now: datetime, **kw: Any) -> None:
    """What the agents' `work.apply_state` does: state, clocks, event."""
    current = ticket.state
    ticket.state = target.value
    followups.on_public_update(ticket, policy, now)
    if target == State.IN_PROGRESS and current == State.WAITING_CUSTOMER.value:
        followups.on_customer_answered(ticket, policy, now)
    elif target == State.IN_PROGRESS and current in ("resolved", "closed", "cancelled"):
        followups.on_reopened(ticket, policy, now)
    elif target == State.WAITING_CUSTOMER:
        followups.on_waiting_customer(ticket, policy, now)
    elif target == State.RESOLVED:
        followups.on_resolved(ticket, policy, now)
    elif target == State.CLOSED:
        followups.on_closed(ticket, policy, now)
    session.add(ticket)
    record_event(session, ticket, "state", actor_kind="agent", from_state=current, to_state=target.value, at=now, **kw)


async def ask(db: Database, policy: DeskPolicy, ticket_id: int, question: str, now: datetime | None = None) -> None:
    """An agent asks the customer (the question itself is not queued here)."""
    now = now or now_utc()
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        record_event(session, ticket, "question", actor_kind="agent", actor_id=AGENT_ID, note=question, at=now)
        followups.on_first_response(ticket, now)
        if ticket.state == State.WAITING_CUSTOMER.value:
            followups.on_public_update(ticket, policy, now)
            followups.on_waiting_customer(ticket, policy, now)
            session.add(ticket)
        else:
            _state(session, ticket, State.WAITING_CUSTOMER, policy, now)


async def answer(db: Database, policy: DeskPolicy, ticket_id: int, now: datetime | None = None) -> None:
    """The customer answers: back to work."""
    now = now or now_utc()
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        record_event(session, ticket, "answer", actor_kind="customer", at=now)
        _state(session, ticket, State.IN_PROGRESS, policy, now)


async def set_state(
    db: Database, policy: DeskPolicy, ticket_id: int, target: State, now: datetime | None = None
) -> None:
    now = now or now_utc()
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        if target == State.RESOLVED:
            ticket.resolution_report = "Restarted the service; works again."
            followups.on_first_response(ticket, now)
        _state(session, ticket, target, policy, now)


async def ticket(db: Database, ticket_id: int) -> Ticket:
    async with db.read() as session:
        return await session.get(Ticket, ticket_id)


async def customer_of(db: Database, ticket_id: int) -> Customer:
    async with db.read() as session:
        found = await session.get(Ticket, ticket_id)
        return await session.get(Customer, found.customer_id)


async def rows(db: Database, chat_id: int | None = None, *, method: str | None = None) -> list[OutboxMessage]:
    async with db.read() as session:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if chat_id is not None:
            stmt = stmt.where(OutboxMessage.chat_id == chat_id)
        if method is not None:
            stmt = stmt.where(OutboxMessage.method == method)
        return list((await session.exec(stmt)).all())


def texts(found: list[OutboxMessage]) -> list[str]:
    return [r.payload.get("text", "") for r in found if r.method == "sendMessage"]


async def events(db: Database, ticket_id: int, kind: str | None = None) -> list[TicketEvent]:
    async with db.read() as session:
        stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(col(TicketEvent.id))
        if kind is not None:
            stmt = stmt.where(TicketEvent.kind == kind)
        return list((await session.exec(stmt)).all())


async def mark_sent(db: Database) -> None:
    """Pretend delivery ran: pending rows become sent (the card gets a message id)."""
    async with db.session() as session:
        pending = (await session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending"))).all()
        for number, row in enumerate(pending, start=1):
            row.status = "sent"
            row.sent_at = now_utc()
            session.add(row)
            if row.link_kind == "card" and row.ticket_id:
                found = await session.get(Ticket, row.ticket_id)
                found.staff_message_id = 10_000 + number
                session.add(found)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
