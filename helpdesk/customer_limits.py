"""How many tickets one customer may have open at once (MAX_OPEN_TICKETS_PER_CUSTOMER).

Checked before the intake form starts, so nobody fills in a form that cannot be registered, and again at
Confirm, for tickets opened meanwhile (another device, the known-outage offer). Agents are never limited:
they file requests for others too.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.i18n import t
from helpdesk.policy import DeskPolicy
from storage import repos
from storage.models import Customer

#: numbers named in the refusal at most (a cap raised to hundreds must not make a message Telegram refuses)
NAMED_AT_MOST = 20


async def open_ticket_refusal(session: AsyncSession, customer: Customer, policy: DeskPolicy, lang: str) -> str | None:
    """The refusal naming the customer's open tickets when they have reached the cap; None when they may
    open another."""
    limit = policy.max_open_tickets_per_customer
    if policy.is_agent(customer.telegram_id) or customer.id is None:
        return None
    open_ = await repos.tickets_of_customer(session, customer.id, open_only=True, limit=limit)
    if len(open_) < limit:
        return None
    numbers = ", ".join(ticket.number for ticket in open_[:NAMED_AT_MOST])
    if len(open_) > NAMED_AT_MOST:
        numbers += ", …"
    return t(lang, "intake.open_ticket_cap", limit=limit, numbers=numbers)
