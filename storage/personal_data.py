"""The queries retention and a customer's rights need (helpdesk/privacy.py decides what is erased).

Batches are claimed with FOR UPDATE SKIP LOCKED, so several processes may sweep at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import held_messages
from storage.models import (
    Customer,
    Draft,
    InboxUpdate,
    LabelledExample,
    OutboxMessage,
    Ticket,
)

FINISHED_STATES = ("closed", "cancelled")


async def finished_tickets_to_erase(session: AsyncSession, cutoff: datetime, limit: int) -> Sequence[Ticket]:
    """Tickets closed or cancelled before `cutoff` that still hold personal data (claimed, skip locked)."""
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
    return (await session.exec(stmt)).all()


async def idle_customers_to_forget(session: AsyncSession, cutoff: datetime, limit: int) -> Sequence[Customer]:
    """Customers silent since `cutoff`, none of whose tickets keeps personal data, whose name is still kept."""
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
    return (await session.exec(stmt)).all()


async def customer_with_tickets(session: AsyncSession, telegram_id: int) -> tuple[Customer | None, Sequence[Ticket]]:
    """A customer by Telegram id and all their tickets, oldest first."""
    customer = (await session.exec(select(Customer).where(Customer.telegram_id == telegram_id))).first()
    if customer is None:
        return None, []
    stmt = select(Ticket).where(Ticket.customer_id == customer.id).order_by(col(Ticket.id))
    return customer, (await session.exec(stmt)).all()


async def delete_finished_messages_of_ticket(session: AsyncSession, ticket_id: int) -> None:
    """Outbox rows of the ticket no longer waiting to be sent (they carry the texts that were sent)."""
    await session.execute(
        delete(OutboxMessage).where(col(OutboxMessage.ticket_id) == ticket_id, col(OutboxMessage.status) != "pending")
    )


async def delete_labels_of_ticket(session: AsyncSession, ticket_id: int) -> int:
    """Agents' triage corrections of the ticket (they quote its text); returns how many."""
    result = await session.execute(delete(LabelledExample).where(col(LabelledExample.ticket_id) == ticket_id))
    return int(result.rowcount or 0)


async def delete_old_traces(session: AsyncSession, cutoff: datetime) -> tuple[int, int, int]:
    """Drafts, handled inbox updates and finished outbox rows older than `cutoff`: how many of each."""
    drafts = await session.execute(delete(Draft).where(col(Draft.updated_at) < cutoff))
    inbox = await session.execute(
        delete(InboxUpdate).where(col(InboxUpdate.status) != "pending", col(InboxUpdate.received_at) < cutoff)
    )
    outbox = await session.execute(
        delete(OutboxMessage).where(col(OutboxMessage.status) != "pending", col(OutboxMessage.created_at) < cutoff)
    )
    return int(drafts.rowcount or 0), int(inbox.rowcount or 0), int(outbox.rowcount or 0)


async def delete_traces_of_customer(session: AsyncSession, customer: Customer) -> tuple[int, int, int]:
    """The customer's draft, the handled updates they sent (and those flood control still holds), every
    message queued or sent to their chat."""
    drafts = await session.execute(delete(Draft).where(col(Draft.customer_id) == customer.id))
    await held_messages.forget_customer(session, customer.id)
    inbox = await session.execute(
        delete(InboxUpdate).where(col(InboxUpdate.chat_key) == customer.chat_id, col(InboxUpdate.status) != "pending")
    )
    outbox = await session.execute(delete(OutboxMessage).where(col(OutboxMessage.chat_id) == customer.chat_id))
    return int(drafts.rowcount or 0), int(inbox.rowcount or 0), int(outbox.rowcount or 0)


async def messages_to_chat(session: AsyncSession, chat_id: int) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(col(OutboxMessage.id))
    return (await session.exec(stmt)).all()


async def updates_from_chat(session: AsyncSession, chat_id: int) -> Sequence[InboxUpdate]:
    stmt = select(InboxUpdate).where(InboxUpdate.chat_key == chat_id).order_by(col(InboxUpdate.update_id))
    return (await session.exec(stmt)).all()
