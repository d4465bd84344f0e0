"""Ticket lifecycle: which state changes are allowed, and the one procedure that makes a change.

Incident: new → in_progress (diagnosis, restoration) → resolved (customer verifies) → closed.
Service request: new → in_progress → resolved (fulfilled) → closed. Either may wait on the customer.

`apply_transition` is how every state change happens, whoever makes it (an agent's command, the
customer's "Yes, it's fixed", a sweep that auto-closes): the rule is checked, the clocks move
(`helpdesk.due_times.on_transition`) and the change is recorded as an event, the ticket's audit trail.
The tickets linked under a major incident follow it there, each with its own event, resolved with the
parent's closing report and cause, their own clocks kept still (`due_times.on_linked`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import due_times
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import record_event
from helpdesk.vocabulary import State
from storage import major_incidents
from storage.models import Ticket, TicketEvent

ALLOWED: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.IN_PROGRESS, State.WAITING_CUSTOMER, State.RESOLVED, State.CANCELLED}),
    State.IN_PROGRESS: frozenset({State.WAITING_CUSTOMER, State.RESOLVED, State.CANCELLED}),
    State.WAITING_CUSTOMER: frozenset({State.IN_PROGRESS, State.RESOLVED, State.CANCELLED}),
    State.RESOLVED: frozenset({State.CLOSED, State.IN_PROGRESS}),  # confirmed, or reopened
    State.CLOSED: frozenset({State.IN_PROGRESS}),  # reopened
    State.CANCELLED: frozenset({State.IN_PROGRESS}),  # reopened by an agent
}


class Refused(StrEnum):
    """Why `check_transition` refuses a change: the one account of the reasons (each has its text for the
    agent, `agent_actions.transition_refusal`)."""

    SAME = "same"  # the ticket is in that state already
    CLOSE_UNRESOLVED = "close_unresolved"  # closing: only a resolved ticket can be closed
    NOT_ALLOWED = "not_allowed"  # any other change `ALLOWED` does not list
    NEEDS_REPORT = "needs_report"  # resolving without a closing report


_REASONS = {
    Refused.SAME: "the ticket is already {current}",
    Refused.CLOSE_UNRESOLVED: "only a resolved ticket can be closed; this one is {current}",
    Refused.NOT_ALLOWED: "{current} → {target} is not allowed; from {current}: {allowed}",
    Refused.NEEDS_REPORT: "resolving needs a closing report: /resolve N what was wrong, what was done",
}


class TransitionError(ValueError):
    """A state change the rules forbid: `why` it is refused, `reason` the same in English (logs, tests)."""

    def __init__(self, current: State, target: State, why: Refused) -> None:
        self.current = current
        self.target = target
        self.why = why
        self.reason = _REASONS[why].format(current=current.value, target=target.value, allowed=self.allowed)
        super().__init__(self.reason)

    @property
    def allowed(self) -> str:
        """The states the ticket may go to from where it is, e.g. "cancelled, in_progress, resolved"."""
        return ", ".join(sorted(s.value for s in ALLOWED[self.current]))


def check_transition(current: State, target: State, *, has_report: bool = False) -> None:
    if current == target:
        raise TransitionError(current, target, Refused.SAME)
    if target not in ALLOWED[current]:  # only `resolved` may be closed: a refused close says so (a cancelled
        # ticket is over already: "resolve it first" would be advice it cannot follow)
        unresolved = target == State.CLOSED and current != State.CANCELLED
        raise TransitionError(current, target, Refused.CLOSE_UNRESOLVED if unresolved else Refused.NOT_ALLOWED)
    if target == State.RESOLVED and not has_report:
        raise TransitionError(current, target, Refused.NEEDS_REPORT)


async def apply_transition(
    session: AsyncSession,
    ticket: Ticket,
    target: State,
    policy: DeskPolicy,
    now: datetime,
    *,
    actor_kind: str,
    actor_id: int | None = None,
    actor_name: str | None = None,
    note: str | None = None,
    has_report: bool = False,
) -> TicketEvent:
    """Move the ticket to `target` if the rules allow it (else TransitionError): state, clocks, event; a
    major incident's linked tickets follow (those the rules let: a linked ticket its customer already
    closed is not resolved again).

    `actor_kind` is who made the change: "agent", "customer" or "system" (a sweep).
    """
    actor = {"actor_kind": actor_kind, "actor_id": actor_id, "actor_name": actor_name}
    event = _change(session, ticket, target, policy, now, note=note, has_report=has_report, **actor)
    if ticket.is_major:
        for linked in await major_incidents.linked_tickets(session, ticket.id, lock=True):
            try:
                check_transition(State(linked.state), target, has_report=True)
            except TransitionError:
                continue
            if target == State.RESOLVED:
                linked.resolution_report = ticket.resolution_report or note
                linked.cause = ticket.cause
            _change(session, linked, target, policy, now, note=note, has_report=True, parent=ticket.number, **actor)
            due_times.on_linked(linked, now)
    return event


def _change(
    session: AsyncSession,
    ticket: Ticket,
    target: State,
    policy: DeskPolicy,
    now: datetime,
    *,
    actor_kind: str,
    actor_id: int | None,
    actor_name: str | None,
    note: str | None,
    has_report: bool,
    parent: str | None = None,
) -> TicketEvent:
    current = State(ticket.state)
    check_transition(current, target, has_report=has_report)
    ticket.state = target.value
    due_times.on_transition(ticket, current, target, policy, now)
    session.add(ticket)
    return record_event(
        session,
        ticket,
        "state",
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_name=actor_name,
        from_state=current.value,
        to_state=target.value,
        note=note,
        data={"with": parent} if parent else None,
        at=now,
    )
