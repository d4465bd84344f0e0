"""The customer's side of a ticket's conversation: answers to agents' questions, follow-up messages,
which ticket a free message is for, edits, and confirming a fix (or saying it is still a problem).

Domain only (no Telegram). What the customer should be told comes back as `Answer`s in their language;
what the staff must see goes to the outbox under the ticket's card, linked to the ticket so agents can
reply to it. Every customer message attached to a ticket is linked too (`customer_msg`), so an edit of
it can be relayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import added_as_new, callbacks, cards, customer_notices, outbox, tickets
from helpdesk.clock import now_utc
from helpdesk.content import Content
from helpdesk.formatting import shorten
from helpdesk.i18n import t
from helpdesk.lifecycle import TransitionError, apply_transition
from helpdesk.major_incidents import linking
from helpdesk.people import customer_display_name, customer_language
from helpdesk.policy import DeskPolicy
from helpdesk.small_talk import small_talk
from helpdesk.vocabulary import State
from storage import repos
from storage.models import Customer, Ticket

#: after pressing Reply under a question, the next message is the answer for this long
PENDING_TTL = timedelta(hours=1)
#: a conversation about one ticket goes on without asking while the customer keeps writing within this
#: (counted from their last message attached to it; docs/customer-messages.md)
CONVERSATION_QUIET = timedelta(minutes=30)
#: in customer.pending: the ticket the customer is talking about ({"ticket": id, "at": iso time}); apart
#: from PENDING_KEYS, so answering a question or choosing in the chooser does not end it
CONVERSATION_KEY = "conversation"
CHOOSER_LIMIT = 8
FORCE_REPLY = {"force_reply": True}


@dataclass
class Answer:
    """A message for the customer who wrote (or pressed); `ticket_id` links it to that ticket."""

    text: str
    buttons: outbox.Buttons | None = None
    reply_markup: dict[str, Any] | None = None
    ticket_id: int | None = None


@dataclass
class Routed:
    """What became of a free message: handled here (answers sent), or left for the intake to start."""

    handled: bool
    answers: list[Answer] = field(default_factory=list)


@dataclass
class ChooserResult:
    """The outcome of a press on the ticket chooser."""

    kind: str  # attached | new | outdated
    answers: list[Answer] = field(default_factory=list)
    content: Content | None = None
    #: the later parts of the album `content` is the first part of, in order
    more: list[Content] = field(default_factory=list)


def lang_of(customer: Customer, policy: DeskPolicy) -> str:
    return customer_language(customer, policy.default_language)


#: ours in customer.pending (other areas keep their own keys there)
PENDING_KEYS = ("answer", "choose", "more", "album", "at")


def _set_pending(customer: Customer, value: dict[str, Any]) -> None:
    """Replace our keys in `customer.pending`, keeping other areas' (a new dict, so the change is seen)."""
    kept = {k: v for k, v in (customer.pending or {}).items() if k not in PENDING_KEYS}
    customer.pending = {**kept, **value}


def _pending(customer: Customer, key: str, now: datetime) -> Any:
    pending = customer.pending or {}
    if key not in pending:
        return None
    try:
        at = datetime.fromisoformat(pending.get("at", ""))
    except ValueError:
        return None
    return pending[key] if now - at <= PENDING_TTL else None


def continue_conversation(customer: Customer, ticket: Ticket, now: datetime) -> None:
    """The customer's message went to `ticket`: their next ones go there too, for a while (`route`)."""
    customer.pending = {**(customer.pending or {}), CONVERSATION_KEY: {"ticket": ticket.id, "at": now.isoformat()}}


def end_conversation(customer: Customer) -> None:
    """The customer turned to something else (a new request): their next message is asked about again."""
    if CONVERSATION_KEY in (customer.pending or {}):
        customer.pending = {k: v for k, v in (customer.pending or {}).items() if k != CONVERSATION_KEY}


