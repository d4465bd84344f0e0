"""Links between incidents: a major incident (the parent) and the incidents linked under it.

The rules, each refusal a clear answer that changes nothing: only incidents are linked or made major; a
ticket is never linked to itself, under a ticket that is not open, under a ticket that is itself linked
(one level: a major incident and its reports), or into a cycle (a major incident under one of its own
reports); a major incident with tickets linked under it is not linked elsewhere (unlink them first).
Linking a ticket that is linked elsewhere moves it.

A linked ticket follows its parent: it takes the parent's state now and at every later change
(helpdesk.lifecycle.apply_transition), its own clocks stand still (helpdesk.due_times.on_linked), and its
customer hears what is said on the parent (helpdesk.customer_notices.audience). Unlinked, it is on its
own again, its clocks running from where they stood, with a card of its own in the staff chat.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import cards, customer_notices, due_times, tickets
from helpdesk.agent_actions import Notice, Refusal, state_word
from helpdesk.clock import now_utc
from helpdesk.lifecycle import TransitionError, apply_transition, check_transition
from helpdesk.people import Actor
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import record_event
from helpdesk.vocabulary import State, TicketType
from storage import major_incidents, repos
from storage.models import Ticket

#: how a link came about (recorded on the ticket's trail)
BY_AGENT, BY_MERGE, AUTOMATIC, AT_INTAKE = "agent", "merge", "automatic", "intake"


def _who(actor: Actor | None) -> dict[str, object]:
    if actor is None:
        return {"actor_kind": "system"}
    return {"actor_kind": "agent", "actor_id": actor.user_id, "actor_name": actor.name}


def _require_open_incident(ticket: Ticket, not_incident: str) -> None:
    if ticket.ticket_type != TicketType.INCIDENT.value:
        raise Refusal(not_incident, number=ticket.number)
    if not State(ticket.state).is_open:
        raise Refusal("major.error.not_open", number=ticket.number, state=state_word(ticket.state))


def promote(session: AsyncSession, ticket: Ticket, actor: Actor | None, now: datetime) -> None:
    """Make the ticket a major incident (no new ticket: the same number, its history kept)."""
    if ticket.is_major:
        return
    ticket.is_major = True
    ticket.updated_at = now
    session.add(ticket)
    record_event(session, ticket, "major", at=now, **_who(actor))  # type: ignore[arg-type]


async def make_major(session: AsyncSession, ticket: Ticket, actor: Actor, policy: DeskPolicy) -> Notice:
    """`/major N`."""
    _require_open_incident(ticket, "major.error.major_not_incident")
    if ticket.parent_id is not None:
        parent = await repos.ticket_by_id(session, ticket.parent_id)
        raise Refusal("major.error.major_is_linked", number=ticket.number, parent=parent.number if parent else "?")
    if ticket.is_major:
        return Notice("major.done.already_major", {"number": ticket.number})
    promote(session, ticket, actor, now_utc())
    await cards.refresh_card(session, ticket, policy)
    return Notice("major.done.major", {"number": ticket.number})


async def check_link(session: AsyncSession, ticket: Ticket, parent: Ticket) -> None:
    """Refuse a link the rules forbid (see the module's docstring)."""
    if ticket.id == parent.id:
        raise Refusal("major.error.self", number=ticket.number)
    if parent.parent_id == ticket.id:
        raise Refusal("major.error.cycle", number=ticket.number, parent=parent.number)
    if parent.parent_id is not None:
        above = await repos.ticket_by_id(session, parent.parent_id)
        raise Refusal("major.error.parent_linked", parent=parent.number, above=above.number if above else "?")
    _require_open_incident(ticket, "major.error.not_incident")
    if parent.ticket_type != TicketType.INCIDENT.value:
        raise Refusal("major.error.not_incident", number=parent.number)
    if not State(parent.state).is_open:
        raise Refusal("major.error.parent_not_open", parent=parent.number, state=state_word(parent.state))
    if ticket.is_major:
        _numbers, count = await major_incidents.linked_numbers(session, ticket.id, 0)
        if count:
            raise Refusal("major.error.has_linked", number=ticket.number, count=count)


async def link(
    session: AsyncSession,
    ticket: Ticket,
    parent: Ticket,
    actor: Actor | None,
    policy: DeskPolicy,
    *,
    how: str = BY_AGENT,
    why: str | None = None,
    tell_customer: bool = True,
) -> Notice:
    """Link `ticket` under `parent` (made a major incident if it is not one yet); both locked by the caller,
    who took the links' turn first (`major_incidents.lock_links`, see `link_to`)."""
    await check_link(session, ticket, parent)
    if ticket.parent_id == parent.id:
        return Notice("major.done.already_linked", {"number": ticket.number, "parent": parent.number})
    now = now_utc()
    moved_from = await repos.ticket_by_id(session, ticket.parent_id) if ticket.parent_id else None
    promote(session, parent, actor, now)
    if ticket.is_major:  # a major incident with nothing linked under it becomes a report of another one
        ticket.is_major = False
    ticket.parent_id = parent.id
    ticket.linked_at = now
    session.add(ticket)
    data = {"parent": parent.number, "how": how, **({"why": why} if why else {})}
    record_event(session, ticket, "linked", note=parent.number, data=data, at=now, **_who(actor))  # type: ignore[arg-type]
    record_event(session, parent, "child_linked", note=ticket.number, data={"how": how}, at=now, **_who(actor))  # type: ignore[arg-type]
    await _follow(session, ticket, parent, policy, now)
    if tell_customer:
        await customer_notices.linked(session, ticket, parent, policy)
    await cards.refresh_card(session, ticket, policy)
    await cards.refresh_card(session, parent, policy)
    if moved_from is not None:
        await cards.refresh_card(session, moved_from, policy)
        return Notice(
            "major.done.moved", {"number": ticket.number, "parent": parent.number, "previous": moved_from.number}
        )
    return Notice("major.done.linked", {"number": ticket.number, "parent": parent.number})


async def link_to(
    session: AsyncSession, ticket: Ticket, parent_number: str, actor: Actor, policy: DeskPolicy
) -> Notice:
    """`/link N PARENT`: the links' turn, then PARENT found and locked, then `link`."""
    await major_incidents.lock_links(session)
    parent = await tickets.find_by_number(session, parent_number, lock=True)
    if parent is None:
        raise Refusal("agents.error.not_found", number=parent_number[:40])
    return await link(session, ticket, parent, actor, policy)


async def _follow(session: AsyncSession, ticket: Ticket, parent: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Take the parent's state where the rules allow (a new report of a parent in progress goes in
    progress; one further along than its parent stays), then keep the ticket's own clocks still."""
    target = State(parent.state)
    try:
        check_transition(State(ticket.state), target, has_report=False)
    except TransitionError:
        pass
    else:
        await apply_transition(session, ticket, target, policy, now, actor_kind="system", note=parent.number)
    due_times.on_linked(ticket, now)
    session.add(ticket)


async def unlink(
    session: AsyncSession, ticket: Ticket, actor: Actor | None, policy: DeskPolicy, *, tell_customer: bool = True
) -> Notice:
    """`/unlink N`: the ticket is on its own again (the customer is told; a card of its own if it had none)."""
    if ticket.parent_id is None:
        if ticket.is_major:
            _numbers, count = await major_incidents.linked_numbers(session, ticket.id, 0)
            raise Refusal("major.error.unlink_major", number=ticket.number, count=count)
        raise Refusal("major.error.not_linked", number=ticket.number)
    await major_incidents.lock_links(session)
    parent = await repos.lock_ticket(session, ticket.parent_id)
    now = now_utc()
    ticket.parent_id = None
    ticket.linked_at = None
    due_times.on_unlinked(ticket, policy, now)
    session.add(ticket)
    parent_number = parent.number if parent else "?"
    record_event(session, ticket, "unlinked", note=parent_number, at=now, **_who(actor))  # type: ignore[arg-type]
    if parent is not None:
        record_event(session, parent, "child_unlinked", note=ticket.number, at=now, **_who(actor))  # type: ignore[arg-type]
        if tell_customer:
            await customer_notices.unlinked(session, ticket, parent, policy)
        await cards.refresh_card(session, parent, policy)
    if ticket.staff_chat_id is None and cards.card_place(ticket, policy)[0] is not None:  # followed at intake
        customer = await repos.customer_by_id(session, ticket.customer_id)
        if customer is not None:
            await cards.post_new_card(session, ticket, customer, policy)
    else:
        await cards.refresh_card(session, ticket, policy)
    return Notice("major.done.unlinked", {"number": ticket.number, "parent": parent_number})
