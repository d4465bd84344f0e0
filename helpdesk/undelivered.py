"""What the desk does when a message may not have reached someone: record it where agents will see it.

Delivery (`scheduler/delivery/`) knows nothing of tickets; bot/app.py hands these to it as its hooks.
Each runs in delivery's transaction for the row concerned.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import cards, outbox
from helpdesk.i18n import t
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import record_event
from storage import outbox_rows, repos
from storage.models import Customer, OutboxMessage, Ticket


async def delivery_failed(session: AsyncSession, row: OutboxMessage, error: str, policy: DeskPolicy) -> None:
    """Gave up on a message: an event on the ticket and a note on its card (unless the card is the problem)."""
    ticket = await repos.ticket_by_id(session, row.ticket_id) if row.ticket_id is not None else None
    if ticket is None:
        return
    record_event(session, ticket, "delivery_failed", actor_kind="system", note=error[:500], data={"outbox_id": row.id})
    if row.chat_id == ticket.staff_chat_id:
        return
    customer = await repos.customer_by_id(session, ticket.customer_id)
    to_customer = customer is not None and row.chat_id == customer.chat_id
    key = "card.delivery_failed" if to_customer else "scheduler.delivery.failed_other"
    note = t(policy.default_language, key, error=error[:200])
    await cards.refresh_card(session, ticket, policy, notes=[note])


async def delivery_uncertain(session: AsyncSession, row: OutboxMessage, note: str) -> None:
    """A message may have been delivered or not (a crash or a lost answer) and is sent again: on the record."""
    ticket = await repos.ticket_by_id(session, row.ticket_id) if row.ticket_id is not None else None
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


async def manager_unreachable(session: AsyncSession, row: OutboxMessage, policy: DeskPolicy) -> None:
    """A manager's private chat refuses the bot (Telegram lets a bot write only to people who pressed Start
    in its chat): the staff chat is told once, so that someone asks them to; not on every alert."""
    if row.chat_id not in policy.manager_ids or policy.staff_chat_id is None:
        return
    key = f"manager-unreachable:{row.chat_id}"
    if await outbox_rows.key_used(session, key):
        return
    agent = await repos.agent_by_id(session, row.chat_id)
    known = await repos.customer_by_telegram_id(session, row.chat_id)  # one who wrote to the bot, then blocked it
    who = next((p.first_name for p in (agent, known) if p is not None and p.first_name), str(row.chat_id))
    text = t(policy.default_language, "teams.staff.manager_unreachable", manager=who, manager_id=row.chat_id)
    outbox.send_text(session, policy.staff_chat_id, text, dedupe_key=key)


async def customer_blocked(session: AsyncSession, row: OutboxMessage, customer: Customer, policy: DeskPolicy) -> None:
    """The customer blocked the bot (delivery stops sending to them): on each open ticket and its card."""
    tickets: dict[int, Ticket] = {
        tk.id: tk for tk in await repos.tickets_of_customer(session, customer.id, open_only=True)
    }
    if row.ticket_id is not None and row.ticket_id not in tickets:  # e.g. a resolved ticket's close warning
        ticket = await repos.ticket_by_id(session, row.ticket_id)
        if ticket is not None:
            tickets[ticket.id] = ticket
    for ticket in tickets.values():
        record_event(session, ticket, "customer_unreachable", actor_kind="system", note="403 from Telegram")
        await cards.refresh_card(session, ticket, policy)
    # a manager who once wrote to the bot has a customer row, so their 403 comes here: the staff hear of it too
    await manager_unreachable(session, row, policy)
