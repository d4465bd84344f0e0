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

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.clock import now_utc
from storage import personal_data, relayed_messages, repos
from storage.models import Customer, Ticket
from storage.personal_data import FINISHED_STATES

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
    batch = await personal_data.finished_tickets_to_erase(session, cutoff, limit)
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
    for event in await repos.events_of(session, ticket.id):
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

    for attachment in await repos.attachments_of(session, ticket.id):
        attachment.file_id = ""
        attachment.file_unique_id = None
        attachment.file_name = None
        attachment.caption = None
        attachment.from_chat_id = None
        attachment.from_message_id = None
        session.add(attachment)

    # outbox rows of the ticket carry the texts that were sent (card, relays): delete the finished ones
    await personal_data.delete_finished_messages_of_ticket(session, ticket.id)
    await relayed_messages.forget_ticket(session, ticket.id)  # references to agents' messages
    return await personal_data.delete_labels_of_ticket(session, ticket.id)


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
    customers = await personal_data.idle_customers_to_forget(session, cutoff, limit)
    for customer in customers:
        _forget_person(session, customer)
    return len(customers)


async def erase_old_traces(session: AsyncSession, cutoff: datetime) -> Erasure:
    """Drafts, handled inbox updates and finished outbox rows older than `cutoff` (they hold raw texts)."""
    drafts, inbox, outbox = await personal_data.delete_old_traces(session, cutoff)
    return Erasure(drafts=drafts, inbox=inbox, outbox=outbox)


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
    customer, tickets = await personal_data.customer_with_tickets(session, telegram_id)
    if customer is None:
        return CustomerErasure(False, [], Erasure())
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
    result.drafts, result.inbox, result.outbox = await personal_data.delete_traces_of_customer(session, customer)
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
    customer, tickets = await personal_data.customer_with_tickets(session, telegram_id)
    if customer is None:
        return None
    exported_tickets = []
    for ticket in tickets:
        events = await repos.events_of(session, ticket.id)
        attachments = await repos.attachments_of(session, ticket.id)
        links = await repos.links_of_ticket(session, ticket.id)
        exported_tickets.append(
            {
                **row_dict(ticket),
                "events": [row_dict(e) for e in events],
                "attachments": [row_dict(a) for a in attachments],
                "message_links": [row_dict(link) for link in links],
            }
        )
    draft = await repos.draft_of(session, customer.id)
    outbox = await personal_data.messages_to_chat(session, customer.chat_id)
    inbox = await personal_data.updates_from_chat(session, customer.chat_id)
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