def conversation_ticket_id(customer: Customer, now: datetime) -> int | None:
    """The ticket the customer has been talking about, unless they have been quiet too long."""
    kept = (customer.pending or {}).get(CONVERSATION_KEY)
    if not isinstance(kept, dict) or not isinstance(kept.get("ticket"), int):
        return None
    try:
        at = datetime.fromisoformat(str(kept.get("at", "")))
    except ValueError:
        return None
    return kept["ticket"] if now - at <= CONVERSATION_QUIET else None


async def own_ticket(session: AsyncSession, customer: Customer, ticket_id: int | None) -> Ticket | None:
    """The customer's own ticket (locked); anyone else's looks like a missing one."""
    if not ticket_id:
        return None
    ticket = await repos.lock_ticket(session, ticket_id)
    return ticket if ticket is not None and ticket.customer_id == customer.id else None


async def linked_ticket(session: AsyncSession, customer: Customer, chat_id: int, message_id: int) -> Ticket | None:
    """The ticket a message in the customer's chat belongs to (our messages and their own)."""
    link = await repos.link_of(session, chat_id, message_id)
    return await own_ticket(session, customer, link.ticket_id) if link is not None else None


# -- attaching a message to a ticket ---------------------------------------------------------------------


async def relay_to_staff(
    session: AsyncSession, ticket: Ticket, policy: DeskPolicy, header_key: str, content: Content | None, **values: Any
) -> None:
    """Post under the ticket's card (text, or a copy of the file with a header caption). For a ticket
    linked under a major incident: under the major incident's card, naming the ticket, and linked to it
    (an agent's reply to it answers that one customer)."""
    lang = policy.default_language
    parent = await repos.ticket_by_id(session, ticket.parent_id) if ticket.parent_id is not None else None
    where = parent if parent is not None else ticket
    staff = cards.staff_chat_of(where, policy)
    if staff is None:
        return
    number = (
        ticket.number
        if parent is None
        else t(lang, "major.staff.child_number", own=ticket.number, parent=parent.number)
    )
    placed: dict[str, Any] = {"reply_to_card": True}
    if parent is not None:  # under another ticket's card: its message id and topic, as far as known now
        placed = {"reply_to_message_id": parent.staff_message_id, "thread_id": parent.staff_thread_id}
    words = content.words if content is not None else ""
    if content is not None and content.is_copyable_file:
        caption = t(lang, header_key, number=number, text=words, **values)
        outbox.copy_message(
            session,
            staff,
            content.chat_id,
            content.message_id,
            caption=caption.strip(),
            ticket_id=ticket.id,
            link_kind="relay",
            thread_id=placed.get("thread_id"),
            reply_to_card=parent is None,
            caption_apart=not content.shows_caption,
        )
        return
    text = t(lang, header_key, number=number, text=words, **values)
    outbox.send_text(session, staff, text, ticket_id=ticket.id, link_kind="relay", **placed)


