"""Known outages offered before the form (an offer provider, dialogs/offers.py): "this problem is already
known — shall I keep you informed?", with the number or the service, since when, its state and the last
update (helpdesk.major_incidents.known_outages).

"Yes, keep me informed" ends the intake: for a major incident the customer's report is registered for
the record, linked under it (no card, nothing more to work); for a declared outage they follow it. Either
way they hear every update. Should the outage have ended between the offer and the press, their report is
registered as an ordinary ticket instead, so nothing they wrote is lost. "No, it's something else" goes on
with the form, and the ticket it registers is not linked to that outage (dialogs/offers.py keeps the no).
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.form_data import Choice
from dialogs.offers import Decision, OfferEvent, OfferRequest, OfferView, Settlement, Verdict
from helpdesk import registration
from helpdesk.i18n import t
from helpdesk.major_incidents import known_outages as known
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import Classification, NewTicket
from helpdesk.vocabulary import TicketType
from storage.models import Customer

KEEP_INFORMED = "keep_informed"
SOMETHING_ELSE = "something_else"


class KnownOutageOffers:
    """The open major incidents and declared outages a first description is about."""

    name = "known_outage"

    def __init__(self, triage: Any, policy: DeskPolicy) -> None:
        self.triage = triage
        self.policy = policy

    async def prepare(self, session: AsyncSession) -> Any:
        return await known.known_outages(session)

    def propose(self, request: OfferRequest) -> dict[str, Any] | None:
        found = known.match(request.description, request.context or [])
        return known.facts(found) if found is not None else None

    def view(self, state: dict[str, Any], lang: str) -> OfferView | None:
        if "ref" not in state:
            return None
        choices = (
            (Choice(KEEP_INFORMED, t(lang, "major.offer.yes")),),
            (Choice(SOMETHING_ELSE, t(lang, "major.offer.no")),),
        )
        return OfferView(known.offer_text(state, lang), choices)

    def choose(self, state: dict[str, Any], value: str, lang: str) -> Decision:
        if value == KEEP_INFORMED:
            return Decision(Verdict.ACCEPTED, event=KEEP_INFORMED)
        if value == SOMETHING_ELSE:
            return Decision(Verdict.DECLINED)
        return Decision(Verdict.INVALID)

    async def record(self, session: AsyncSession, customer: Customer, event: OfferEvent) -> Settlement | None:
        if event.kind != KEEP_INFORMED:
            return None
        lang, description = event.lang, str(event.answers.get("description") or "")
        kind, ident = known.split_ref(str(event.state.get("ref", "")))
        if kind == known.MAJOR and ident is not None:
            followed = await known.follow_major(session, customer, ident, self._report(event), self.policy)
            if followed is not None:
                child, parent = followed
                return Settlement(
                    [t(lang, "major.offer.following_major", parent=parent.number, own=child.number)], child
                )
        elif kind == known.DECLARED and ident is not None:
            outage = await known.follow_declared(session, customer, ident, description)
            if outage is not None:
                return Settlement([t(lang, "major.offer.following_declared", service=outage.service_word)])
        registered = await registration.register(
            session, customer, self._report(event), self.policy, text_key="major.offer.gone"
        )
        return Settlement([registered.text], registered.ticket)

    def _report(self, event: OfferEvent) -> NewTicket:
        """The customer's first description as an incident report (no form answered: the triage decides)."""
        description = str(event.answers.get("description") or "")
        result = self.triage.classify(description, ticket_type=TicketType.INCIDENT)
        return NewTicket(
            description, Classification.of(result), attachments=list(event.attachments), language=event.lang
        )
