"""What the customer is told about their ticket when someone else acts on it, and the one way it reaches them.

Agents' actions (taken, status changed, resolved…) and the desk's own follow-ups (reminders, the
auto-resolve, the close warning, progress, the survey) all tell the customer through `tell`: a message
queued in the caller's transaction, in the customer's language, linked to the ticket so that a reply to
it finds its way back. Nothing is queued for a customer who blocked the bot (delivery would only drop
it); each notice returns whether it was queued, so the caller can record it or tell the staff instead.

One voice (docs/major-incidents.md): what is said on a major incident reaches its `audience`, the
customer of every ticket linked under it too, each once, in their own language, linked to their own
ticket (so their reply reaches the staff under the major incident, naming their ticket).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import callbacks, outbox, survey
from helpdesk.content import Content
from helpdesk.formatting import human_duration, shorten
from helpdesk.i18n import Safe, t
from helpdesk.people import customer_language, public_agent_name
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import State
from storage import major_incidents, repos
from storage.models import Customer, Ticket


async def recipient(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> tuple[Customer | None, str]:
    """The ticket's customer and the language to speak to them in."""
    customer = await repos.customer_by_id(session, ticket.customer_id)
    return customer, customer_language(customer, ticket.language or policy.default_language)


@dataclass(frozen=True)
class Recipient:
    """Someone who hears about a ticket: through their own `ticket` (a reply to the message is about it),
    in `lang`, the ticket named to them as `number`."""

    ticket: Ticket
    customer: Customer | None
    lang: str
    number: str


