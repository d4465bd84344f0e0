"""Personal data: erase it after the retention period or on request, and export all kept about one customer.

Erasure (RETENTION_DAYS; unset keeps everything) applies to tickets closed or cancelled longer ago
than the period. It removes what identifies or quotes a person and keeps what statistics need:

| erased                                                     | kept                                      |
| ---------------------------------------------------------- | ----------------------------------------- |
| description, contact, closing report, rating comment       | number, type, category, priority, impact, |
| attachments' file ids, names and captions                  | urgency, service, state, every timestamp, |
| free-text notes of events (relayed messages, answers…),    | SLA due times and flags, rating, assignee |
| the customer's name on events, message references          | (an agent), event kinds and their times,  |
| agents' triage corrections (labelled text) of the ticket   | attachment kinds, sizes and types         |

`ticket.personal_data_erased_at` records when. A customer's name, username and phone go once none of
their tickets keeps personal data and they have not written for the whole period. Drafts, inbox
updates and outbox messages older than the period go too (they hold raw texts).

Several processes may sweep at once: tickets are claimed with FOR UPDATE SKIP LOCKED and every step is
idempotent. Messages already in Telegram (cards in the staff chat, the customer's chat) are not ours to
delete; see docs/deployment.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.clock import now_utc
from storage.models import (
    Attachment,
    Customer,
    Draft,
    InboxUpdate,
    LabelledExample,
    MessageLink,
    OutboxMessage,
    Ticket,
    TicketEvent,
)

FINISHED_STATES = ("closed", "cancelled")
#: event kinds whose note the system wrote itself (triage explanation, "P3 → P2"…): kept
SYSTEM_NOTES = frozenset({"created", "retype", "priority", "customer_unreachable", "sla_warning", "sla_breach"})
#: keys of TicketEvent.data that hold or point at a person's words
PERSONAL_DATA_KEYS = frozenset(
    {"message", "text", "caption", "contact", "phone", "description", "comment", "words", "file_id", "file_name"}
)


@dataclass
class Erasure:
    """What one sweep erased (for the log and the tests)."""

    tickets: int = 0
    customers: int = 0
    drafts: int = 0
    inbox: int = 0
    outbox: int = 0
    labels: int = 0

    def add(self, other: Erasure) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    @property
    def anything(self) -> bool:
        return any(asdict(self).values())


# -- erasure -----------------------------------------------------------------------------------------


async def erase_finished_tickets(session: AsyncSession, cutoff: datetime, *, limit: int = 100) -> Erasure:
    """Erase one batch of tickets closed or cancelled before `cutoff`; `.tickets < limit` means done."""
    finished_at = func.coalesce(Ticket.closed_at, Ticket.updated_at)
    stmt = (
        select(Ticket)
        .where(
            col(Ticket.state).in_(FINISHED_STATES),
            col(Ticket.personal_data_erased_at).is_(None),
            finished_at < cutoff,
        )
        .order_by(col(Ticket.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    batch = (await session.exec(stmt)).all()
    result = Erasure()
    now = now_utc()
    for ticket in batch:
        result.labels += await erase_ticket(session, ticket, now)
        result.tickets += 1
    return result


async def erase_ticket(session: AsyncSession, ticket: Ticket, now: datetime | None = None) -> int:
    """Erase one ticket's personal data in the caller's transaction; returns the labelled texts removed."""
    now = now or now_utc()
    ticket.description = ""
    ticket.contact = None
    ticket.resolution_report = None
    ticket.rating_comment = None
    ticket.personal_data_erased_at = now
    session.add(ticket)

    customer_actor = {"customer"}
    events = (await session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).all()
    for event in events:
        changed = False
        if event.note is not None and event.kind not in SYSTEM_NOTES:
            event.note = None
            changed = True
        if event.actor_kind in customer_actor and event.actor_name is not None:
            event.actor_name = None
            changed = True
        data = dict(event.data or {})
        scrubbed = {k: v for k, v in data.items() if k not in PERSONAL_DATA_KEYS}
        if scrubbed != data:
            event.data = scrubbed
            changed = True
        if changed:
            session.add(event)

    attachments = (await session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))).all()
    for attachment in attachments:
        attachment.file_id = ""
        attachment.file_unique_id = None
        attachment.file_name = None
        attachment.caption = None
        attachment.from_chat_id = None
        attachment.from_message_id = None
        session.add(attachment)

    # outbox rows of the ticket carry the texts that were sent (card, relays): delete the finished ones
    await session.execute(
        delete(OutboxMessage).where(col(OutboxMessage.ticket_id) == ticket.id, col(OutboxMessage.status) != "pending")
    )
    labels = await session.execute(delete(LabelledExample).where(col(LabelledExample.ticket_id) == ticket.id))
    return int(labels.rowcount or 0)


def _forget_person(session: AsyncSession, customer: Customer) -> None:
    """Blank what identifies the person; the Telegram id stays, so they are recognised if they come back."""
    customer.first_name = ""
    customer.last_name = None
    customer.username = None
    customer.phone = None
    customer.pending = {}
    session.add(customer)


async def erase_idle_customers(session: AsyncSession, cutoff: datetime, *, limit: int = 500) -> int:
    """Blank the name, username and phone of customers silent since `cutoff` whose tickets are all erased."""
    last_contact = func.coalesce(Customer.last_seen_at, Customer.created_at)
    keeps_data = exists().where(col(Ticket.customer_id) == Customer.id, col(Ticket.personal_data_erased_at).is_(None))
    stmt = (
        select(Customer)
        .where(
            last_contact < cutoff,
            ~keeps_data,
            or_(
                col(Customer.first_name) != "",
                col(Customer.last_name).is_not(None),
                col(Customer.username).is_not(None),
                col(Customer.phone).is_not(None),
            ),
        )
        .order_by(col(Customer.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    customers = (await session.exec(stmt)).all()
    for customer in customers:
        _forget_person(session, customer)
    return len(customers)


async def erase_old_traces(session: AsyncSession, cutoff: datetime) -> Erasure:
    """Drafts, handled inbox updates and finished outbox rows older than `cutoff` (they hold raw texts)."""
    drafts = await session.execute(delete(Draft).where(col(Draft.updated_at) < cutoff))
    inbox = await session.execute(
        delete(InboxUpdate).where(col(InboxUpdate.status) != "pending", col(InboxUpdate.received_at) < cutoff)
    )
    outbox = await session.execute(
        delete(OutboxMessage).where(col(OutboxMessage.status) != "pending", col(OutboxMessage.created_at) < cutoff)
    )
    return Erasure(drafts=int(drafts.rowcount or 0), inbox=int(inbox.rowcount or 0), outbox=int(outbox.rowcount or 0))


@dataclass
class CustomerErasure:
    """What erasing one customer on request did, or why it did not (open tickets must be finished first)."""

    found: bool
    open_tickets: list[str]
    erasure: Erasure


async def erase_customer(session: AsyncSession, telegram_id: int, *, apply: bool = True) -> CustomerErasure:
    """Erase everything personal kept about one customer now (the right to erasure), in the caller's
    transaction: each ticket as retention would, their name, username and phone, the intake draft, the
    updates they sent and the messages queued or sent to their chat. Their Telegram id and the tickets'
    statistics stay. Refused while a ticket is still open (an agent may be working on it); `apply=False`
    only counts."""
    customer = (await session.exec(select(Customer).where(Customer.telegram_id == telegram_id))).first()
    if customer is None:
        return CustomerErasure(False, [], Erasure())
    tickets = (
        await session.exec(select(Ticket).where(Ticket.customer_id == customer.id).order_by(col(Ticket.id)))
    ).all()
    open_numbers = [t.number for t in tickets if t.state not in FINISHED_STATES]
    result = Erasure(tickets=sum(1 for t in tickets if t.personal_data_erased_at is None))
    if open_numbers or not apply:
        return CustomerErasure(True, open_numbers, result)
    now = now_utc()
    for ticket in tickets:
        if ticket.personal_data_erased_at is None:
            result.labels += await erase_ticket(session, ticket, now)
    _forget_person(session, customer)
    result.customers = 1
    drafts = await session.execute(delete(Draft).where(col(Draft.customer_id) == customer.id))
    inbox = await session.execute(
        delete(InboxUpdate).where(col(InboxUpdate.chat_key) == customer.chat_id, col(InboxUpdate.status) != "pending")
    )
    outbox = await session.execute(delete(OutboxMessage).where(col(OutboxMessage.chat_id) == customer.chat_id))
    result.drafts = int(drafts.rowcount or 0)
    result.inbox = int(inbox.rowcount or 0)
    result.outbox = int(outbox.rowcount or 0)
    return CustomerErasure(True, [], result)


# -- export ------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def row_dict(row: SQLModel) -> dict[str, Any]:
    """Every column of a table row, JSON-ready."""
    return {column.name: _plain(getattr(row, column.name)) for column in row.__table__.columns}  # type: ignore[attr-defined]


async def export_customer(session: AsyncSession, telegram_id: int) -> dict[str, Any] | None:
    """Everything stored about one customer (the right of access), or None if we know no such person.

    Tickets come with their events, attachments and message links; plus the intake draft, the messages
    we queued for their chat and the updates they sent that we still keep.
    """
    customer = (await session.exec(select(Customer).where(Customer.telegram_id == telegram_id))).first()
    if customer is None:
        return None
    tickets = (
        await session.exec(select(Ticket).where(Ticket.customer_id == customer.id).order_by(col(Ticket.id)))
    ).all()
    exported_tickets = []
    for ticket in tickets:
        events = (
            await session.exec(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(col(TicketEvent.id))
            )
        ).all()
        attachments = (
            await session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(col(Attachment.id)))
        ).all()
        links = (
            await session.exec(
                select(MessageLink).where(MessageLink.ticket_id == ticket.id).order_by(col(MessageLink.id))
            )
        ).all()
        exported_tickets.append(
            {
                **row_dict(ticket),
                "events": [row_dict(e) for e in events],
                "attachments": [row_dict(a) for a in attachments],
                "message_links": [row_dict(link) for link in links],
            }
        )
    draft = await session.get(Draft, customer.id)
    outbox = (
        await session.exec(
            select(OutboxMessage).where(OutboxMessage.chat_id == customer.chat_id).order_by(col(OutboxMessage.id))
        )
    ).all()
    inbox = (
        await session.exec(
            select(InboxUpdate).where(InboxUpdate.chat_key == customer.chat_id).order_by(col(InboxUpdate.update_id))
        )
    ).all()
    return {
        "format": "intake-bot customer export",
        "version": 1,
        "exported_at": now_utc().isoformat(),
        "customer": row_dict(customer),
        "tickets": exported_tickets,
        "draft": row_dict(draft) if draft is not None else None,
        "messages_to_customer": [row_dict(m) for m in outbox],
        "updates_from_customer": [row_dict(u) for u in inbox],
    }
