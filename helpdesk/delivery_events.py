"""What the desk does when a message cannot be delivered: record it where agents will see it."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import cards
from helpdesk.clock import now_utc
from helpdesk.i18n import t
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import record_event
from storage import repos
from storage.models import Customer, OutboxMessage, Ticket


async def _customer_chat(session: AsyncSession, ticket: Ticket) -> int | None:
    customer = await repos.customer_by_id(session, ticket.customer_id)
    return customer.chat_id if customer is not None else None


async def delivery_failed(session: AsyncSession, row: OutboxMessage, error: str, policy: DeskPolicy) -> None:
    """Gave up on a message: an event on the ticket and a note on its card (unless the card is the problem)."""
    if row.ticket_id is None:
        return
    ticket = await session.get(Ticket, row.ticket_id)
    if ticket is None:
        return
    record_event(session, ticket, "delivery_failed", actor_kind="system", note=error[:500], data={"outbox_id": row.id})
    if row.chat_id == ticket.staff_chat_id:
        return
    key = (
        "card.delivery_failed"
        if row.chat_id == await _customer_chat(session, ticket)
        else "scheduler.delivery.failed_other"
    )
    note = t(policy.default_language, key, error=error[:200])
    await cards.refresh_card(session, ticket, policy, notes=[note])


async def delivery_uncertain(session: AsyncSession, row: OutboxMessage, note: str, policy: DeskPolicy) -> None:
    """A message may have been delivered or not (a crash or a lost answer) and is sent again: on the record."""
    if row.ticket_id is None:
        return
    ticket = await session.get(Ticket, row.ticket_id)
    if ticket is None:
        return
    record_event(
        session,
        ticket,
        "delivery_uncertain",
        actor_kind="system",
        note=note[:500],
        data={"outbox_id": row.id, "chat_id": row.chat_id, "method": row.method},
    )


async def chat_unreachable(session: AsyncSession, row: OutboxMessage, policy: DeskPolicy) -> None:
    """403 from a private chat: the customer blocked the bot. Stop sending; tell the staff on each open card."""
    if row.chat_id < 0:
        return
    customer = (await session.exec(select(Customer).where(Customer.chat_id == row.chat_id))).first()
    if customer is None:
        return
    first_time = customer.unreachable_since is None
    customer.unreachable_since = customer.unreachable_since or now_utc()
    session.add(customer)
    pending = (
        await session.exec(
            select(OutboxMessage).where(OutboxMessage.chat_id == row.chat_id, OutboxMessage.status == "pending")
        )
    ).all()
    for other in pending:
        other.status = "dropped"
        other.last_error = "customer unreachable (blocked the bot)"
        other.locked_until = None
        other.locked_by = None
        session.add(other)
    if not first_time:
        return
    tickets = {tk.id: tk for tk in await repos.tickets_of_customer(session, customer.id, open_only=True)}
    if row.ticket_id is not None and row.ticket_id not in tickets:  # e.g. a resolved ticket's close warning
        ticket = await session.get(Ticket, row.ticket_id)
        if ticket is not None:
            tickets[ticket.id] = ticket
    for ticket in tickets.values():
        record_event(session, ticket, "customer_unreachable", actor_kind="system", note="403 from Telegram")
        await cards.refresh_card(session, ticket, policy)
