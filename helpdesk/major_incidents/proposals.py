"""The staff's proposal to merge similar incidents into one major incident, and what "Merge into a major
incident" and "Not related" do.

One message in the staff chat per outage, edited as further similar reports join it; each decision is
kept on the proposal (`major_proposals`), so a second press, by anyone, gets a clear answer and changes
nothing, and incidents marked "Not related" are not proposed again. Merging makes the earliest incident
the major incident (no new ticket) and links the others under it (linking.py) — or, when one of them is
already a major incident or linked under one, merges into that one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import callbacks, outbox
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.clock import now_utc
from helpdesk.formatting import human_duration, shorten, when
from helpdesk.i18n import Safe, t
from helpdesk.major_incidents import linking
from helpdesk.people import Actor
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import State, TicketType
from storage import major_incidents, repos
from storage.models import MajorProposal, Ticket

MERGE, NOT_RELATED = "m", "n"
#: reports listed in the message (all of them are merged)
SHOWN = 15


def message_key(proposal: MajorProposal) -> str:
    """The dedupe key of the proposal's message in the outbox (found again to edit it)."""
    return f"major-proposal:{proposal.id}"


@dataclass(frozen=True)
class Decision:
    """What a press came to: the answer for the agent, and the proposal's message as it reads now."""

    notice: Notice
    text: str


async def consider(
    session: AsyncSession, ticket: Ticket, companions: list[int], why: str, policy: DeskPolicy, now: datetime
) -> None:
    """`ticket` is the same outage as the unlinked incidents `companions`: join the proposal that stands
    for them, or propose them all once they reach MAJOR_INCIDENT_THRESHOLD."""
    await major_incidents.take_detector_turn(session)  # one process at a time decides what is proposed
    since = now - 2 * policy.major_incident_window  # a proposal lists reports of up to one window before it
    rejected = {i for p in await major_incidents.proposals_since(session, "rejected", since) for i in p.ticket_ids}
    candidates = [i for i in companions if i not in rejected]
    for standing in await major_incidents.proposals_since(session, "pending", since):
        if ticket.id in standing.ticket_ids:
            return
        if set(candidates) & set(standing.ticket_ids):
            standing.ticket_ids = [*standing.ticket_ids, ticket.id]
            session.add(standing)
            await _show(session, standing, policy, edit=True)
            return
    if len(candidates) + 1 < policy.major_incident_threshold:
        return
    found = await major_incidents.tickets_by_ids(session, candidates)
    ordered = [t.id for t in sorted(found, key=lambda t: t.seq)]
    proposal = await major_incidents.add_proposal(
        session, MajorProposal(created_at=now, ticket_ids=[*ordered, ticket.id], explanation=why)
    )
    await _show(session, proposal, policy, edit=False)


# -- the message ------------------------------------------------------------------------------------------


def proposal_buttons(proposal: MajorProposal, lang: str) -> outbox.Buttons:
    return [
        [(t(lang, "major.proposal.merge"), callbacks.make(callbacks.MAJOR, MERGE, proposal.id))],
        [(t(lang, "major.proposal.not_related"), callbacks.make(callbacks.MAJOR, NOT_RELATED, proposal.id))],
    ]


async def proposal_text(session: AsyncSession, proposal: MajorProposal, policy: DeskPolicy) -> str:
    lang = policy.default_language
    found = await major_incidents.tickets_by_ids(session, proposal.ticket_ids[:SHOWN])
    lines = []
    for ticket in found:
        customer = await repos.customer_by_id(session, ticket.customer_id)
        who = customer.first_name if customer is not None else "—"
        lines.append(
            t(
                lang,
                "major.proposal.line",
                number=ticket.number,
                at=when(ticket.created_at),
                who=who,
                text=shorten(ticket.description, 120),
            )
        )
    if len(proposal.ticket_ids) > SHOWN:
        lines.append(t(lang, "major.proposal.more", count=len(proposal.ticket_ids) - SHOWN))
    numbers = ", ".join(t.number for t in found)
    return t(
        lang,
        "major.proposal.text",
        similar=t(lang, "major.proposal.similar", count=len(proposal.ticket_ids)),
        window=human_duration(lang, policy.major_incident_window),
        lines=Safe("\n".join(lines)),
        numbers=numbers,
        why=proposal.explanation or "—",
        first=found[0].number if found else "—",
    )


