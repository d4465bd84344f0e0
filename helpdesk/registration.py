"""Registering a ticket for a customer, whoever does it: the intake's Confirm (dialogs/intake_service.py),
the known-outage offer when its outage has just ended (dialogs/known_outage_offer.py), an agent's
`/open` (helpdesk/on_behalf.py). One procedure for all three, so none can skip a step: the ticket with its
card (`tickets.register`), the opening agent in its history, major-incident detection (`declined`: the
known outages the customer said theirs is not), and what the customer reads about it. The callers differ
only in the parameters: the text, and whether it is sent from here (`/open`: the agent's chat is not the
customer's) or answered by the dialog in the customer's chat.

A report that follows an open major incident (`known_outages.follow_major`) is registered apart, on
purpose: it has no card, it is linked under the major incident in the same step (so detection, which
would place it elsewhere or propose it with others, has nothing to do), and the customer's note names both
tickets. Its ending-meanwhile case comes back here (`text_key="major.offer.gone"`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import customer_notices, promise, tickets
from helpdesk.i18n import t
from helpdesk.major_incidents import detection
from helpdesk.people import Actor
from helpdesk.policy import DeskPolicy
from storage.models import Customer, Ticket


@dataclass(frozen=True)
class Registered:
    ticket: Ticket
    #: what the customer reads about it, in the ticket's language
    text: str
    #: `tell`: the text is queued for the customer (False: there was nobody to tell)
    told: bool = False


async def register(
    session: AsyncSession,
    customer: Customer,
    new: tickets.NewTicket,
    policy: DeskPolicy,
    *,
    text_key: str,
    declined: Collection[str] = (),
    opened_by: Actor | None = None,
    tell: bool = False,
) -> Registered:
    """Register `new` for `customer`, place it among major incidents, and word `text_key` for the customer
    (values: number, type, category, priority, response — the first-response promise —, description);
    `opened_by`: the agent who opened it for them; `tell`: send the text to the customer from here."""
    ticket = await tickets.register(session, customer, new, policy)
    if opened_by is not None:
        tickets.record_event(
            session,
            ticket,
            "opened_by_agent",
            actor_kind="agent",
            actor_id=opened_by.user_id,
            actor_name=opened_by.name,
        )
    await detection.on_registered(session, ticket, policy, declined=declined)
    lang = new.language
    text = t(
        lang,
        text_key,
        number=ticket.number,
        type=t(lang, f"type.{ticket.ticket_type}"),
        category=t(lang, f"category.{ticket.category}"),
        priority=t(lang, f"priority.{ticket.priority}"),
        response=promise.first_response(ticket, policy, lang),
        description=new.description,
    )
    told = customer_notices.tell(session, ticket, customer, text) if tell else False
    return Registered(ticket, text, told)
