"""What a customer first writes vs the outages staff know of: open major incidents and declared outages
(helpdesk.outages.known decides whether a description is about one). Offered at intake before any form
question (dialogs/known_outage_offer.py): what is known (the number or the service, since when, its
state, the last update), and "Yes, keep me informed" / "No, it's something else".

Keeping a customer informed of a major incident registers their report for the record, linked under it
with no card of its own (it is counted, searchable, and its customer's replies reach the staff under
the major incident); there is nothing else for the desk to work. A declared outage has no ticket to link
to: the customer follows it (declared.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import tickets
from helpdesk.clock import now_utc
from helpdesk.formatting import shorten, when
from helpdesk.i18n import t
from helpdesk.major_incidents import linking
from helpdesk.outages.known import KnownOutage, UnknownService, declared_outage, major_incident_outage
from helpdesk.outages.known import match_known_outage as _match
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import NewTicket
from helpdesk.vocabulary import State
from storage import major_incidents, repos
from storage.models import Customer, DeclaredOutage, Ticket

MAJOR, DECLARED = "major", "declared"


@dataclass(frozen=True)
class Known:
    """A known outage and what a customer is told about it; `ref` is "major:<ticket id>" or "declared:<id>"."""

    outage: KnownOutage
    ticket: Ticket | None = None
    declared: DeclaredOutage | None = None
    last_reply: str | None = None

    @property
    def ref(self) -> str:
        return str(self.outage.key)


async def known_outages(session: AsyncSession) -> list[Known]:
    """Every open major incident (with its latest reports) and every declared outage that is on."""
    found: list[Known] = []
    if not await major_incidents.any_known_outage(session):
        return found
    for parent in await major_incidents.open_major_incidents(session):
        members = await major_incidents.member_reports(session, parent.id)
        reports = [(parent.description, parent.service_key, parent.category)]
        reports += [(m.description, m.service_key, m.category) for m in members]
        last_reply = await repos.last_event_note(session, parent.id, "reply")
        found.append(
            Known(major_incident_outage(f"{MAJOR}:{parent.id}", reports), ticket=parent, last_reply=last_reply)
        )
    for outage in await major_incidents.active_outages(session):
        try:
            known = declared_outage(f"{DECLARED}:{outage.id}", outage.service_word, outage.text)
        except UnknownService:  # a service the lexicon no longer knows
            continue
        found.append(Known(known, declared=outage))
    return found


def match(description: str, known: list[Known], declined: tuple[str, ...] | list[str] = ()) -> Known | None:
    """The known outage the description is about (the best when several), unless the customer already
    said it is something else."""
    candidates = [k for k in known if k.ref not in declined]
    found = _match(description, [k.outage for k in candidates])
    if found is None:
        return None
    return next(k for k in candidates if k.outage.key == found.outage.key)


def facts(known: Known) -> dict[str, str]:
    """What the customer is told about a known outage, as data (kept on their draft until they answer):
    the number or the service, since when, its state, the last update."""
    if known.ticket is not None:
        ticket = known.ticket
        return {
            "ref": known.ref,
            "number": ticket.number,
            "summary": shorten(ticket.description, 120),
            "since": (ticket.created_at).isoformat(),
            "state": ticket.state,
            "updated": (ticket.last_public_update_at or ticket.created_at).isoformat(),
            "last": shorten(known.last_reply, 300) if known.last_reply else "",
        }
    outage = known.declared
    assert outage is not None
    return {
        "ref": known.ref,
        "service": outage.service_word,
        "since": outage.declared_at.isoformat(),
        "updated": outage.updated_at.isoformat(),
        "text": shorten(outage.text, 300),
    }


def offer_text(known: dict[str, str], lang: str) -> str:
    """The offer, in the customer's language, from `facts`."""
    since = when(datetime.fromisoformat(known["since"]))
    updated = when(datetime.fromisoformat(known["updated"]))
    if "number" in known:
        last = t(lang, "major.offer.last_reply", text=known["last"]) if known.get("last") else ""
        state = t(lang, f"state.{known['state']}")
        return t(
            lang,
            "major.offer.major",
            number=known["number"],
            summary=known["summary"],
            since=since,
            state=state,
            updated=updated,
            last=last,
        )
    return t(lang, "major.offer.declared", service=known["service"], since=since, updated=updated, text=known["text"])


async def follow_major(
    session: AsyncSession, customer: Customer, parent_id: int, report: NewTicket, policy: DeskPolicy
) -> tuple[Ticket, Ticket] | None:
    """Keep the customer informed of the major incident: their report registered for the record and linked
    under it; (their ticket, the major incident). None when it is no longer open (the intake goes on)."""
    await major_incidents.lock_links(session)  # before the major incident's row: see lock_links
    parent = await repos.lock_ticket(session, parent_id)
    if parent is None or not parent.is_major or not State(parent.state).is_open:
        return None
    child = await tickets.register(session, customer, report, policy, post_card=False)
    await linking.link(session, child, parent, None, policy, how=linking.AT_INTAKE, tell_customer=False)
    return child, parent


async def follow_declared(
    session: AsyncSession, customer: Customer, outage_id: int, description: str
) -> DeclaredOutage | None:
    """The customer follows the declared outage (None when it ended meanwhile)."""
    outage = await major_incidents.outage_by_id(session, outage_id)
    if outage is None or outage.ended_at is not None:
        return None
    await major_incidents.add_follower(session, outage.id, customer.id, description, now_utc())
    return outage


def split_ref(ref: str) -> tuple[str, int | None]:
    kind, _, number = ref.partition(":")
    return kind, int(number) if number.isdigit() else None