async def _show(session: AsyncSession, proposal: MajorProposal, policy: DeskPolicy, *, edit: bool) -> None:
    """Post the proposal to the staff chat, or bring its message up to date."""
    if policy.staff_chat_id is None:
        return
    text = await proposal_text(session, proposal, policy)
    buttons = proposal_buttons(proposal, policy.default_language)
    if not edit:
        outbox.send_text(session, policy.staff_chat_id, text, buttons=buttons, dedupe_key=message_key(proposal))
        return
    changes = {"text": text, "reply_markup": outbox.inline_keyboard(buttons)}
    row = await major_incidents.rewrite_unsent(session, message_key(proposal), changes)
    if row is not None and row.status == "sent" and row.result_message_id is not None:
        outbox.edit_text(session, row.chat_id, row.result_message_id, text, buttons=buttons)


# -- the staff's decision ---------------------------------------------------------------------------------


async def _decidable(session: AsyncSession, proposal_id: int) -> MajorProposal:
    """The pending proposal, locked. Who may decide is not checked here: the dispatch admits only agents to
    the proposal's buttons (bot/handlers/audience.py), as for every agent action."""
    await major_incidents.lock_links(session)  # before the incidents' rows: see lock_links
    proposal = await major_incidents.proposal(session, proposal_id, lock=True)
    if proposal is None:
        raise Refusal("major.proposal.unknown")
    if proposal.status != "pending":
        parent = await repos.ticket_by_id(session, proposal.parent_id) if proposal.parent_id else None
        raise Refusal(
            f"major.proposal.already_{proposal.status}",
            by=proposal.decided_by_name or "—",
            at=when(proposal.decided_at),
            parent=parent.number if parent else "—",
        )
    return proposal


def _decided(proposal: MajorProposal, status: str, actor: Actor, parent: Ticket | None = None) -> None:
    proposal.status = status
    proposal.decided_at = now_utc()
    proposal.decided_by_id = actor.user_id
    proposal.decided_by_name = actor.name
    proposal.parent_id = parent.id if parent is not None else None


async def _chosen_parent(session: AsyncSession, usable: list[Ticket]) -> Ticket:
    """The major incident the proposal merges into: one it already has (or one of them is linked under),
    else the earliest of them."""
    for ticket in usable:
        if ticket.parent_id is not None:
            above = await repos.lock_ticket(session, ticket.parent_id)
            if above is not None and State(above.state).is_open:
                return above
    majors = [ticket for ticket in usable if ticket.is_major]
    return majors[0] if majors else min(usable, key=lambda ticket: ticket.seq)


async def merge(session: AsyncSession, proposal_id: int, actor: Actor, policy: DeskPolicy) -> Decision:
    """ "Merge into a major incident"."""
    proposal = await _decidable(session, proposal_id)
    found = await major_incidents.tickets_by_ids(session, proposal.ticket_ids, lock=True)
    usable = [t for t in found if t.ticket_type == TicketType.INCIDENT.value and State(t.state).is_open]
    if len(usable) < 2:
        raise Refusal("major.proposal.nothing_left")
    parent = await _chosen_parent(session, usable)
    linking.promote(session, parent, actor, now_utc())
    linked = 0
    for ticket in usable:
        if ticket.id == parent.id or ticket.parent_id == parent.id:
            continue
        try:
            await linking.link(session, ticket, parent, actor, policy, how=linking.BY_MERGE)
        except Refusal:  # e.g. a major incident of its own with reports under it: left as it is
            continue
        linked += 1
    _decided(proposal, "merged", actor, parent)
    session.add(proposal)
    notice = Notice("major.proposal.merged", {"parent": parent.number, "count": linked})
    return Decision(notice, await _decided_text(session, proposal, policy, notice))


async def reject(session: AsyncSession, proposal_id: int, actor: Actor, policy: DeskPolicy) -> Decision:
    """ "Not related": nothing is linked, and these incidents are not proposed again."""
    proposal = await _decidable(session, proposal_id)
    _decided(proposal, "rejected", actor)
    session.add(proposal)
    notice = Notice("major.proposal.rejected", {"by": actor.name})
    return Decision(notice, await _decided_text(session, proposal, policy, notice))


async def _decided_text(session: AsyncSession, proposal: MajorProposal, policy: DeskPolicy, notice: Notice) -> str:
    lang = policy.default_language
    outcome = t(lang, f"major.proposal.outcome_{proposal.status}", by=proposal.decided_by_name or "—")
    if proposal.status == "merged":
        outcome = notice.text(lang) + " " + outcome
    return await proposal_text(session, proposal, policy) + "\n\n" + outcome
