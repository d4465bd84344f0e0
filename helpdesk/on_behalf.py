"""Tickets an agent opens on a customer's behalf: `/open CUSTOMER_ID text` (the customer phoned, or
wrote by e-mail, and has written to the bot before, so the bot can reach them).

The text is triaged as an intake description would be (type, category, priority, SLA), and registered
for the customer as every ticket is (`registration.register`: its card, the opening agent in its
history, major-incident detection), the customer told in their language, with the first-response promise.
A customer at MAX_OPEN_TICKETS_PER_CUSTOMER gets no further ticket this way either: the agent is told
which ones are open, to add to one of them instead.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import customer_limits, registration, tickets
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.i18n import Term
from helpdesk.people import Actor, customer_display_name, customer_language
from helpdesk.policy import DeskPolicy
from storage import repos
from storage.models import Ticket


async def open_for(
    session: AsyncSession, customer_ref: str, text: str, actor: Actor, triage: Any, policy: DeskPolicy
) -> tuple[Ticket, Notice]:
    """Register `text` as a ticket of the customer whose Telegram id is `customer_ref`; refusals name what
    is wrong and open nothing."""
    try:
        telegram_id = int(customer_ref)
    except ValueError:
        raise Refusal("replies.open.bad_id", customer_id=customer_ref[:40]) from None
    customer = await repos.customer_by_telegram_id(session, telegram_id)
    if customer is None:
        raise Refusal("replies.open.unknown_customer", customer_id=telegram_id)
    description = text.strip()
    if not description:
        raise Refusal("replies.open.usage")
    if len(description) > tickets.DESCRIPTION_MAX_CHARS:
        raise Refusal("replies.open.too_long", count=len(description), limit=tickets.DESCRIPTION_MAX_CHARS)
    at_cap = await customer_limits.open_numbers_at_cap(session, customer, policy)
    if at_cap is not None:  # the cap the customer's own requests meet (MAX_OPEN_TICKETS_PER_CUSTOMER)
        raise Refusal(
            "replies.open.cap",
            customer=customer_display_name(customer),
            limit=policy.max_open_tickets_per_customer,
            numbers=at_cap,
        )
    lang = customer_language(customer, policy.default_language)
    new = tickets.NewTicket(
        description=description,
        classification=tickets.Classification.of(triage.classify(description)),
        language=lang,
    )
    registered = await registration.register(
        session, customer, new, policy, text_key="replies.open.customer", opened_by=actor, tell=True
    )
    ticket = registered.ticket
    values = {
        "number": ticket.number,
        "customer": customer_display_name(customer),
        "type": Term("type", ticket.ticket_type),  # named in the agent's language
        "category": Term("category", ticket.category),
        "priority": Term("priority", ticket.priority),
    }
    return ticket, Notice("replies.open.opened" if registered.told else "replies.open.opened_untold", values)