async def add_message(
    session: AsyncSession, customer: Customer, ticket: Ticket, content: Content, policy: DeskPolicy
) -> list[Answer]:
    """Attach the customer's message: an answer when the ticket waits on them (it goes back in progress)."""
    lang = lang_of(customer, policy)
    now = now_utc()
    state = State(ticket.state)
    kind = "answer" if state == State.WAITING_CUSTOMER else "message"
    await tickets.record_content(
        session,
        ticket,
        kind,
        content,
        now,
        actor_kind="customer",
        actor_id=customer.telegram_id,
        actor_name=customer_display_name(customer),
    )
    if content.chat_id is not None and content.message_id is not None:
        await repos.add_link(session, content.chat_id, content.message_id, ticket.id, "customer_msg")
    if content.album:  # its later parts follow it here (`follow_album`)
        customer.pending = {**(customer.pending or {}), "album": {"id": content.album, "ticket": ticket.id}}
    if State(ticket.state).is_open:  # a resolved one is asked about (is it fixed?), not talked on
        continue_conversation(customer, ticket, now)
    session.add(customer)
    header = "agents.staff.answer" if kind == "answer" else "agents.staff.message"
    await relay_to_staff(session, ticket, policy, header, content, name=customer_display_name(customer))
    ticket.updated_at = now
    if state == State.WAITING_CUSTOMER and ticket.parent_id is None:  # a linked one follows its major incident
        await apply_transition(
            session,
            ticket,
            State.IN_PROGRESS,
            policy,
            now,
            actor_kind="customer",
            actor_id=customer.telegram_id,
            actor_name=customer_display_name(customer),
            note="answered",
        )
        await cards.refresh_card(session, ticket, policy)
    session.add(ticket)
    if state == State.RESOLVED:
        return [
            Answer(
                t(lang, "agents.conv.resolved_note", number=ticket.number),
                buttons=customer_notices.fixed_buttons(ticket, lang),
                ticket_id=ticket.id,
            )
        ]
    key = "agents.conv.answer_added" if kind == "answer" else "agents.conv.message_added"
    # a reply to it goes there too; the button, in case the customer meant something new: it starts the
    # request with this message (`added_as_new`), an answer's with an empty form (the start menu's)
    data = added_as_new.remember(customer, content) if kind == "message" else callbacks.make(callbacks.MENU, "new")
    new_request = [[(t(lang, "button.new"), data)]]
    return [Answer(t(lang, key, number=ticket.number), buttons=new_request, ticket_id=ticket.id)]


def _closed_note(ticket: Ticket, lang: str) -> Answer:
    return Answer(t(lang, "agents.conv.ticket_closed", number=ticket.number))


# -- a free message --------------------------------------------------------------------------------------


async def route(
    session: AsyncSession,
    customer: Customer,
    content: Content,
    policy: DeskPolicy,
    *,
    reply_to: int | None = None,
) -> Routed:
    """A message outside the intake: which ticket (if any) it is about (docs/customer-messages.md).

    A reply to a message linked to one of their tickets → that ticket (closed: told so, and the intake
    starts); after the Reply button → that ticket; a conversation going on about an open ticket (their
    last message went there less than CONVERSATION_QUIET ago) → that ticket, unless another one waits
    on them; exactly one ticket waiting on them → the answer; other open tickets → ask which one (or a
    new request); none → not handled (the intake starts).
    """
    if content.is_empty:
        return Routed(False)
    followed = await follow_album(session, customer, content, policy)
    if followed is not None:
        return followed
    lang = lang_of(customer, policy)
    now = now_utc()
    ticket = await _reply_target(session, customer, content, reply_to)
    if ticket is not None and _ended(ticket):
        _set_pending(customer, {})
        end_conversation(customer)
        session.add(customer)
        if small_talk(content.text or "") is not None:  # "thanks!": the intake answers it, no new request
            return Routed(False, [])
        return Routed(False, [_closed_note(ticket, lang)])
    if ticket is not None:
        return Routed(True, await _add_reply(session, customer, ticket, content, policy))
    answering = _pending(customer, "answer", now)
    if answering is not None:
        _set_pending(customer, {})
        session.add(customer)
        ticket = await own_ticket(session, customer, int(answering))
        if ticket is not None and not _ended(ticket):
            return Routed(True, await add_message(session, customer, ticket, content, policy))
    open_ = list(await repos.tickets_of_customer(session, customer.id, open_only=True))
    if not open_:
        return Routed(False)
    waiting = [ticket for ticket in open_ if ticket.state == State.WAITING_CUSTOMER.value]
    talking = conversation_ticket_id(customer, now)
    if talking is not None and any(ticket.id == talking for ticket in open_):
        if all(ticket.id == talking for ticket in waiting):  # else another waits for an answer: ask
            ticket = await own_ticket(session, customer, talking)
            if ticket is not None and State(ticket.state).is_open:
                return Routed(True, await add_message(session, customer, ticket, content, policy))
    elif len(waiting) == 1:
        ticket = await repos.lock_ticket(session, waiting[0].id)
        if ticket is not None:
            return Routed(True, await add_message(session, customer, ticket, content, policy))
    _set_pending(customer, {"choose": content.as_data(), "at": now.isoformat()})
    session.add(customer)
    return Routed(True, [chooser(open_, lang)])


