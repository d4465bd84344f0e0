"""What agents do to tickets: take, assign, reply, ask, change state, resolve, close, reopen, retype, priority.

Domain only (no Telegram): each action runs in the caller's transaction on a ticket the caller locked
(`tickets.find_by_number(..., lock=True)`, `repos.lock_ticket`), changes state only through
`lifecycle.apply_transition`, records an event for every change, refreshes the staff card and tells the
customer through `customer_notices`. A refusal raises `Refusal` (a text key and values for the agent); a
success returns a `Notice` for the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import cards, causes, customer_notices, due_times, tickets
from helpdesk.clock import now_utc
from helpdesk.content import Content
from helpdesk.formatting import when
from helpdesk.i18n import Safe, Term, t
from helpdesk.lifecycle import ALLOWED, Refused, TransitionError, apply_transition, check_transition
from helpdesk.people import Actor
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Cause, Priority, State, TicketType
from storage.models import LabelledExample, Ticket, TicketEvent

REPORT_MIN_CHARS = 10


@dataclass(frozen=True)
class Notice:
    """What to tell the agent after an action: a text key of agents.toml and its values."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return t(lang, self.key, **_localised(self.values, lang))


class Refusal(Exception):
    """An action the rules refuse; `text(lang)` is the reason for the agent."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def text(self, lang: str) -> str:
        return t(lang, self.key, **_localised(self.values, lang))


def _localised(values: dict[str, Any], lang: str) -> dict[str, Any]:
    """Values that depend on the reader's language are given as functions of it."""
    return {name: value(lang) if callable(value) else value for name, value in values.items()}


def state_word(state: str) -> Term:
    """A ticket's state as agents read it, named in their language (`t` looks it up)."""
    return Term("agents.state", str(state))


def _state_choices(states: frozenset[State]) -> Callable[[str], str]:
    """The states a ticket can go to, named for the agent, each with the word /status takes."""
    codes = [s.value for s in State if s in states]  # in the lifecycle's order
    return lambda lang: ", ".join(f"{t(lang, f'agents.state.{code}')} ({code})" for code in codes) or "—"


# -- shared steps ----------------------------------------------------------------------------------------


#: the agent's text for each reason the lifecycle refuses a change (`lifecycle.Refused`)
TRANSITION_TEXTS = {
    Refused.SAME: "agents.transition.same",
    Refused.CLOSE_UNRESOLVED: "agents.transition.close_unresolved",
    Refused.NOT_ALLOWED: "agents.transition.not_allowed",
    Refused.NEEDS_REPORT: "agents.transition.needs_report",
}


def transition_refusal(ticket: Ticket, exc: TransitionError) -> Refusal:
    """The lifecycle's refusal, for the reason it gives, in the agent's language."""
    return Refusal(
        TRANSITION_TEXTS[exc.why],
        number=ticket.number,
        state=state_word(exc.current),
        from_state=state_word(exc.current),
        to_state=state_word(exc.target),
        allowed=_state_choices(ALLOWED[exc.current]),
    )


async def _transition(
    session: AsyncSession,
    ticket: Ticket,
    target: State,
    actor: Actor,
    policy: DeskPolicy,
    now: datetime,
    *,
    note: str | None = None,
    has_report: bool = False,
) -> TicketEvent:
    """`lifecycle.apply_transition` by an agent, a refusal worded for them."""
    try:
        return await apply_transition(
            session,
            ticket,
            target,
            policy,
            now,
            actor_kind="agent",
            actor_id=actor.user_id,
            actor_name=actor.name,
            note=note,
            has_report=has_report,
        )
    except TransitionError as exc:
        raise transition_refusal(ticket, exc) from None


def require_open(ticket: Ticket, key: str = "agents.error.not_open") -> None:
    """Only an open ticket can take the action; `key`: the refusal that says which action (and /reopen)."""
    if not State(ticket.state).is_open:
        raise Refusal(key, number=ticket.number, state=state_word(ticket.state))


def require_writable(ticket: Ticket) -> None:
    """Agents may still write to the customer of a resolved ticket or correct its triage, not of a closed or
    cancelled one (its record is final until it is reopened)."""
    if ticket.state in (State.CLOSED.value, State.CANCELLED.value):
        raise Refusal("agents.error.not_open", number=ticket.number, state=state_word(ticket.state))


def _responded(ticket: Ticket, now: datetime) -> None:
    due_times.on_first_response(ticket, now)
    ticket.updated_at = now