async def audience(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> list[Recipient]:
    """The ticket's customer and, for a major incident, the customer of each ticket linked under it, each
    person once (the first of their tickets), each in their own language."""
    customer, lang = await recipient(session, ticket, policy)
    found = [Recipient(ticket, customer, lang, ticket.number)]
    if not ticket.is_major:
        return found
    seen = {ticket.customer_id}
    for linked, person in await major_incidents.linked_with_customers(session, ticket.id):
        if linked.customer_id in seen:
            continue
        seen.add(linked.customer_id)
        own = customer_language(person, linked.language or policy.default_language)
        number = t(own, "major.customer.number", parent=ticket.number, own=linked.number)
        found.append(Recipient(linked, person, own, number))
    return found


def reachable(customer: Customer | None) -> bool:
    """Someone to tell: the customer exists and has not blocked the bot."""
    return customer is not None and customer.unreachable_since is None


def tell(
    session: AsyncSession,
    ticket: Ticket,
    customer: Customer | None,
    text: str,
    *,
    buttons: outbox.Buttons | None = None,
    linked: bool = True,
) -> bool:
    """Queue `text` for the ticket's customer; `linked`: their reply to it is about this ticket.

    False (nothing queued) when there is nobody to tell.
    """
    if customer is None or not reachable(customer):
        return False
    outbox.send_text(
        session,
        customer.chat_id,
        text,
        buttons=buttons,
        ticket_id=ticket.id,
        link_kind="to_customer" if linked else None,
    )
    return True


def relay(
    session: AsyncSession,
    ticket: Ticket,
    customer: Customer,
    content: Content,
    header_key: str | None,
    lang: str,
    *,
    buttons: outbox.Buttons | None = None,
    number: str | None = None,
) -> bool:
    """An agent's words or file for the customer, headed with the ticket number (`header_key`; `number`:
    how the ticket is named to them, see `Recipient`); no header: a file keeps its own caption (a later
    part of an album, headed by its first part)."""
    if not reachable(customer):
        return False
    number = number or ticket.number
    if content.is_copyable_file:
        caption = t(lang, header_key, number=number, text=content.formatted()).strip() if header_key else None
        outbox.copy_message(
            session,
            customer.chat_id,
            content.chat_id,
            content.message_id,
            caption=caption,
            buttons=buttons,
            ticket_id=ticket.id,
            link_kind="to_customer",
            caption_apart=not content.shows_caption,
        )
        return True
    text = t(lang, header_key, number=number, text=content.formatted()) if header_key else content.formatted()
    return tell(session, ticket, customer, text, buttons=buttons)


#: buttons for one recipient: (their own ticket, their language) → rows
ButtonsFor = Callable[[Ticket, str], outbox.Buttons]
#: what an agent sends: the same words for everyone, or words made for each reader (a canned reply, filled
#: in with their name and number, in their language)
Words = Content | Callable[[Recipient], Content]


def words_for(words: Words, reader: Recipient) -> Content:
    """What `reader` is sent of `words`."""
    return words(reader) if callable(words) else words


async def relay_to_audience(
    session: AsyncSession,
    ticket: Ticket,
    content: Words,
    header_key: str | None,
    policy: DeskPolicy,
    *,
    buttons: ButtonsFor | None = None,
) -> bool:
    """An agent's words or file for everyone who hears about the ticket (`audience`); whether the ticket's
    own customer got it."""
    told = []
    for r in await audience(session, ticket, policy):
        extra = buttons(r.ticket, r.lang) if buttons else None
        queued = r.customer is not None and relay(
            session, r.ticket, r.customer, words_for(content, r), header_key, r.lang, buttons=extra, number=r.number
        )
        told.append(queued)
    return told[0]


# -- buttons ---------------------------------------------------------------------------------------------


def fixed_buttons(ticket: Ticket, lang: str) -> outbox.Buttons:
    """Under a resolution (or its close warning): the customer confirms the fix or says it is not fixed."""
    return [
        [
            (t(lang, "agents.customer.fixed_yes"), callbacks.make(callbacks.FIXED, ticket.id, "y")),
            (t(lang, "agents.customer.fixed_no"), callbacks.make(callbacks.FIXED, ticket.id, "n")),
        ]
    ]


def answer_button(ticket: Ticket, lang: str) -> outbox.Buttons:
    """Under a question: the customer's next message is the answer."""
    return [[(t(lang, "agents.customer.answer_button"), callbacks.make(callbacks.ANSWER, ticket.id))]]


def _in_time(delta: timedelta) -> Callable[[str], str]:
    return lambda lang: t(lang, "scheduler.common.in_time", duration=human_duration(lang, delta))


def _duration(delta: timedelta) -> Callable[[str], str]:
    return lambda lang: human_duration(lang, delta)


def _state_name(state: State) -> Callable[[str], str]:
    return lambda lang: t(lang, f"state.{state.value}")


async def _notify(
    session: AsyncSession,
    ticket: Ticket,
    policy: DeskPolicy,
    key: str,
    *,
    buttons: ButtonsFor | None = None,
    everyone: bool = True,
    **values: Any,
) -> bool:
    """`tell` the text `key`, with the ticket named as each reader knows it, to everyone who hears about the
    ticket (`audience`; `everyone=False`: its own customer only); values that depend on the language are
    given as functions of it, buttons as a function of the reader's ticket and language. Whether the
    ticket's own customer was told."""
    readers = await audience(session, ticket, policy)
    told = []
    for r in readers if everyone else readers[:1]:
        localised = {name: value(r.lang) if callable(value) else value for name, value in values.items()}
        text = t(r.lang, key, number=r.number, **localised)
        told.append(tell(session, r.ticket, r.customer, text, buttons=buttons(r.ticket, r.lang) if buttons else None))
    return told[0]


# -- agents' actions -------------------------------------------------------------------------------------


async def assigned(session: AsyncSession, ticket: Ticket, agent_name: str, policy: DeskPolicy) -> bool:
    """Who works on it now, by name; an agent known only by their id is "a support agent"."""
    name = public_agent_name(agent_name)
    if name is None:
        return await _notify(session, ticket, policy, "agents.customer.taken_unnamed")
    return await _notify(session, ticket, policy, "agents.customer.taken", agent=name)


async def state_changed(session: AsyncSession, ticket: Ticket, target: State, policy: DeskPolicy) -> bool:
    return await _notify(session, ticket, policy, "agents.customer.state", state=_state_name(target))


async def resolved(session: AsyncSession, ticket: Ticket, report: str, policy: DeskPolicy) -> bool:
    """Resolved by an agent: the report, when it closes by itself, and the confirm buttons."""
    auto_close = _duration(policy.resolved_auto_close_after)
    key = "agents.customer.resolved"
    return await _notify(session, ticket, policy, key, report=report, auto_close=auto_close, buttons=fixed_buttons)


async def closed(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> bool:
    return await _notify(session, ticket, policy, "agents.customer.closed")


async def reopened(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> bool:
    return await _notify(session, ticket, policy, "agents.customer.reopened")


# -- the desk's own follow-ups ---------------------------------------------------------------------------


async def reminder(session: AsyncSession, ticket: Ticket, number: int, left: timedelta, policy: DeskPolicy) -> bool:
    """The `number`th reminder of the question the ticket waits on, and when it resolves without an answer."""
    customer, lang = await recipient(session, ticket, policy)
    if not reachable(customer):
        return False
    question = await repos.last_event_note(session, ticket.id, "question")
    quoted = t(lang, "scheduler.reminder.question", text=shorten(question, 300)) if question else ""
    key = "scheduler.reminder.first" if number == 1 else "scheduler.reminder.second"
    text = t(lang, key, number=ticket.number, question=Safe(quoted), when=_in_time(left)(lang))
    return tell(session, ticket, customer, text, buttons=answer_button(ticket, lang))


async def auto_resolved(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> bool:
    """Resolved because the customer did not answer: it closes unless they say it is not fixed."""
    when = _in_time(policy.resolved_auto_close_after)
    return await _notify(session, ticket, policy, "scheduler.waiting.auto_resolved", when=when, buttons=fixed_buttons)


async def close_warning(session: AsyncSession, ticket: Ticket, left: timedelta, policy: DeskPolicy) -> bool:
    when = _in_time(left)
    key = "scheduler.closing.warning"  # its own customer's: linked tickets close with their major incident
    return await _notify(session, ticket, policy, key, when=when, buttons=fixed_buttons, everyone=False)


async def auto_closed(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> bool:
    return await _notify(session, ticket, policy, "scheduler.closing.closed")


async def work_continues(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> bool:
    """A progress update for an urgent incident nobody has written about for a while."""
    return await _notify(session, ticket, policy, "scheduler.progress.customer")


async def satisfaction_survey(session: AsyncSession, ticket: Ticket, policy: DeskPolicy) -> bool:
    """The satisfaction survey (not linked: a reply to it may be the rating's comment, see `helpdesk.survey`)."""
    customer, lang = await recipient(session, ticket, policy)
    return tell(session, ticket, customer, survey.question(lang, ticket), buttons=survey.buttons(ticket), linked=False)


# -- major incidents and declared outages ----------------------------------------------------------------


async def linked(session: AsyncSession, ticket: Ticket, parent: Ticket, policy: DeskPolicy) -> bool:
    """The ticket is now part of a major incident: its customer hears that incident's updates from now on."""
    customer, lang = await recipient(session, ticket, policy)
    text = t(lang, "major.customer.linked", own=ticket.number, parent=parent.number)
    return tell(session, ticket, customer, text)


async def unlinked(session: AsyncSession, ticket: Ticket, parent: Ticket, policy: DeskPolicy) -> bool:
    customer, lang = await recipient(session, ticket, policy)
    text = t(lang, "major.customer.unlinked", own=ticket.number, parent=parent.number)
    return tell(session, ticket, customer, text)


def follower_told(session: AsyncSession, customer: Customer, text: str) -> bool:
    """A follower of a declared outage (no ticket of theirs is involved): an update or its end."""
    if not reachable(customer):
        return False
    outbox.send_text(session, customer.chat_id, text)
    return True
