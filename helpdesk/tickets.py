"""Tickets: register one from the intake, record what happens to it (events, attachments), look them up.

Each operation runs inside the caller's transaction; messages for other people (the staff chat) are
written to the outbox in that same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import cards, due_times, metrics
from helpdesk.clock import now_utc
from helpdesk.content import Content
from helpdesk.numbering import format_number, parse_number
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, Priority, State, TicketType, Urgency
from storage import repos, ticket_lines
from storage.models import Attachment, Customer, Ticket, TicketEvent

#: the longest description a ticket takes, however it is registered (the intake, `/open`): longer ones
#: are refused with this figure before anything is stored, never cut
DESCRIPTION_MAX_CHARS = 3000

TICKET_COUNTER = repos.TICKET_COUNTER


@dataclass(frozen=True)
class Classification:
    """What triage decided (or a person corrected), as stored on the ticket."""

    ticket_type: TicketType
    category: Category
    priority: Priority
    impact: Impact
    urgency: Urgency
    confidence: float
    explanation: str

    @classmethod
    def of(cls, result: Any) -> Classification:
        """From a helpdesk.triage.TriageResult."""
        return cls(
            result.ticket_type,
            result.category,
            result.priority,
            result.impact,
            result.urgency,
            float(result.confidence),
            result.explanation,
        )


@dataclass
class NewTicket:
    description: str
    classification: Classification
    service: str | None = None
    contact: str | None = None
    phone: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    service_key: str | None = None  # the catalogue key of `service` when it was chosen from the list


def record_event(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    *,
    actor_kind: str,
    actor_id: int | None = None,
    actor_name: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=at or now_utc(),
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_name=actor_name,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data or {},
    )
    session.add(event)
    return event


def attachment_row(ticket_id: int, file: dict[str, Any], event_id: int | None = None) -> Attachment:
    return Attachment(
        ticket_id=ticket_id,
        event_id=event_id,
        kind=file.get("kind", "document"),
        file_id=file["file_id"],
        file_unique_id=file.get("file_unique_id"),
        file_size=file.get("file_size"),
        file_name=file.get("file_name"),
        mime_type=file.get("mime_type"),
        caption=file.get("caption"),
        from_chat_id=file.get("chat_id"),
        from_message_id=file.get("message_id"),
    )


async def record_content(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    content: Content,
    now: datetime,
    *,
    actor_kind: str,
    actor_id: int | None,
    actor_name: str | None,
) -> TicketEvent:
    """The event for a message someone wrote on the ticket (its words as the note, a reference to the
    Telegram message) and, for a file, the attachment row."""
    data: dict[str, Any] = {}
    if content.message_id is not None:
        data["message"] = [content.chat_id, content.message_id]
    if content.file is not None:
        data["file"] = content.file.get("kind")
    if content.album:
        data["album"] = content.album
    event = record_event(
        session,
        ticket,
        kind,
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_name=actor_name,
        note=content.words or None,
        data=data,
        at=now,
    )
    if content.file is not None:
        await session.flush()
        session.add(attachment_row(ticket.id, content.file, event.id))
    return event


async def continues_album(session: AsyncSession, ticket: Ticket, kind: str, content: Content) -> bool:
    """A later part of an album whose first part was the ticket's last `kind` message (Telegram sends each
    part as a message of its own; the album is answered once, as a whole)."""
    if not content.album:
        return False
    last = await repos.latest_events_of_kinds(session, ticket.id, (kind,), 1)
    return bool(last) and (last[-1].data or {}).get("album") == content.album


async def register(
    session: AsyncSession, customer: Customer, new: NewTicket, policy: DeskPolicy, *, post_card: bool = True
) -> Ticket:
    """Create the ticket, its first event and attachments, and queue its card for the staff chat, or the
    chat of the team that owns its category (not for a report registered for the record under a major
    incident, `post_card=False`: it has no card)."""
    now = now_utc()
    c = new.classification
    seq = await repos.next_value(session, TICKET_COUNTER)
    target = policy.sla.target(c.ticket_type, c.priority)
    team = policy.teams.owner(c.category.value)
    ticket = Ticket(
        number=format_number(c.ticket_type, seq),
        seq=seq,
        customer_id=customer.id,
        ticket_type=c.ticket_type.value,
        category=c.category.value,
        priority=c.priority.value,
        impact=c.impact.value,
        urgency=c.urgency.value,
        confidence=round(c.confidence, 4),
        explanation=c.explanation,
        state=State.NEW.value,
        description=new.description,
        service=new.service,
        service_key=new.service_key,
        contact=new.contact,
        language=new.language,
        created_at=now,
        updated_at=now,
        last_public_update_at=now,
        first_response_due=policy.due(now, target.first_response),
        resolution_due=policy.due(now, target.resolution),
        team=team.name if team is not None else None,
    )
    due_times.on_public_update(ticket, policy, now)
    session.add(ticket)
    if new.phone and new.phone != customer.phone:  # their own, just shared: the latest is the one to call
        customer.phone = new.phone
        session.add(customer)
    await session.flush()
    event = record_event(
        session,
        ticket,
        "created",
        actor_kind="customer",
        actor_id=customer.telegram_id,
        to_state=State.NEW.value,
        note=c.explanation,
        data={"confidence": c.confidence, "service": new.service},
        at=now,
    )
    await session.flush()
    for file in new.attachments:
        session.add(attachment_row(ticket.id, file, event.id))
    await session.flush()
    if post_card:
        await cards.post_new_card(session, ticket, customer, policy)
    metrics.ticket_created(session, ticket)  # counted when the transaction commits
    return ticket


async def ticket_for_customer(session: AsyncSession, customer: Customer, ticket_id: int) -> Ticket | None:
    ticket = await repos.ticket_by_id(session, ticket_id)
    return ticket if ticket is not None and ticket.customer_id == customer.id else None


async def find_by_number(session: AsyncSession, text: str, *, lock: bool = False) -> Ticket | None:
    """A ticket by its number as people type it (`INC-000042`, `inc-42`, `#42`, `42`); `lock`: row-locked
    for the rest of the transaction and freshly read, as an operation on it needs."""
    find = repos.lock_ticket_by_number if lock else repos.ticket_by_number
    for number in _numbers_meant(text):
        ticket = await find(session, number)
        if ticket is not None:
            return ticket
    return None


async def status_for_customer(session: AsyncSession, customer: Customer, text: str) -> ticket_lines.TicketStatus | None:
    """What `/status` shows of the customer's own ticket by number as people type it (see `find_by_number`),
    read without loading the ticket; someone else's looks exactly like a missing one."""
    for number in _numbers_meant(text):
        found = await ticket_lines.ticket_status_by_number(session, number)
        if found is not None:
            return found if found.customer_id == customer.id else None
    return None


def _numbers_meant(text: str) -> list[str]:
    """The exact ticket numbers a typed number may mean: `42` any type's, `INC-42` the incident's."""
    parsed = parse_number(text)
    if parsed is None:
        return []
    prefix, seq = parsed
    numbers = (format_number(ticket_type, seq) for ticket_type in TicketType)
    return [number for number in numbers if not prefix or number.startswith(prefix)]


async def customer_tickets(
    session: AsyncSession, customer: Customer, policy: DeskPolicy
) -> tuple[Sequence[ticket_lines.TicketLine], Sequence[ticket_lines.TicketLine]]:
    """Open tickets and the recently closed ones, for /my (one query, no ORM objects)."""
    return await ticket_lines.ticket_lines_of_customer(session, customer.id, now_utc() - policy.recently_closed)
