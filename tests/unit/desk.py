"""A desk on a real database for the unit tests (no tests here): a migrated database, customers, tickets
in a given state, the outbox rows and events they produced.

State changes go through the production procedure (`helpdesk.lifecycle.apply_transition`: rule, clocks,
event), so the sweeps and delivery are tested on tickets exactly as agents leave them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from bot.app import delivery_hooks
from helpdesk import due_times
from helpdesk.clock import now_utc
from helpdesk.lifecycle import apply_transition
from helpdesk.people import Actor, Person, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import Classification, NewTicket, record_event, register
from helpdesk.vocabulary import Category, Impact, Priority, State, TicketType, Urgency
from scheduler.delivery import DeliveryLimits, OutboxDelivery
from storage import migrate, repos
from storage.db import Database
from storage.models import Customer, OutboxMessage, Ticket, TicketEvent

STAFF = -100123
AGENT_ID, AGENT_NAME = 7001, "Agent1"

POLICY = DeskPolicy(agent_ids=frozenset({7001, 7002}), staff_chat_id=STAFF)


def policy(**changes: Any) -> DeskPolicy:
    """POLICY with some tunables changed (validated like settings: `business_hours="Mon-Fri 09:00-18:00"`)."""
    return DeskPolicy.model_validate({**POLICY.model_dump(), **changes})


H = timedelta(hours=1)
#: follow-ups hours apart, so a test walks a day in a few steps: a reminder after an hour, a second two
#: hours later, resolved after five hours without an answer, closed three hours after the resolution
#: (warned an hour before), the survey at once
HOURLY = policy(
    info_reminder_after=H,
    info_second_reminder_after=2 * H,
    waiting_auto_close_after=5 * H,
    resolved_auto_close_after=3 * H,
    resolved_close_warning_before=H,
    survey_after=timedelta(0),
)


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
            due_times.on_public_update(ticket, policy, created_at)
        if assignee is not None:
            ticket.assignee_id, ticket.assignee_name = assignee
            await _transition(session, ticket, State.IN_PROGRESS, policy, created_at or ticket.created_at)
        session.add(ticket)
        return int(ticket.id)


async def change(db: Database, ticket_id: int, **fields: Any) -> None:
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        for key, value in fields.items():
            setattr(ticket, key, value)
        session.add(ticket)


async def _transition(session: Any, ticket: Ticket, target: State, policy: DeskPolicy, now: datetime) -> None:
    """An agent's state change, through the production procedure (`lifecycle.apply_transition`)."""
    await apply_transition(
        session,
        ticket,
        target,
        policy,
        now,
        actor_kind="agent",
        actor_id=AGENT_ID,
        actor_name=AGENT_NAME,
        has_report=ticket.resolution_report is not None,
    )


async def ask(db: Database, policy: DeskPolicy, ticket_id: int, question: str, now: datetime | None = None) -> None:
    """An agent asks the customer (the question itself is not queued here)."""
    now = now or now_utc()
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        record_event(session, ticket, "question", actor_kind="agent", actor_id=AGENT_ID, note=question, at=now)
        due_times.on_first_response(ticket, now)
        if ticket.state == State.WAITING_CUSTOMER.value:
            due_times.on_public_update(ticket, policy, now)
            due_times.on_waiting_customer(ticket, policy, now)
            session.add(ticket)
        else:
            await _transition(session, ticket, State.WAITING_CUSTOMER, policy, now)


async def answer(db: Database, policy: DeskPolicy, ticket_id: int, now: datetime | None = None) -> None:
    """The customer answers: back to work."""
    now = now or now_utc()
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        record_event(session, ticket, "answer", actor_kind="customer", at=now)
        await _transition(session, ticket, State.IN_PROGRESS, policy, now)


async def set_state(
    db: Database, policy: DeskPolicy, ticket_id: int, target: State, now: datetime | None = None
) -> None:
    now = now or now_utc()
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        if target == State.RESOLVED:
            ticket.resolution_report = "Restarted the service; works again."
            due_times.on_first_response(ticket, now)
        await _transition(session, ticket, target, policy, now)


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


# -- agents and customers acting on tickets (helpdesk.agent_actions, helpdesk.customer_messages) ----------

AGENT = Actor(AGENT_ID, "Agent One", "agent1")
OTHER = Actor(7002, "Agent Two", "agent2")


async def customer(db: Database, user_id: int = 501, name: str = "Ann", lang: str | None = "en") -> Customer:
    async with db.session() as session:
        return await ensure_customer(
            session, Person(user_id=user_id, chat_id=user_id, first_name=name, language_code=lang)
        )


async def ticket_for(db: Database, who: Customer, category: Category = Category.HARDWARE, text: str = "") -> Ticket:
    """A P3 ticket of `who` registered as the intake does."""
    async with db.session() as session:
        new = NewTicket(
            description=text or "The printer <jams> & prints nothing",
            classification=Classification(
                category.ticket_type, category, Priority.P3, Impact.INDIVIDUAL, Urgency.BLOCKED, 0.9, "test"
            ),
        )
        return await register(session, who, new, POLICY)


async def act(db: Database, ticket: Ticket, action: Any, *args: Any) -> tuple[Any, Ticket]:
    """Run `action(session, locked ticket, *args, POLICY)` in one transaction; returns (result, ticket)."""
    async with db.session() as session:
        locked = await repos.lock_ticket(session, ticket.id)
        result = await action(session, locked, *args, POLICY)
        return result, locked


async def rows_of(db: Database, ticket: Ticket | None = None, chat_id: int | None = None) -> list[OutboxMessage]:
    """Outbox rows, oldest first: of a ticket, to a chat, or both."""
    async with db.read() as session:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if ticket is not None:
            stmt = stmt.where(OutboxMessage.ticket_id == ticket.id)
        if chat_id is not None:
            stmt = stmt.where(OutboxMessage.chat_id == chat_id)
        return list((await session.exec(stmt)).all())


async def events_of(db: Database, ticket: Ticket) -> list[TicketEvent]:
    async with db.read() as session:
        return list(await repos.events_of(session, ticket.id))


async def fresh(db: Database, ticket: Ticket) -> Ticket:
    async with db.read() as session:
        return await session.get(Ticket, ticket.id)


def text_of(row: OutboxMessage) -> str:
    return row.payload.get("text") or row.payload.get("caption") or ""


def delivery(db: Database, transport: Any, limits: DeliveryLimits | None = None, **kw: Any) -> OutboxDelivery:
    """The outbox delivery as the bot assembles it (the desk's hooks from bot/app.py), on any transport."""
    return OutboxDelivery(db, transport, limits, hooks=delivery_hooks(POLICY), **kw)