async def route_reply_during_intake(
    session: AsyncSession, customer: Customer, content: Content, policy: DeskPolicy, *, reply_to: int | None
) -> Routed:
    """A message while the intake form is open: a Telegram reply to a message about one of their open
    tickets names that ticket, so it goes there (not into the form, which stays where it was); any other
    message is the form's (not handled). No conversation follows: their next messages answer the form.
    Unlike `route`, a closed ticket's reply is the form's with no note and nothing changed (the new
    request under way is where it belongs)."""
    if content.is_empty:
        return Routed(False)
    ticket = await _reply_target(session, customer, content, reply_to)
    if ticket is None or _ended(ticket):
        return Routed(False)
    answers = await _add_reply(session, customer, ticket, content, policy)
    end_conversation(customer)
    session.add(customer)
    return Routed(True, answers)


async def _reply_target(
    session: AsyncSession, customer: Customer, content: Content, reply_to: int | None
) -> Ticket | None:
    """The customer's own ticket (locked, in any state) a Telegram reply names: the one the replied-to
    message is linked to; None for no reply or a message of no ticket of theirs."""
    if reply_to is None or content.chat_id is None:
        return None
    return await linked_ticket(session, customer, content.chat_id, reply_to)


async def _add_reply(
    session: AsyncSession, customer: Customer, ticket: Ticket, content: Content, policy: DeskPolicy
) -> list[Answer]:
    """Attach a reply to its open ticket. The reply said where it goes: a Reply button's pending answer
    and a pending choice are used up (in the form as outside it)."""
    _set_pending(customer, {})
    session.add(customer)
    return await add_message(session, customer, ticket, content, policy)


def _ended(ticket: Ticket) -> bool:
    """Closed or cancelled: nothing more is added to it."""
    return ticket.state in (State.CLOSED.value, State.CANCELLED.value)


async def follow_album(
    session: AsyncSession, customer: Customer, content: Content, policy: DeskPolicy
) -> Routed | None:
    """A later part of an album goes where its first part went (Telegram sends each part as a message of
    its own, and the first may have used up what routed it: the Reply button, a waiting state): onto the
    same ticket, or into the same pending choice. Unannounced: the album was answered with its first part.
    None: not the rest of an album routed here (an album that started an intake follows the draft instead,
    `DraftState.continues_album`)."""
    if not content.album:
        return None
    pending = customer.pending or {}
    kept = pending.get("album")
    if isinstance(kept, dict) and kept.get("id") == content.album:
        ticket = await own_ticket(session, customer, kept.get("ticket"))
        if ticket is not None and State(ticket.state).is_open:
            await add_message(session, customer, ticket, content, policy)
            return Routed(True)
    choosing = pending.get("choose")
    if isinstance(choosing, dict) and choosing.get("album") == content.album:
        customer.pending = {**pending, "more": [*(pending.get("more") or []), content.as_data()]}
        session.add(customer)
        return Routed(True)
    return None


def chooser(open_: list[Ticket], lang: str) -> Answer:
    buttons: outbox.Buttons = [
        [(f"{ticket.number} · {shorten(ticket.description, 40)}", callbacks.make(callbacks.FOR_TICKET, ticket.id))]
        for ticket in open_[:CHOOSER_LIMIT]
    ]
    buttons.append([(t(lang, "agents.conv.choose_new"), callbacks.make(callbacks.FOR_TICKET, "new"))])
    return Answer(t(lang, "agents.conv.choose"), buttons=buttons)


