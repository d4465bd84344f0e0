"""The ticket card in the staff chat: rendered from the ticket, posted once, edited in place.

The card always shows the current state (assignee, status, priority), so the chat reads as a board.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import callbacks, outbox
from helpdesk.clock import now_utc
from helpdesk.formatting import shorten, when
from helpdesk.i18n import t
from helpdesk.people import customer_display_name
from helpdesk.policy import DeskPolicy
from storage import major_incidents, outbox_rows, repos
from storage.models import Customer, Ticket

STATE_ICONS = {
    "new": "🆕",
    "in_progress": "🔧",
    "waiting_customer": "⏳",
    "resolved": "✅",
    "closed": "🔒",
    "cancelled": "✖",
}
#: the card is edited in place (an edit cannot be split): its description is a summary, shown whole by /ticket
CARD_DESCRIPTION_LIMIT = 2500
TOPIC_RETRY_AFTER = timedelta(hours=1)
log = logging.getLogger("helpdesk.cards")
_topics_refusal_logged = False


def staff_chat_of(ticket: Ticket, policy: DeskPolicy) -> int | None:
    """Where the staff hear about the ticket: the chat its card is in, else the staff chat."""
    return ticket.staff_chat_id or policy.staff_chat_id


def card_place(ticket: Ticket, policy: DeskPolicy) -> tuple[int | None, int | None]:
    """Where a new card of the ticket goes (chat, forum topic): its team's chat, else the staff chat."""
    team = policy.teams.get(ticket.team)
    if team is not None:
        return team.chat_id, team.topic
    return policy.staff_chat_id, None


def contact_line(ticket: Ticket, customer: Customer, lang: str) -> str:
    """How to reach the customer: their own phone (shared with Telegram's button) as it is; any other
    contact (typed, or someone else's contact card) as one the customer gave, never as their phone."""
    if ticket.contact and ticket.contact != customer.phone:
        return t(lang, "card.contact_given", contact=ticket.contact)
    return ticket.contact or customer.phone or t(lang, "card.no_contact")


def card_text(
    ticket: Ticket, customer: Customer, lang: str, notes: list[str] | None = None, *, whole: bool = False
) -> str:
    """The card; `whole`: with the whole description (a message of its own, which delivery may split)."""
    who = customer_display_name(customer)
    if customer.username:
        who = f"{who} (@{customer.username})"
    text = t(
        lang,
        "card.text",
        icon=STATE_ICONS.get(ticket.state, ""),
        number=ticket.number,
        type=t(lang, f"type.{ticket.ticket_type}"),
        priority=t(lang, f"priority.{ticket.priority}"),
        category=t(lang, f"category.{ticket.category}"),
        state=t(lang, f"agents.state.{ticket.state}"),
        assignee=ticket.assignee_name or t(lang, "card.unassigned"),
        explanation=ticket.explanation,
        response_due=when(ticket.first_response_due),
        resolution_due=when(ticket.resolution_due),
        customer=who,
        customer_id=customer.telegram_id,  # what /open takes
        contact=contact_line(ticket, customer, lang),
        service=ticket.service or t(lang, "card.no_contact"),
        description=ticket.description if whole else shorten(ticket.description, CARD_DESCRIPTION_LIMIT),
    )
    notes = [*sla_notes(ticket, lang), *(notes or [])]
    if ticket.team:
        notes.insert(0, t(lang, "teams.card.team", team=ticket.team))
    if customer.unreachable_since is not None:
        notes.append(t(lang, "card.unreachable"))
    if notes:
        text += "\n\n" + "\n".join(notes)
    return text


#: states in which the SLA clocks still matter to the people looking at the card
_SLA_STATES = ("new", "in_progress", "waiting_customer")


def sla_notes(ticket: Ticket, lang: str) -> list[str]:
    """Standing SLA lines (warned, overdue) from what the SLA watch recorded on the ticket, so every later
    edit of the card keeps them, and they go once the clock is met or the ticket is done."""
    if ticket.state not in _SLA_STATES:
        return []
    flags = ticket.sla_flags or {}
    lines = []
    for clock, due, met in (
        ("first_response", ticket.first_response_due, ticket.first_response_at),
        ("resolution", ticket.resolution_due, ticket.resolved_at),
    ):
        if due is None or met is not None:
            continue
        for kind in ("breach", "warning"):
            if f"{clock}_{kind}" in flags:
                lines.append(t(lang, f"scheduler.sla.note_{clock}_{kind}", due=when(due)))
                break
    return lines


#: linked tickets named on a major incident's card (the rest are counted)
LINKED_SHOWN = 10