# -- assignment ------------------------------------------------------------------------------------------


async def take(session: AsyncSession, ticket: Ticket, actor: Actor, policy: DeskPolicy) -> Notice:
    """The caller takes the ticket (the Take button, /take N)."""
    return await assign(session, ticket, actor, actor, policy)


async def assign(session: AsyncSession, ticket: Ticket, actor: Actor, assignee: Actor, policy: DeskPolicy) -> Notice:
    """Assign to `assignee` (the caller, or another agent); a new ticket goes in progress."""
    require_open(ticket)
    yourself = assignee.user_id == actor.user_id
    if ticket.assignee_id == assignee.user_id:
        key = "agents.done.already_yours" if yourself else "agents.done.already_assigned"
        return Notice(key, {"number": ticket.number, "agent": assignee.name})
    now = now_utc()
    previous = ticket.assignee_name if ticket.assignee_id else None
    ticket.assignee_id = assignee.user_id
    ticket.assignee_name = assignee.name
    tickets.record_event(
        session,
        ticket,
        "assign",
        actor_kind="agent",
        actor_id=actor.user_id,
        actor_name=assignee.name,  # views show "assigned to {actor_name}"
        data={
            "assignee_id": assignee.user_id,
            "assignee_name": assignee.name,
            "by_id": actor.user_id,
            "by": actor.name,
        },
        at=now,
    )
    _responded(ticket, now)
    if ticket.state == State.NEW.value:
        await _transition(session, ticket, State.IN_PROGRESS, actor, policy, now)
    else:
        due_times.on_public_update(ticket, policy, now)
    session.add(ticket)
    await customer_notices.assigned(session, ticket, assignee.name, policy)
    await cards.refresh_card(session, ticket, policy)
    if yourself:
        if previous:
            return Notice("agents.done.taken_over", {"number": ticket.number, "previous": previous})
        return Notice("agents.done.taken", {"number": ticket.number})
    return Notice("agents.done.assigned", {"number": ticket.number, "agent": assignee.name})


# -- talking to the customer -----------------------------------------------------------------------------


async def _write_to_customer(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    content: customer_notices.Words,
    policy: DeskPolicy,
    *,
    kind: str,
    header_key: str | None,
    empty_key: str,
    answer_button: bool = False,
) -> datetime:
    """The agent's words or file for the customer, headed with the ticket number, recorded on the ticket
    as `kind` (the words its own customer got); a first response. Returns the moment."""
    customer, lang = await customer_notices.recipient(session, ticket, policy)
    own = customer_notices.words_for(content, customer_notices.Recipient(ticket, customer, lang, ticket.number))
    if own.is_empty:
        raise Refusal(empty_key, number=ticket.number)
    if customer is None:
        raise Refusal("agents.error.no_customer", number=ticket.number)
    now = now_utc()
    buttons = customer_notices.answer_button if answer_button else None
    await customer_notices.relay_to_audience(session, ticket, content, header_key, policy, buttons=buttons)
    await tickets.record_content(
        session, ticket, kind, own, now, actor_kind="agent", actor_id=actor.user_id, actor_name=actor.name
    )
    _responded(ticket, now)
    return now


async def reply(
    session: AsyncSession, ticket: Ticket, actor: Actor, content: customer_notices.Words, policy: DeskPolicy
) -> Notice | None:
    """Send the agent's text or file (or words made for each reader) to the customer, headed with the
    ticket number; the later parts of an album follow its first part unheaded, and need no notice (None)."""
    require_writable(ticket)
    later = not callable(content) and await tickets.continues_album(session, ticket, "reply", content)
    now = await _write_to_customer(
        session, ticket, actor, content, policy,
        kind="reply", header_key=None if later else "agents.customer.reply", empty_key="agents.error.empty_reply",
    )  # fmt: skip
    if later:
        return None
    if ticket.state == State.NEW.value:
        await _transition(session, ticket, State.IN_PROGRESS, actor, policy, now)
        await cards.refresh_card(session, ticket, policy)
    else:
        due_times.on_public_update(ticket, policy, now)
    session.add(ticket)
    return Notice("agents.done.replied", {"number": ticket.number})


