"""Customer satisfaction: a 1–5 rating after closing and an optional comment, stored on the ticket.

The survey is queued by the scheduler (`survey_due_at`); its buttons are `rt:<ticket id>:<1..5>`. After
a rating the customer's next free message (within COMMENT_WINDOW) is taken as the comment: the
conversation router calls `take_comment` before any other routing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import callbacks, cards, outbox
from helpdesk.clock import now_utc
from helpdesk.i18n import t
from helpdesk.people import customer_language
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import record_event
from storage import repos
from storage.models import Customer, Ticket

PENDING_TICKET = "rating_comment"  # customer.pending key: the ticket a comment is awaited for
PENDING_SINCE = "rating_comment_since"
COMMENT_WINDOW = timedelta(hours=1)
LOW_RATING = 2  # ratings at or below this are shown to the staff at once
RATINGS = range(1, 6)


def buttons(ticket: Ticket) -> outbox.Buttons:
    return [[(str(n), callbacks.make(callbacks.RATE, ticket.id, n)) for n in RATINGS]]


def question(lang: str, ticket: Ticket) -> str:
    return t(lang, "scheduler.survey.ask", number=ticket.number)


def stars(rating: int) -> str:
    return "⭐" * rating


def rated_text(lang: str, ticket: Ticket, rating: int) -> str:
    return t(lang, "scheduler.survey.rated", number=ticket.number, stars=stars(rating), rating=rating)


@dataclass(frozen=True)
class Rated:
    """What became of a press: `rated`, `already` (a rating exists) or `unavailable`."""

    outcome: str
    ticket: Ticket | None = None
    rating: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "rated"


async def rate(
    session: AsyncSession, customer: Customer, ticket_id: int, rating: int | None, policy: DeskPolicy
) -> Rated:
    """Store a rating from the ticket's own customer (anyone else's press looks like an outdated survey)."""
    if rating not in RATINGS:
        return Rated("unavailable")
    ticket = await repos.lock_ticket(session, ticket_id)
    if ticket is None or ticket.customer_id != customer.id or ticket.state != "closed":
        return Rated("unavailable")
    if ticket.rating is not None:
        return Rated("already", ticket, ticket.rating)
    now = now_utc()
    ticket.rating = rating
    ticket.survey_due_at = None
    session.add(ticket)
    record_event(
        session,
        ticket,
        "rating",
        actor_kind="customer",
        actor_id=customer.telegram_id,
        data={"rating": rating},
        at=now,
    )
    customer.pending = {**(customer.pending or {}), PENDING_TICKET: ticket.id, PENDING_SINCE: now.isoformat()}
    session.add(customer)
    lang = policy.default_language
    staff = cards.staff_chat_of(ticket, policy)
    if rating <= LOW_RATING and staff is not None:
        outbox.send_text(
            session,
            staff,
            t(lang, "scheduler.survey.staff_low", number=ticket.number, rating=rating),
            ticket_id=ticket.id,
            reply_to_card=True,
        )
    await cards.refresh_card(session, ticket, policy, notes=[t(lang, "scheduler.survey.card_note", rating=rating)])
    return Rated("rated", ticket, rating)


def _awaited(customer: Customer, now: datetime) -> int | None:
    pending = customer.pending or {}
    ticket_id = pending.get(PENDING_TICKET)
    if not isinstance(ticket_id, int):
        return None
    try:
        since = datetime.fromisoformat(str(pending.get(PENDING_SINCE)))
    except ValueError:
        return None
    return ticket_id if now - since <= COMMENT_WINDOW else None


async def take_comment(
    session: AsyncSession, customer: Customer, text: str | None, policy: DeskPolicy | None = None
) -> bool:
    """If a rating comment is awaited, store `text` as it and return True (the message is consumed).

    Anything else (no comment awaited, the window passed, a command, a non-text message) returns False
    and the awaited comment is forgotten, so an old rating never swallows a new request.
    """
    pending = customer.pending or {}
    if PENDING_TICKET not in pending:
        return False
    ticket_id = _awaited(customer, now_utc())
    customer.pending = {k: v for k, v in pending.items() if k not in (PENDING_TICKET, PENDING_SINCE)}
    session.add(customer)
    comment = (text or "").strip()
    if ticket_id is None or not comment or comment.startswith("/"):
        return False
    ticket = await repos.ticket_by_id(session, ticket_id)
    if ticket is None or ticket.customer_id != customer.id:
        return False
    ticket.rating_comment = comment
    session.add(ticket)
    record_event(
        session,
        ticket,
        "rating_comment",
        actor_kind="customer",
        actor_id=customer.telegram_id,
        note=ticket.rating_comment,
        data={"rating": ticket.rating},
    )
    desk_lang = policy.default_language if policy is not None else ticket.language
    lang = customer_language(customer, desk_lang)
    outbox.send_text(session, customer.chat_id, t(lang, "scheduler.survey.comment_thanks"), ticket_id=ticket.id)
    staff = ticket.staff_chat_id or (policy.staff_chat_id if policy is not None else None)
    if staff is not None:
        outbox.send_text(
            session,
            staff,
            t(
                desk_lang,
                "scheduler.survey.staff_comment",
                number=ticket.number,
                rating=ticket.rating or "?",
                comment=ticket.rating_comment,
            ),
            ticket_id=ticket.id,
            reply_to_card=True,
        )
    return True
