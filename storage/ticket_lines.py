"""Customers' views of their tickets as plain rows: `/my`'s list and `/status`'s card and history.

Every `/my` and `/status` runs one of these, so they skip the ORM: loading whole tickets (forty columns
with their type conversions) and building statements per call cost more than the rest of the view.
Statements are built once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, union_all
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Ticket, TicketEvent
from storage.repos import NEWEST_FIRST, OPEN_STATES


@dataclass(frozen=True)
class TicketLine:
    """A ticket as a customer's list shows it: no ORM object (every /my reads a customer's tickets)."""

    id: int
    number: str
    state: str
    description: str
    updated_at: datetime


_LINE_COLUMNS = (col(Ticket.id), col(Ticket.number), col(Ticket.state), col(Ticket.description), col(Ticket.updated_at))
# the open ones and the recently closed ones, each limited on its own, in one statement
_CUSTOMER_LINES = union_all(
    select(*_LINE_COLUMNS)
    .where(Ticket.customer_id == bindparam("customer_id"), col(Ticket.state).in_(OPEN_STATES))
    .order_by(*NEWEST_FIRST)
    .limit(bindparam("open_n"))
    .subquery()
    .select(),
    select(*_LINE_COLUMNS)
    .where(
        Ticket.customer_id == bindparam("customer_id"),
        col(Ticket.state).not_in(OPEN_STATES),
        Ticket.updated_at >= bindparam("since"),
    )
    .order_by(*NEWEST_FIRST)
    .limit(bindparam("closed_n"))
    .subquery()
    .select(),
)


async def ticket_lines_of_customer(
    session: AsyncSession, customer_id: int, closed_since: datetime, *, open_limit: int = 50, closed_limit: int = 10
) -> tuple[list[TicketLine], list[TicketLine]]:
    """The customer's open tickets and those closed since `closed_since`, newest first, in one query."""
    params = {"customer_id": customer_id, "since": closed_since, "open_n": open_limit, "closed_n": closed_limit}
    lines = [TicketLine(*row) for row in (await session.execute(_CUSTOMER_LINES, params)).all()]
    lines.sort(key=lambda line: (line.updated_at, line.id), reverse=True)
    return [x for x in lines if x.state in OPEN_STATES], [x for x in lines if x.state not in OPEN_STATES]


@dataclass(frozen=True)
class TicketStatus:
    """A ticket as `/status` shows it to its customer: no ORM object (every /status reads one, and loading a
    whole ticket, forty columns with their type conversions, cost more than the rest of the view)."""

    id: int
    number: str
    customer_id: int
    ticket_type: str
    state: str
    priority: str
    category: str
    assignee_name: str | None
    updated_at: datetime
    description: str
    parent_id: int | None


@dataclass(frozen=True)
class EventLine:
    """An event as a ticket's history lines show it (no ORM object)."""

    at: datetime
    kind: str
    from_state: str | None
    to_state: str | None
    actor_name: str | None
    data: dict[str, Any] | None


_STATUS_BY_NUMBER = select(*(col(getattr(Ticket, f.name)) for f in fields(TicketStatus))).where(
    Ticket.number == bindparam("number")
)
_EVENT_LINES: dict[frozenset[str], Any] = {}  # per set of kinds (a handful in all), built once


def _latest_event_lines(kinds: Collection[str]) -> Any:
    """The statement with the kinds written in: an expanding IN was rendered anew at every execution."""
    key = frozenset(kinds)
    stmt = _EVENT_LINES.get(key)
    if stmt is None:
        stmt = _EVENT_LINES[key] = (
            select(*(col(getattr(TicketEvent, f.name)) for f in fields(EventLine)))
            .where(TicketEvent.ticket_id == bindparam("ticket_id"), col(TicketEvent.kind).in_(sorted(key)))
            .order_by(col(TicketEvent.id).desc())
            .limit(bindparam("n"))
        )
    return stmt


async def _plain_rows(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> Sequence[Any]:
    """Rows of columns run on the transaction's connection, past the ORM's result machinery (which loads
    plain columns through the same steps as objects); what the unit of work holds is flushed first, as a
    query would autoflush it."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    return (await (await session.connection()).execute(stmt, params)).all()


async def ticket_status_by_number(session: AsyncSession, number: str) -> TicketStatus | None:
    """What `/status` shows of the ticket with this exact number."""
    rows = await _plain_rows(session, _STATUS_BY_NUMBER, {"number": number})
    return TicketStatus(*rows[0]) if rows else None


async def latest_event_lines(
    session: AsyncSession, ticket_id: int, kinds: Collection[str], limit: int
) -> list[EventLine]:
    """The ticket's latest `limit` events of these kinds as history lines, oldest first."""
    rows = await _plain_rows(session, _latest_event_lines(kinds), {"ticket_id": ticket_id, "n": limit})
    return [EventLine(*row) for row in reversed(rows)]
