"""What customers see of their tickets: the status view and the /my list."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import callbacks
from helpdesk.formatting import shorten, when
from helpdesk.i18n import has, t
from helpdesk.numbering import parse_number
from helpdesk.outbox import Buttons
from helpdesk.people import public_agent_name
from storage import repos, ticket_lines
from storage.models import Ticket

HISTORY_LINES = 6
#: events a customer may see in their history (internal notes and SLA warnings stay with the staff)
CUSTOMER_VISIBLE = frozenset({"created", "state", "reply", "question", "answer", "message", "assign", "rating"})


def _assignee(lang: str, name: str | None) -> str | None:
    """The assignee as the customer reads it: the name, "a support agent" for one known only by id."""
    return public_agent_name(name) or (t(lang, "status.an_agent") if name else None)


def _event_line(lang: str, event: ticket_lines.EventLine) -> str:
    if event.kind == "state":
        what = t(
            lang,
            "event.state",
            from_state=t(lang, f"state.{event.from_state}") if event.from_state else "—",
            to_state=t(lang, f"state.{event.to_state}") if event.to_state else "—",
        )
    elif event.kind == "assign":
        what = t(lang, "event.assign", name=_assignee(lang, event.actor_name) or "—")
    elif event.kind == "rating":
        what = t(lang, "event.rating", rating=(event.data or {}).get("rating", "?"))
    elif has(lang, f"event.{event.kind}"):
        what = t(lang, f"event.{event.kind}")
    else:
        what = t(lang, "event.other", kind=event.kind)
    return t(lang, "status.history_line", at=when(event.at), what=what)


async def status_text(session: AsyncSession, ticket: Ticket | ticket_lines.TicketStatus, lang: str) -> str:
    text = t(
        lang,
        "status.view",
        number=ticket.number,
        type=t(lang, f"type.{ticket.ticket_type}"),
        state=t(lang, f"state.{ticket.state}"),
        priority=t(lang, f"priority.{ticket.priority}"),
        category=t(lang, f"category.{ticket.category}"),
        assignee=_assignee(lang, ticket.assignee_name) or t(lang, "status.unassigned"),
        updated=when(ticket.updated_at),
        description=shorten(ticket.description, 500),
    )
    if ticket.parent_id is not None:
        parent = await repos.ticket_by_id(session, ticket.parent_id)
        if parent is not None:
            text += "\n\n" + t(lang, "major.customer.status_linked", parent=parent.number)
    events = await ticket_lines.latest_event_lines(session, ticket.id, CUSTOMER_VISIBLE, HISTORY_LINES)
    if events:
        lines = [_event_line(lang, e) for e in events]
        text += "\n\n" + t(lang, "status.history_title") + "\n" + "\n".join(lines)
    return text


def status_button(ticket: Ticket | ticket_lines.TicketStatus, lang: str, *, on_card: bool = False) -> Buttons:
    """The Status button; `on_card`: under the status card itself, where pressing it refreshes that card
    (st:<id>:r) instead of sending another copy under it."""
    data = callbacks.make(callbacks.STATUS, ticket.id, "r") if on_card else callbacks.make(callbacks.STATUS, ticket.id)
    return [[(t(lang, "button.status") + f" {ticket.number}", data)]]


def status_not_found(lang: str, typed: str) -> str:
    """Why `/status` shows nothing: what was typed is no ticket number at all, or it is none of the
    customer's tickets (anyone else's number reads exactly like an unknown one)."""
    if parse_number(typed) is None:
        return t(lang, "status.not_a_number", typed=typed[:40])
    return t(lang, "status.not_found", number=typed[:40])


def my_list(
    lang: str, open_: Sequence[ticket_lines.TicketLine], closed: Sequence[ticket_lines.TicketLine]
) -> tuple[str, Buttons]:
    if not open_ and not closed:
        return t(lang, "status.my_empty"), [[(t(lang, "button.new"), callbacks.make(callbacks.MENU, "new"))]]
    parts = [t(lang, "status.my_title")]
    buttons: Buttons = []
    for title, tickets in (("status.my_open", open_), ("status.my_closed", closed)):
        if not tickets:
            continue
        parts.append("")
        parts.append(t(lang, title))
        for ticket in tickets:
            parts.append(
                t(
                    lang,
                    "status.my_line",
                    number=ticket.number,
                    state=t(lang, f"state.{ticket.state}"),
                    summary=shorten(ticket.description, 60),
                )
            )
            buttons.append(
                [(f"{ticket.number} · {t(lang, f'state.{ticket.state}')}", callbacks.make(callbacks.STATUS, ticket.id))]
            )
    return "\n".join(parts), buttons[:20]