async def ask(session: AsyncSession, ticket: Ticket, actor: Actor, content: Content, policy: DeskPolicy) -> Notice:
    """Ask the customer for information: the question with a Reply button; the ticket waits for them."""
    require_open(ticket)
    now = await _write_to_customer(
        session, ticket, actor, content, policy,
        kind="question", header_key="agents.customer.question", empty_key="agents.error.empty_question",
        answer_button=True,
    )  # fmt: skip
    if ticket.state == State.WAITING_CUSTOMER.value:
        due_times.on_public_update(ticket, policy, now)
        due_times.on_waiting_customer(ticket, policy, now)  # a new question restarts the reminders
    else:
        await _transition(session, ticket, State.WAITING_CUSTOMER, actor, policy, now)
    session.add(ticket)
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.asked", {"number": ticket.number})


# -- state -----------------------------------------------------------------------------------------------


async def change_state(
    session: AsyncSession, ticket: Ticket, actor: Actor, target: State, policy: DeskPolicy, note: str | None = None
) -> Notice:
    """`/status N STATE`: any transition the lifecycle allows (resolving needs /resolve with a report)."""
    current = State(ticket.state)
    if target == State.RESOLVED and note and len(note.strip()) >= REPORT_MIN_CHARS:
        return await resolve(session, ticket, actor, note, policy)
    if target == State.CLOSED and current == State.RESOLVED:
        return await close(session, ticket, actor, policy)
    if target == State.IN_PROGRESS and not current.is_open:
        return await reopen(session, ticket, actor, policy, note)
    now = now_utc()
    await _transition(session, ticket, target, actor, policy, now, note=note)
    _responded(ticket, now)
    await customer_notices.state_changed(session, ticket, target, policy)
    await cards.refresh_card(session, ticket, policy)
    states = {"from_state": state_word(current), "to_state": state_word(target)}
    return Notice("agents.done.state", {"number": ticket.number, **states})


class CauseNeeded(Refusal):
    """An incident's closing report without a known cause first: the causes are listed, and `report` is
    kept so the cause can be given by a button (`keep_report`, `resolve_kept`)."""

    def __init__(self, ticket: Ticket, report: str) -> None:
        first = report.split()[0] if report.split() else ""
        super().__init__("causes.needed", number=ticket.number, word=first[:40], causes=Safe(causes.listing("en")))
        self.report = report

    def text(self, lang: str) -> str:
        return t(lang, self.key, **{**self.values, "causes": Safe(causes.listing(lang))})


async def resolve(
    session: AsyncSession, ticket: Ticket, actor: Actor, report: str, policy: DeskPolicy, cause: Cause | None = None
) -> Notice:
    """Resolve with a closing report; the customer confirms the fix or says it is still a problem.

    An incident's report carries its cause (the practice's fixed list, for the recurring-problem report):
    `cause`, or the report's first words (`supplier …`, `сбой поставщика …`); without one, CauseNeeded."""
    report = (report or "").strip()
    if len(report) < REPORT_MIN_CHARS:
        raise Refusal("agents.error.report_needed", number=ticket.number)
    try:
        check_transition(State(ticket.state), State.RESOLVED, has_report=True)
    except TransitionError as exc:
        raise transition_refusal(ticket, exc) from None
    if cause is None and ticket.ticket_type == TicketType.INCIDENT.value:
        cause, actions = causes.split_cause(report)
        if cause is None:
            raise CauseNeeded(ticket, report)
        if len(actions) < REPORT_MIN_CHARS:
            raise Refusal("agents.error.report_needed", number=ticket.number)
        report = actions
    now = now_utc()
    ticket.resolution_report = report  # before the change: linked tickets are resolved with it
    ticket.cause = cause.value if cause else None
    await _transition(session, ticket, State.RESOLVED, actor, policy, now, note=report, has_report=True)
    _responded(ticket, now)
    session.add(ticket)
    await customer_notices.resolved(session, ticket, report, policy)
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.resolved", {"number": ticket.number})


async def close(session: AsyncSession, ticket: Ticket, actor: Actor, policy: DeskPolicy) -> Notice:
    now = now_utc()
    await _transition(session, ticket, State.CLOSED, actor, policy, now)
    await customer_notices.closed(session, ticket, policy)
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.closed", {"number": ticket.number})


async def reopen(
    session: AsyncSession, ticket: Ticket, actor: Actor, policy: DeskPolicy, note: str | None = None
) -> Notice:
    if State(ticket.state).is_open:
        raise Refusal("agents.error.already_open", number=ticket.number, state=state_word(ticket.state))
    now = now_utc()
    await _transition(session, ticket, State.IN_PROGRESS, actor, policy, now, note=note)
    await customer_notices.reopened(session, ticket, policy)
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.reopened", {"number": ticket.number, "state": state_word(State.IN_PROGRESS)})


