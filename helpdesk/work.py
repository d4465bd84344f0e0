"""Agent operations on tickets: take, assign, reply, ask, change state, resolve, close, reopen, retype, priority.

Domain only (no Telegram): each operation runs in the caller's transaction, checks the lifecycle rules,
records an event for every change, moves the clocks (`helpdesk.followups`), refreshes the staff card and
queues what the customer must be told in the outbox, in the customer's language. A refusal raises
`WorkError` (a text key and values for the agent); a success returns a `Notice` for the agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import callbacks, cards, followups, outbox, tickets
from helpdesk.clock import now_utc
from helpdesk.formatting import human_duration, shorten, when
from helpdesk.i18n import Safe, escape, t
from helpdesk.lifecycle import ALLOWED, TransitionError, check_transition
from helpdesk.people import customer_language
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Priority, State
from storage import repos
from storage.models import Customer, LabelledExample, Ticket, TicketEvent

REPORT_MIN_CHARS = 10
TEXT_LIMIT = 3500  # what an agent may send in one message (Telegram's 4096 minus our header)

_STATE_ALIASES = {
    "waiting": State.WAITING_CUSTOMER,
    "wait": State.WAITING_CUSTOMER,
    "progress": State.IN_PROGRESS,
    "inprogress": State.IN_PROGRESS,
    "work": State.IN_PROGRESS,
    "canceled": State.CANCELLED,
    "cancel": State.CANCELLED,
    "resolve": State.RESOLVED,
    "close": State.CLOSED,
}


@dataclass(frozen=True)
class Actor:
    """The agent acting (or being assigned)."""

    user_id: int
    name: str
    username: str | None = None


@dataclass(frozen=True)
class Notice:
    """What to tell the agent after an operation: a text key of agents.toml and its values."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return t(lang, self.key, **self.values)


class WorkError(Exception):
    """An operation the rules refuse; `text(lang)` is the reason for the agent."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def text(self, lang: str) -> str:
        return t(lang, self.key, **self.values)


@dataclass(frozen=True)
class Content:
    """A message an agent or a customer wrote: its text, or a file (as `bot.inputs.file_of` describes it)."""

    text: str | None = None
    file: dict[str, Any] | None = None
    chat_id: int | None = None
    message_id: int | None = None
    #: the text (or caption) as Telegram HTML when the writer formatted it (bold, links…): the transport
    #: renders it from the message's entities, user text escaped; relayed as is so the formatting stays
    html: str | None = None

    @property
    def words(self) -> str:
        """The text, or the file's caption."""
        return (self.text if self.text is not None else (self.file or {}).get("caption") or "").strip()

    @property
    def is_empty(self) -> bool:
        return self.file is None and not self.words

    def as_data(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "file": self.file,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "html": self.html,
        }

    @classmethod
    def of_data(cls, data: dict[str, Any]) -> Content:
        return cls(data.get("text"), data.get("file"), data.get("chat_id"), data.get("message_id"), data.get("html"))

    def formatted(self, limit: int) -> str:
        """The words for a message to the customer: the writer's formatting when it fits in `limit`
        (HTML cannot be cut safely), else the plain words, shortened."""
        if self.html and len(self.html) <= limit and self.html.strip():
            return Safe(self.html.strip())
        return _limit(self.words, limit)


# -- looking tickets up ----------------------------------------------------------------------------------


