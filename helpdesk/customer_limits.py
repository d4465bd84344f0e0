"""How many tickets one customer may have open at once (MAX_OPEN_TICKETS_PER_CUSTOMER).

Checked before the intake form starts, so nobody fills in a form that cannot be registered, and again at
Confirm, for tickets opened meanwhile (another device, the known-outage offer), and when an agent opens a
ticket on a customer's behalf (`/open`). Agents are never limited as customers: they file requests for
others too.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.i18n import t
from helpdesk.policy import DeskPolicy
from storage import repos
from storage.models import Customer

#: numbers named in the refusal at most (a cap raised to hundreds must not make a message Telegram refuses)
NAMED_AT_MOST = 20


async def open_numbers_at_cap(session: AsyncSession, customer: Customer, policy: DeskPolicy) -> str | None:
    """The numbers of the customer's open tickets (`INC-000001, REQ-000002`) when they have reached the cap;
    None when they may have another opened."""
    limit = policy.max_open_tickets_per_customer
    if policy.is_agent(customer.telegram_id) or customer.id is None:
        return None
    open_ = await repos.tickets_of_customer(session, customer.id, open_only=True, limit=limit)
    if len(open_) < limit:
        return None
    numbers = ", ".join(ticket.number for ticket in open_[:NAMED_AT_MOST])
    return numbers + ", …" if len(open_) > NAMED_AT_MOST else numbers


async def open_ticket_refusal(session: AsyncSession, customer: Customer, policy: DeskPolicy, lang: str) -> str | None:
    """The refusal naming the customer's open tickets when they have reached the cap; None when they may
    open another."""
    numbers = await open_numbers_at_cap(session, customer, policy)
    if numbers is None:
        return None
    return t(lang, "intake.open_ticket_cap", limit=policy.max_open_tickets_per_customer, numbers=numbers)