async def link_notes(session: AsyncSession, ticket: Ticket, lang: str) -> list[str]:
    """The links both ways: a major incident's linked tickets, or the major incident a ticket follows."""
    if ticket.is_major:
        numbers, count = await major_incidents.linked_numbers(session, ticket.id, LINKED_SHOWN)
        if not count:
            return [t(lang, "major.card.parent_alone")]
        shown = ", ".join(numbers) + (
            t(lang, "major.card.more", count=count - len(numbers)) if count > len(numbers) else ""
        )
        return [t(lang, "major.card.parent", count=count, numbers=shown)]
    if ticket.parent_id is not None:
        parent = await repos.ticket_by_id(session, ticket.parent_id)
        return [t(lang, "major.card.child", parent=parent.number if parent else "?")]
    return []


def card_buttons(ticket: Ticket, lang: str) -> outbox.Buttons:
    tid = ticket.id
    rows: outbox.Buttons = []
    if ticket.state in ("new", "in_progress", "waiting_customer"):
        first = []
        if ticket.state == "new" or not ticket.assignee_id:
            first.append((t(lang, "card.take"), callbacks.make(callbacks.AGENT, "take", tid)))
        first.append((t(lang, "card.ask"), callbacks.make(callbacks.AGENT, "ask", tid)))
        rows.append(first)
        rows.append(
            [
                (t(lang, "card.resolve"), callbacks.make(callbacks.AGENT, "res", tid)),
                (t(lang, "card.details"), callbacks.make(callbacks.AGENT, "det", tid)),
            ]
        )
    else:
        rows.append([(t(lang, "card.details"), callbacks.make(callbacks.AGENT, "det", tid))])
    return rows


def topic_name(ticket: Ticket) -> str:
    """A forum topic title for the ticket (Telegram allows 128 characters)."""
    return shorten(f"{ticket.number} · {ticket.description}", 100)


async def topics_usable(session: AsyncSession, chat_id: int) -> bool:
    """STAFF_TOPICS: False while the staff chat refuses to create topics (not a forum, no rights).

    The latest attempt decides; after a refusal cards are plain for TOPIC_RETRY_AFTER, then topics are
    tried again (the operator may have fixed the chat). The fallback is logged once per process.
    """
    global _topics_refusal_logged
    last = await outbox_rows.latest_call(session, chat_id, "createForumTopic")
    if last is None or last.status != "failed" or now_utc() - last.created_at > TOPIC_RETRY_AFTER:
        return True
    if not _topics_refusal_logged:
        _topics_refusal_logged = True
        log.warning(
            "STAFF_TOPICS: the staff chat %s refused to create a forum topic (%s); posting plain cards",
            chat_id,
            last.last_error or "no reason given",
        )
    return False


async def post_new_card(session: AsyncSession, ticket: Ticket, customer: Customer, policy: DeskPolicy) -> None:
    """Queue the card and copies of the attachments under it, in the chat of the ticket's team (its topic:
    the team's forum topic, else with STAFF_TOPICS one of the ticket's own)."""
    chat_id, team_topic = card_place(ticket, policy)
    if chat_id is None:
        return
    ticket.staff_chat_id = chat_id
    session.add(ticket)
    lang = policy.default_language
    if team_topic is None and policy.staff_topics and await topics_usable(session, chat_id):
        outbox.create_topic(session, chat_id, topic_name(ticket), ticket_id=ticket.id)
    outbox.send_text(
        session,
        chat_id,
        card_text(ticket, customer, lang, await link_notes(session, ticket, lang)),
        buttons=card_buttons(ticket, lang),
        thread_id=team_topic,
        ticket_id=ticket.id,
        link_kind="card",
    )
    files = await repos.attachments_of(session, ticket.id)
    for index, file in enumerate(files, start=1):
        caption = t(lang, "card.attachment_caption", number=ticket.number, index=index, total=len(files))
        outbox.send_file(
            session,
            chat_id,
            file.kind,
            file.file_id,
            caption=caption,
            ticket_id=ticket.id,
            link_kind="relay",
            reply_to_card=True,
        )


async def refresh_card(
    session: AsyncSession, ticket: Ticket, policy: DeskPolicy, notes: list[str] | None = None
) -> None:
    """Queue an in-place edit of the card so it shows the ticket's current state."""
    if ticket.staff_chat_id is None:
        return
    customer = await repos.customer_by_id(session, ticket.customer_id)
    if customer is None:
        return
    lang = policy.default_language
    ticket.card_version += 1
    session.add(ticket)
    notes = [*await link_notes(session, ticket, lang), *(notes or [])]
    outbox.edit_text(
        session,
        ticket.staff_chat_id,
        None,
        card_text(ticket, customer, lang, notes),
        buttons=card_buttons(ticket, lang),
        ticket_id=ticket.id,
        edits_card=True,
    )