async def lock(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket, row-locked for the rest of the transaction (PostgreSQL) and freshly read."""
    stmt = select(Ticket).where(Ticket.id == ticket_id).with_for_update().execution_options(populate_existing=True)
    return (await session.exec(stmt)).first()


async def find(session: AsyncSession, ref: str) -> Ticket | None:
    """A ticket by its number as agents type it (`INC-000042`, `inc-42`, `#42`, `42`), locked."""
    found = await tickets.find_by_number(session, ref)
    return await lock(session, found.id) if found is not None else None


async def ticket_customer(session: AsyncSession, ticket: Ticket) -> Customer | None:
    return await repos.customer_by_id(session, ticket.customer_id)


def parse_state(text: str) -> State | None:
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return State(key)
    except ValueError:
        return _STATE_ALIASES.get(key.replace("_", ""))


def parse_category(text: str) -> Category | None:
    """A category by its code or its name in any language (`access`, `Доступ`)."""
    key = text.strip().casefold()
    for category in Category:
        if key == category.value or any(
            key == t(lang, f"category.{category.value}").casefold() for lang in ("en", "ru")
        ):
            return category
    return None


def parse_priority(text: str) -> Priority | None:
    key = text.strip().upper()
    if key.isdigit():
        key = f"P{key}"
    try:
        return Priority(key)
    except ValueError:
        return None


async def resolve_agent(session: AsyncSession, policy: DeskPolicy, ref: str) -> Actor | None:
    """Another agent by Telegram id or @username (usernames are known once the agent has acted)."""
    ref = ref.strip()
    if ref.lstrip("-").isdigit():
        user_id = int(ref)
        if not policy.is_agent(user_id):
            return None
        known = await repos.agent_by_id(session, user_id)
    else:
        known = await repos.agent_by_username(session, ref)
        if known is None or not policy.is_agent(known.telegram_id):
            return None
        user_id = known.telegram_id
    name = (known.first_name if known else "") or (f"@{known.username}" if known and known.username else str(user_id))
    return Actor(user_id, name, known.username if known else None)


# -- shared steps ----------------------------------------------------------------------------------------


def transition_refusal(ticket: Ticket, exc: TransitionError) -> WorkError:
    """The lifecycle's refusal as a clear reason in the agent's language."""
    number, current, target = ticket.number, exc.current, exc.target
    if current == target:
        return WorkError("agents.transition.same", number=number, state=current.value)
    if target == State.CLOSED and current != State.RESOLVED:
        return WorkError("agents.transition.close_unresolved", number=number, state=current.value)
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current]))
        return WorkError(
            "agents.transition.not_allowed",
            number=number,
            from_state=current.value,
            to_state=target.value,
            allowed=allowed,
        )
    if target == State.RESOLVED:
        return WorkError("agents.transition.needs_report", number=number)
    return WorkError(
        "agents.transition.not_allowed", number=number, from_state=current.value, to_state=target.value, allowed="—"
    )


def apply_state(
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
    """Move the ticket to `target` if the lifecycle allows it (else TransitionError); clocks and event."""
    current = State(ticket.state)
    check_transition(current, target, has_report=has_report)
    ticket.state = target.value
    followups.on_public_update(ticket, policy, now)
    if target == State.IN_PROGRESS:
        if current == State.WAITING_CUSTOMER:
            followups.on_customer_answered(ticket, policy, now)
        elif not current.is_open:
            followups.on_reopened(ticket, policy, now)
    elif target == State.WAITING_CUSTOMER:
        followups.on_waiting_customer(ticket, policy, now)
    elif target == State.RESOLVED:
        followups.on_resolved(ticket, policy, now)
    elif target == State.CLOSED:
        followups.on_closed(ticket, policy, now)
    elif target == State.CANCELLED:
        followups.on_cancelled(ticket, now)
    session.add(ticket)
    return tickets.record_event(
        session,
        ticket,
        "state",
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_name=actor_name,
        from_state=current.value,
        to_state=target.value,
        note=note,
        at=now,
    )


def _state(
    session: AsyncSession, ticket: Ticket, target: State, actor: Actor, policy: DeskPolicy, now: datetime, **kw: Any
) -> TicketEvent:
    try:
        return apply_state(
            session,
            ticket,
            target,
            policy,
            now,
            actor_kind="agent",
            actor_id=actor.user_id,
            actor_name=actor.name,
            **kw,
        )
    except TransitionError as exc:
        raise transition_refusal(ticket, exc) from None


def _require_open(ticket: Ticket) -> None:
    if not State(ticket.state).is_open:
        raise WorkError("agents.error.not_open", number=ticket.number, state=ticket.state)


def _responded(ticket: Ticket, now: datetime) -> None:
    followups.on_first_response(ticket, now)
    ticket.updated_at = now


async def _customer_and_lang(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> tuple[Customer | None, str]:
    customer = await ticket_customer(session, ticket)
    return customer, customer_language(customer, policy.default_language)


def tell_customer(
    session: AsyncSession,
    ticket: Ticket,
    customer: Customer | None,
    text: str,
    *,
    buttons: outbox.Buttons | None = None,
) -> None:
    """A message for the ticket's customer, linked to the ticket so their reply to it finds the way back."""
    if customer is None:
        return
    outbox.send_text(session, customer.chat_id, text, buttons=buttons, ticket_id=ticket.id, link_kind="to_customer")


def fixed_buttons(ticket: Ticket, lang: str) -> outbox.Buttons:
    return [
        [
            (t(lang, "agents.customer.fixed_yes"), callbacks.make(callbacks.FIXED, ticket.id, "y")),
            (t(lang, "agents.customer.fixed_no"), callbacks.make(callbacks.FIXED, ticket.id, "n")),
        ]
    ]


def answer_button(ticket: Ticket, lang: str) -> outbox.Buttons:
    return [[(t(lang, "agents.customer.answer_button"), callbacks.make(callbacks.ANSWER, ticket.id))]]


def _limit(text: str, limit: int = TEXT_LIMIT) -> str:
    """Cut at `limit` characters (newlines kept, unlike `formatting.shorten`)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- assignment ------------------------------------------------------------------------------------------


async def take(session: AsyncSession, ticket: Ticket, actor: Actor, policy: DeskPolicy) -> Notice:
    """The caller takes the ticket (the Take button, /take N)."""
    return await assign(session, ticket, actor, actor, policy)


async def assign(session: AsyncSession, ticket: Ticket, actor: Actor, assignee: Actor, policy: DeskPolicy) -> Notice:
    """Assign to `assignee` (the caller, or another agent); a new ticket goes in progress."""
    _require_open(ticket)
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
        _state(session, ticket, State.IN_PROGRESS, actor, policy, now)
    else:
        followups.on_public_update(ticket, policy, now)
    session.add(ticket)
    customer, lang = await _customer_and_lang(session, ticket, policy)
    tell_customer(
        session, ticket, customer, t(lang, "agents.customer.taken", number=ticket.number, agent=assignee.name)
    )
    await cards.refresh_card(session, ticket, policy)
    if yourself:
        if previous:
            return Notice("agents.done.taken_over", {"number": ticket.number, "previous": previous})
        return Notice("agents.done.taken", {"number": ticket.number})
    return Notice("agents.done.assigned", {"number": ticket.number, "agent": assignee.name})


# -- talking to the customer -----------------------------------------------------------------------------


async def _relay_to_customer(
    session: AsyncSession,
    ticket: Ticket,
    customer: Customer,
    content: Content,
    header_key: str,
    lang: str,
    buttons: outbox.Buttons | None = None,
) -> None:
    if content.file is not None and content.chat_id is not None and content.message_id is not None:
        caption = t(lang, header_key, number=ticket.number, text=content.formatted(900)).strip()
        outbox.copy_message(
            session,
            customer.chat_id,
            content.chat_id,
            content.message_id,
            caption=caption,
            buttons=buttons,
            ticket_id=ticket.id,
            link_kind="to_customer",
        )
    else:
        text = t(lang, header_key, number=ticket.number, text=content.formatted(TEXT_LIMIT))
        tell_customer(session, ticket, customer, text, buttons=buttons)


async def record_content(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    content: Content,
    now: datetime,
    *,
    actor_kind: str,
    actor_id: int | None,
    actor_name: str | None,
) -> TicketEvent:
    """The event for a message someone wrote on the ticket (its words as the note, a reference to the
    Telegram message) and, for a file, the attachment row."""
    data: dict[str, Any] = {}
    if content.message_id is not None:
        data["message"] = [content.chat_id, content.message_id]
    if content.file is not None:
        data["file"] = content.file.get("kind")
    event = tickets.record_event(
        session,
        ticket,
        kind,
        actor_kind=actor_kind,
        actor_id=actor_id,
        actor_name=actor_name,
        note=content.words or None,
        data=data,
        at=now,
    )
    if content.file is not None:
        await session.flush()
        session.add(tickets.attachment_row(ticket.id, content.file, event.id))
    return event


async def _record_agent_content(
    session: AsyncSession, ticket: Ticket, kind: str, actor: Actor, content: Content, now: datetime
) -> TicketEvent:
    return await record_content(
        session, ticket, kind, content, now, actor_kind="agent", actor_id=actor.user_id, actor_name=actor.name
    )


async def reply(session: AsyncSession, ticket: Ticket, actor: Actor, content: Content, policy: DeskPolicy) -> Notice:
    """Send the agent's text or file to the customer, headed with the ticket number."""
    if ticket.state in (State.CLOSED.value, State.CANCELLED.value):
        raise WorkError("agents.error.not_open", number=ticket.number, state=ticket.state)
    if content.is_empty:
        raise WorkError("agents.error.empty_reply", number=ticket.number)
    customer, lang = await _customer_and_lang(session, ticket, policy)
    if customer is None:
        raise WorkError("agents.error.no_customer", number=ticket.number)
    now = now_utc()
    await _relay_to_customer(session, ticket, customer, content, "agents.customer.reply", lang)
    await _record_agent_content(session, ticket, "reply", actor, content, now)
    _responded(ticket, now)
    if ticket.state == State.NEW.value:
        _state(session, ticket, State.IN_PROGRESS, actor, policy, now)
        await cards.refresh_card(session, ticket, policy)
    else:
        followups.on_public_update(ticket, policy, now)
    session.add(ticket)
    return Notice("agents.done.replied", {"number": ticket.number})


async def ask(session: AsyncSession, ticket: Ticket, actor: Actor, content: Content, policy: DeskPolicy) -> Notice:
    """Ask the customer for information: the question with a Reply button; the ticket waits for them."""
    if not State(ticket.state).is_open:
        raise WorkError("agents.error.not_open", number=ticket.number, state=ticket.state)
    if content.is_empty:
        raise WorkError("agents.error.empty_question", number=ticket.number)
    customer, lang = await _customer_and_lang(session, ticket, policy)
    if customer is None:
        raise WorkError("agents.error.no_customer", number=ticket.number)
    now = now_utc()
    await _relay_to_customer(
        session, ticket, customer, content, "agents.customer.question", lang, buttons=answer_button(ticket, lang)
    )
    await _record_agent_content(session, ticket, "question", actor, content, now)
    _responded(ticket, now)
    if ticket.state == State.WAITING_CUSTOMER.value:
        followups.on_public_update(ticket, policy, now)
        followups.on_waiting_customer(ticket, policy, now)  # a new question restarts the reminders
    else:
        _state(session, ticket, State.WAITING_CUSTOMER, actor, policy, now)
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
    _state(session, ticket, target, actor, policy, now, note=note)
    _responded(ticket, now)
    customer, lang = await _customer_and_lang(session, ticket, policy)
    tell_customer(
        session,
        ticket,
        customer,
        t(lang, "agents.customer.state", number=ticket.number, state=t(lang, f"state.{target.value}")),
    )
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.state", {"number": ticket.number, "from_state": current.value, "to_state": target.value})


async def resolve(session: AsyncSession, ticket: Ticket, actor: Actor, report: str, policy: DeskPolicy) -> Notice:
    """Resolve with a closing report; the customer confirms the fix or says it is still a problem."""
    report = (report or "").strip()
    if len(report) < REPORT_MIN_CHARS:
        raise WorkError("agents.error.report_needed", number=ticket.number)
    report = _limit(report)
    now = now_utc()
    _state(session, ticket, State.RESOLVED, actor, policy, now, note=report, has_report=True)
    ticket.resolution_report = report
    _responded(ticket, now)
    session.add(ticket)
    customer, lang = await _customer_and_lang(session, ticket, policy)
    tell_customer(
        session,
        ticket,
        customer,
        t(
            lang,
            "agents.customer.resolved",
            number=ticket.number,
            report=report,
            auto_close=human_duration(lang, policy.resolved_auto_close_after),
        ),
        buttons=fixed_buttons(ticket, lang),
    )
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.resolved", {"number": ticket.number})


async def close(session: AsyncSession, ticket: Ticket, actor: Actor, policy: DeskPolicy) -> Notice:
    now = now_utc()
    _state(session, ticket, State.CLOSED, actor, policy, now)
    session.add(ticket)
    customer, lang = await _customer_and_lang(session, ticket, policy)
    tell_customer(session, ticket, customer, t(lang, "agents.customer.closed", number=ticket.number))
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.closed", {"number": ticket.number})


async def reopen(
    session: AsyncSession, ticket: Ticket, actor: Actor, policy: DeskPolicy, note: str | None = None
) -> Notice:
    if State(ticket.state).is_open:
        raise WorkError("agents.error.already_open", number=ticket.number, state=ticket.state)
    now = now_utc()
    _state(session, ticket, State.IN_PROGRESS, actor, policy, now, note=note)
    session.add(ticket)
    customer, lang = await _customer_and_lang(session, ticket, policy)
    tell_customer(session, ticket, customer, t(lang, "agents.customer.reopened", number=ticket.number))
    await cards.refresh_card(session, ticket, policy)
    return Notice("agents.done.reopened", {"number": ticket.number})


# -- triage corrections ----------------------------------------------------------------------------------


def _label(session: AsyncSession, ticket: Ticket, actor: Actor) -> None:
    """The corrected labels as a training example (`python -m bot export-labels`)."""
    session.add(
        LabelledExample(
            ticket_id=ticket.id,
            text=ticket.description,
            ticket_type=ticket.ticket_type,
            category=ticket.category,
            priority=ticket.priority,
            actor_id=actor.user_id,
            created_at=now_utc(),
        )
    )


async def retype(session: AsyncSession, ticket: Ticket, actor: Actor, category: Category, policy: DeskPolicy) -> Notice:
    """Correct the category (which implies the type); the number never changes, SLA is recomputed."""
    if ticket.category == category.value:
        return Notice("agents.done.retype_same", {"number": ticket.number, "category": category.value})
    now = now_utc()
    before = {"type": ticket.ticket_type, "category": ticket.category, "priority": ticket.priority}
    ticket.category = category.value
    ticket.ticket_type = category.ticket_type.value
    if category == Category.SECURITY and Priority(ticket.priority).rank > 2:
        ticket.priority = Priority.P2.value  # a security incident is never below P2
    ticket.updated_at = now
    followups.on_priority_changed(ticket, policy, now)
    session.add(ticket)
    tickets.record_event(
        session,
        ticket,
        "retype",
        actor_kind="agent",
        actor_id=actor.user_id,
        actor_name=actor.name,
        note=f"{before['category']} → {ticket.category}",
        data={
            "from": before,
            "to": {"type": ticket.ticket_type, "category": ticket.category, "priority": ticket.priority},
        },
        at=now,
    )
    _label(session, ticket, actor)
    await cards.refresh_card(session, ticket, policy)
    return Notice(
        "agents.done.retyped",
        {
            "number": ticket.number,
            "from_category": before["category"],
            "to_category": ticket.category,
            "type": ticket.ticket_type,
            "priority": ticket.priority,
        },
    )


async def set_priority(
    session: AsyncSession, ticket: Ticket, actor: Actor, priority: Priority, policy: DeskPolicy
) -> Notice:
    """Correct the priority; SLA due times are recomputed from the ticket's creation."""
    if ticket.priority == priority.value:
        return Notice("agents.done.priority_same", {"number": ticket.number, "priority": priority.value})
    now = now_utc()
    before = ticket.priority
    ticket.priority = priority.value
    ticket.updated_at = now
    followups.on_priority_changed(ticket, policy, now)
    session.add(ticket)
    tickets.record_event(
        session,
        ticket,
        "priority",
        actor_kind="agent",
        actor_id=actor.user_id,
        actor_name=actor.name,
        note=f"{before} → {priority.value}",
        data={"from": before, "to": priority.value},
        at=now,
    )
    _label(session, ticket, actor)
    await cards.refresh_card(session, ticket, policy)
    return Notice(
        "agents.done.priority",
        {
            "number": ticket.number,
            "from_priority": before,
            "to_priority": priority.value,
            "due": when(ticket.resolution_due),
        },
    )


# -- what agents see -------------------------------------------------------------------------------------


def event_line(lang: str, event: TicketEvent) -> str:
    """One line of a ticket's audit trail for agents."""
    who = event.actor_name or (t(lang, "agents.view.system") if event.actor_kind == "system" else "—")
    if event.kind == "state":
        what = f"{event.from_state or '—'} → {event.to_state or '—'}"
    elif event.kind == "assign":
        who = (event.data or {}).get("by") or who
        what = t(
            lang, "agents.view.assigned_to", name=(event.data or {}).get("assignee_name") or event.actor_name or "—"
        )
    else:
        what = event.kind
    line = t(lang, "agents.view.history_line", at=when(event.at), who=who, what=what)
    if event.note and event.kind not in ("created",):
        line += Safe(": ") + escape(shorten(event.note, 300))
    return line


async def details(session: AsyncSession, ticket: Ticket, lang: str) -> tuple[str, int]:
    """The full card with every event, and how many attachments the ticket has."""
    customer = await ticket_customer(session, ticket)
    if customer is None:
        head = t(lang, "agents.view.orphan", number=ticket.number)
    else:
        head = cards.card_text(ticket, customer, lang)
    parts = [head]
    if ticket.resolution_report:
        parts.append(t(lang, "agents.view.report", report=ticket.resolution_report))
    events = await repos.events_of(session, ticket.id)
    if events:
        parts.append(t(lang, "agents.view.history_title") + "\n" + "\n".join(event_line(lang, e) for e in events))
    files = await repos.attachments_of(session, ticket.id)
    if files:
        parts.append(t(lang, "agents.view.attachments", count=len(files)))
    return "\n\n".join(parts), len(files)


def summary_line(lang: str, ticket: Ticket) -> str:
    due = ticket.first_response_due if ticket.first_response_at is None else ticket.resolution_due
    return t(
        lang,
        "agents.view.queue_line",
        icon=cards.STATE_ICONS.get(ticket.state, ""),
        number=ticket.number,
        priority=ticket.priority,
        state=ticket.state,
        assignee=ticket.assignee_name or t(lang, "agents.view.nobody"),
        due=when(due),
        summary=shorten(ticket.description, 80),
    )


QUEUE_LIMIT = 30


async def queue(session: AsyncSession, lang: str) -> tuple[str, outbox.Buttons]:
    """Open tickets by priority, then SLA due time; a Details button for each shown."""
    open_ = list(await repos.open_tickets(session))
    if not open_:
        return t(lang, "agents.view.queue_empty"), []
    shown = open_[:QUEUE_LIMIT]
    lines = [t(lang, "agents.view.queue_title", count=len(open_))]
    lines.extend(summary_line(lang, ticket) for ticket in shown)
    if len(open_) > len(shown):
        lines.append(t(lang, "agents.view.queue_more", count=len(open_) - len(shown)))
    buttons: outbox.Buttons = []
    row: list[tuple[str, str]] = []
    for ticket in shown:
        row.append(
            (
                f"{cards.STATE_ICONS.get(ticket.state, '')} {ticket.number} · {ticket.priority}",
                callbacks.make(callbacks.AGENT, "det", ticket.id),
            )
        )
        if len(row) == 2:
            buttons.append(row)
            row = []
    if row:
        buttons.append(row)
    return "\n\n".join(lines), buttons
