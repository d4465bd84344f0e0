"""The queries of the recurring-problem report (helpdesk/problem_report.py), aggregated in SQL: incidents
by cause, by service and by category in a period and the period before, repeat reporters, and the major
incidents with how many tickets are linked under each.

An outage's linked reports are one incident here (only tickets linked under no major incident count), so
twenty reports of one internet outage count once for the internet; who reported how often counts every
ticket of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Customer, Ticket
from storage.reports import _at

CURRENT, PREVIOUS = 1, 0


def _incidents() -> list[Any]:
    return [Ticket.ticket_type == "incident", col(Ticket.parent_id).is_(None)]


async def incidents_by(
    session: AsyncSession, what: str, previous_start: datetime, start: datetime, end: datetime
) -> dict[str | None, tuple[int, int]]:
    """Incidents by `what` — "cause" (those resolved in the period), "service" or "category" (those
    created in it) — as {value: (this period, the previous one)}."""
    if what == "cause":
        moment, value = col(Ticket.resolved_at), col(Ticket.cause)
    elif what == "service":
        moment, value = col(Ticket.created_at), func.coalesce(col(Ticket.service_key), col(Ticket.service))
    else:
        moment, value = col(Ticket.created_at), col(Ticket.category)
    which = case((moment >= _at(start), literal_column(str(CURRENT), Integer())), else_=PREVIOUS).label("which")
    stmt = (
        select(value.label("value"), which, func.count())
        .where(*_incidents(), moment >= _at(previous_start), moment < _at(end))
        .group_by(value, which)
    )
    found: dict[str | None, list[int]] = {}
    for key, period, count in (await session.execute(stmt)).all():
        found.setdefault(key, [0, 0])[0 if period == CURRENT else 1] += int(count)
    return {key: (current, previous) for key, (current, previous) in found.items()}


async def incidents_created(
    session: AsyncSession, previous_start: datetime, start: datetime, end: datetime
) -> tuple[int, int]:
    """(incidents created in the period, in the previous one), an outage's linked reports counted once."""
    counts = await incidents_by(session, "category", previous_start, start, end)
    return sum(c for c, _ in counts.values()), sum(p for _, p in counts.values())


@dataclass(frozen=True)
class Reporter:
    name: str
    username: str | None
    tickets: int


async def repeat_reporters(session: AsyncSession, start: datetime, end: datetime, limit: int = 5) -> list[Reporter]:
    """Customers with two incidents or more created in the period, most first."""
    count = func.count(col(Ticket.id))
    stmt = (
        select(col(Customer.first_name), col(Customer.last_name), col(Customer.username), count)
        .join(Customer, col(Customer.id) == col(Ticket.customer_id))
        .where(Ticket.ticket_type == "incident", Ticket.created_at >= _at(start), Ticket.created_at < _at(end))
        .group_by(col(Customer.id), col(Customer.first_name), col(Customer.last_name), col(Customer.username))
        .having(count >= 2)
        .order_by(count.desc(), col(Customer.id))
        .limit(limit)
    )
    return [
        Reporter(" ".join(p for p in (first, last) if p).strip() or (f"@{user}" if user else "—"), user, int(n))
        for first, last, user, n in (await session.execute(stmt)).all()
    ]


@dataclass(frozen=True)
class MajorIncidentRow:
    number: str
    state: str
    description: str
    linked: int


async def major_incidents(
    session: AsyncSession, start: datetime, end: datetime, limit: int = 5
) -> list[MajorIncidentRow]:
    """The major incidents open at some moment of the period, the most linked tickets first."""
    child = aliased(Ticket)
    linked = (select(func.count(col(child.id))).where(col(child.parent_id) == col(Ticket.id)).scalar_subquery()).label(
        "linked"
    )
    stmt = (
        select(col(Ticket.number), col(Ticket.state), col(Ticket.description), linked)
        .where(
            col(Ticket.is_major).is_(True),
            Ticket.created_at < _at(end),
            or_(col(Ticket.closed_at).is_(None), and_(col(Ticket.closed_at) >= _at(start))),
        )
        .order_by(linked.desc(), col(Ticket.seq))
        .limit(limit)
    )
    return [MajorIncidentRow(n, s, d, int(c)) for n, s, d, c in (await session.execute(stmt)).all()]