async def choose(session: AsyncSession, customer: Customer, choice: str, policy: DeskPolicy) -> ChooserResult:
    """The customer picked the ticket for their last free message (or a new request)."""
    kept = (customer.pending or {}).get("choose")  # no time limit: the buttons say what they are for
    if not isinstance(kept, dict):
        return ChooserResult("outdated")
    content = Content.of_data(kept)
    more = [Content.of_data(part) for part in (customer.pending or {}).get("more") or [] if isinstance(part, dict)]
    if choice == "new":
        _set_pending(customer, {})
        end_conversation(customer)
        session.add(customer)
        return ChooserResult("new", content=content, more=more)
    ticket = await own_ticket(session, customer, int(choice) if choice.isdigit() else None)
    if ticket is None or not State(ticket.state).is_open:
        return ChooserResult("outdated")
    _set_pending(customer, {})
    session.add(customer)
    answers = await add_message(session, customer, ticket, content, policy)
    for part in more:  # the rest of its album, answered with it
        await add_message(session, customer, ticket, part, policy)
    return ChooserResult("attached", answers)


async def start_answer(
    session: AsyncSession, customer: Customer, ticket_id: int | None, policy: DeskPolicy
) -> Answer | None:
    """The Reply button under a question: the next message is the answer (None: the button is outdated)."""
    ticket = await own_ticket(session, customer, ticket_id)
    if ticket is None or not State(ticket.state).is_open:
        return None
    _set_pending(customer, {"answer": ticket.id, "at": now_utc().isoformat()})
    session.add(customer)
    lang = lang_of(customer, policy)
    return Answer(
        t(lang, "agents.conv.type_answer", number=ticket.number), reply_markup=FORCE_REPLY, ticket_id=ticket.id
    )


# -- confirming the fix ----------------------------------------------------------------------------------


async def confirm_fix(
    session: AsyncSession, customer: Customer, ticket_id: int | None, fixed: bool, policy: DeskPolicy
) -> Answer | None:
    """ "Yes, it's fixed" closes; "Still a problem" reopens (the staff are told). None: outdated button."""
    ticket = await own_ticket(session, customer, ticket_id)
    if ticket is None or ticket.state != State.RESOLVED.value:
        return None
    lang = lang_of(customer, policy)
    now = now_utc()
    name = customer_display_name(customer)
    target = State.CLOSED if fixed else State.IN_PROGRESS
    if not fixed and ticket.parent_id is not None:  # their own problem after all: on its own, with its own card
        await linking.unlink(session, ticket, None, policy, tell_customer=False)
    try:
        await apply_transition(
            session,
            ticket,
            target,
            policy,
            now,
            actor_kind="customer",
            actor_id=customer.telegram_id,
            actor_name=name,
            note="confirmed fixed" if fixed else "still a problem",
        )
    except TransitionError:
        return None
    session.add(ticket)
    await cards.refresh_card(session, ticket, policy)
    if fixed:
        return Answer(t(lang, "agents.conv.fixed_thanks", number=ticket.number))
    await relay_to_staff(session, ticket, policy, "agents.staff.still_problem", None, name=name)
    _set_pending(customer, {"answer": ticket.id, "at": now.isoformat()})
    session.add(customer)
    return Answer(
        t(lang, "agents.conv.still_problem", number=ticket.number), reply_markup=FORCE_REPLY, ticket_id=ticket.id
    )


# -- edits -----------------------------------------------------------------------------------------------


async def relay_edit(
    session: AsyncSession, customer: Customer, chat_id: int, message_id: int, new_text: str, policy: DeskPolicy
) -> Answer:
    """An edited message: relayed under the card when it belongs to a ticket, else a polite note."""
    lang = lang_of(customer, policy)
    link = await repos.link_of(session, chat_id, message_id)
    ticket = await own_ticket(session, customer, link.ticket_id) if link and link.kind == "customer_msg" else None
    if ticket is None or not new_text.strip():
        return Answer(t(lang, "agents.conv.edit_ignored"))
    tickets.record_event(
        session,
        ticket,
        "edited",
        actor_kind="customer",
        actor_id=customer.telegram_id,
        actor_name=customer_display_name(customer),
        note=new_text,
        data={"message": [chat_id, message_id]},
    )
    await relay_to_staff(
        session, ticket, policy, "agents.staff.edited", Content(text=new_text), name=customer_display_name(customer)
    )
    return Answer(t(lang, "agents.conv.edit_relayed", number=ticket.number))
