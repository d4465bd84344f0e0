"""A new incident placed among the open ones (helpdesk.outages.placement.place_report): linked to the
major incident it belongs to, or, when MAJOR_INCIDENT_THRESHOLD similar unlinked incidents arrived within
MAJOR_INCIDENT_WINDOW, proposed to the staff as one (proposals.py).

One proposal per outage: a further similar report joins the proposal that stands (its message is edited
to list it) instead of making another; the incidents of a proposal marked "Not related" are not proposed
again; a customer who said "No, it's something else" to a known outage at intake is not linked to it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import outbox
from helpdesk.i18n import t
from helpdesk.major_incidents import linking, proposals
from helpdesk.outages.placement import OpenIncident, Placement, place_report
from helpdesk.outages.profile import cached_profile
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import State, TicketType
from storage import major_incidents, repos
from storage.major_incidents import ReportRow
from storage.models import Ticket


def _incident(row: ReportRow) -> OpenIncident:
    group = row.id if row.is_major else row.parent_id
    return OpenIncident(row.id, cached_profile(row.description, row.service_key, row.category), row.created_at, group)


async def place(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> Placement | None:
    """Where grouping puts the ticket among the open incidents (None: nothing to compare it with)."""
    rows = await major_incidents.reports_for_grouping(
        session, ticket.created_at - policy.major_incident_window, exclude=ticket.id
    )
    if not rows:
        return None
    report = cached_profile(ticket.description, ticket.service_key, ticket.category)
    return place_report(report, [_incident(row) for row in rows])


async def on_registered(
    session: AsyncSession, ticket: Ticket, policy: DeskPolicy, *, declined: Collection[str] = ()
) -> None:
    """After an incident is registered: link it to its major incident, or propose it with similar ones.
    `declined`: the known outages its customer said are something else ("major:<id>" refs)."""
    if ticket.ticket_type != TicketType.INCIDENT.value or ticket.parent_id is not None or ticket.is_major:
        return
    placement = await place(session, ticket, policy)
    if placement is None:
        return
    if placement.group is not None and f"major:{placement.group}" not in declined:
        parent = await repos.lock_ticket(session, int(placement.group))
        if parent is not None and State(parent.state).is_open:
            await linking.link(session, ticket, parent, None, policy, how=linking.AUTOMATIC, why=placement.explanation)
            _tell_staff_linked(session, ticket, parent, placement.explanation or "", policy)
            return
    companions = [int(c.key) for c in placement.companions]
    if companions:
        await proposals.consider(session, ticket, companions, placement.explanation or "", policy, ticket.created_at)


def _tell_staff_linked(session: AsyncSession, ticket: Ticket, parent: Ticket, why: str, policy: DeskPolicy) -> None:
    """Under the major incident's card: which report joined it, and why."""
    if parent.staff_chat_id is None:
        return
    text = t(policy.default_language, "major.staff.auto_linked", number=ticket.number, parent=parent.number, why=why)
    outbox.send_text(session, parent.staff_chat_id, text, ticket_id=parent.id, reply_to_card=True)