# -- triage corrections ----------------------------------------------------------------------------------


async def _triage_corrected(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    policy: DeskPolicy,
    now: datetime,
    kind: str,
    *,
    note: str,
    data: dict[str, Any],
) -> None:
    """After an agent corrected the type, category or priority: SLA recomputed, the event, the corrected
    labels kept as a training example (`python -m bot export-labels`), the card refreshed."""
    ticket.updated_at = now
    due_times.on_priority_changed(ticket, policy, now)
    session.add(ticket)
    tickets.record_event(
        session, ticket, kind, actor_kind="agent", actor_id=actor.user_id, actor_name=actor.name, note=note, data=data,
        at=now,
    )  # fmt: skip
    session.add(
        LabelledExample(
            ticket_id=ticket.id,
            text=ticket.description,
            ticket_type=ticket.ticket_type,
            category=ticket.category,
            priority=ticket.priority,
            actor_id=actor.user_id,
            created_at=now,
        )
    )
    await cards.refresh_card(session, ticket, policy)


async def retype(session: AsyncSession, ticket: Ticket, actor: Actor, category: Category, policy: DeskPolicy) -> Notice:
    """Correct the category (which implies the type); the number never changes, SLA is recomputed. A closed
    or cancelled ticket is refused like every other change to it (its triage is history; reopen it first)."""
    require_writable(ticket)
    if ticket.category == category.value:
        return Notice(
            "agents.done.retype_same", {"number": ticket.number, "category": Term("category", category.value)}
        )
    now = now_utc()
    before = {"type": ticket.ticket_type, "category": ticket.category, "priority": ticket.priority}
    ticket.category = category.value
    ticket.ticket_type = category.ticket_type.value
    if category == Category.SECURITY and Priority(ticket.priority).rank > 2:
        ticket.priority = Priority.P2.value  # a security incident is never below P2
    await _triage_corrected(
        session,
        ticket,
        actor,
        policy,
        now,
        "retype",
        note=f"{before['category']} → {ticket.category}",
        data={
            "from": before,
            "to": {"type": ticket.ticket_type, "category": ticket.category, "priority": ticket.priority},
        },
    )
    return Notice(
        "agents.done.retyped",
        {
            "number": ticket.number,
            "from_category": Term("category", before["category"]),
            "to_category": Term("category", ticket.category),
            "type": Term("type", ticket.ticket_type),
            "priority": Term("priority", ticket.priority),
        },
    )


async def set_priority(
    session: AsyncSession, ticket: Ticket, actor: Actor, priority: Priority, policy: DeskPolicy
) -> Notice:
    """Correct the priority; SLA due times are recomputed from the ticket's creation. A closed or cancelled
    ticket is refused, as `retype` refuses it."""
    require_writable(ticket)
    if ticket.priority == priority.value:
        return Notice("agents.done.priority_same", {"number": ticket.number, "priority": priority.value})
    now = now_utc()
    before = ticket.priority
    ticket.priority = priority.value
    await _triage_corrected(
        session,
        ticket,
        actor,
        policy,
        now,
        "priority",
        note=f"{before} → {priority.value}",
        data={"from": before, "to": priority.value},
    )
    return Notice(
        "agents.done.priority",
        {
            "number": ticket.number,
            "from_priority": before,
            "to_priority": priority.value,
            "due": when(ticket.resolution_due),
        },
    )


# -- the cause of an incident, given by a button ------------------------------------------------------


async def keep_report(session: AsyncSession, ticket: Ticket, actor: Actor, report: str) -> int:
    """A closing report waiting for its cause (CauseNeeded), kept on the ticket's trail: the id the cause
    buttons name, so pressing one resolves with this very report."""
    event = tickets.record_event(
        session,
        ticket,
        "report_draft",
        actor_kind="agent",
        actor_id=actor.user_id,
        actor_name=actor.name,
        note=report,
    )
    await session.flush()
    return int(event.id)


async def resolve_kept(
    session: AsyncSession, ticket: Ticket, actor: Actor, draft_id: int, cause: Cause, policy: DeskPolicy
) -> Notice:
    """A cause button under a kept report: resolve with that report and this cause."""
    draft = await session.get(TicketEvent, draft_id)
    if draft is None or draft.ticket_id != ticket.id or draft.kind != "report_draft" or not draft.note:
        raise Refusal("causes.outdated", number=ticket.number)
    return await resolve(session, ticket, actor, draft.note, policy, cause)
