"""The report queries: every figure of /stats, /export and the daily digest, aggregated in SQL.

Counting happens in the database (GROUP BY over bucket indexes, medians with window functions), so a
desk of 100,000 tickets answers in a fraction of a second and only a few hundred rows ever reach Python.
Buckets are given as UTC edges (see helpdesk/report_period.py); a row's bucket is found by a balanced
CASE over those edges, which both backends evaluate with a handful of comparisons and no time zones.

Whether an SLA clock was met is decided exactly as the SLA watch (scheduler/followup_sweeps.py) decides
a breach, from the due time stored on the ticket: the due times already count working time
(BUSINESS_HOURS) and move on by every pause, so nothing is recomputed here. A clock is

- met when it stopped (first response, resolution) at or before its due time;
- breached when it stopped after it, or when it is still running and its due time has passed — the
  watch's `now >= due`. A clock paused while the ticket waits on the customer counts as running until
  the moment of the pause (its due time moves on when the pause ends);
- undecided while it runs within its target, and out of the count for a ticket cancelled before it
  stopped (the watch no longer looks at cancelled tickets either).

A met clock is decided when it stopped, a breached one when its due time passed, so a breach is
counted on the day it happened, also if the answer came a week later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, literal_column, null, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ReportSchedule, SelfHelpEvent, Ticket
from storage.repos import dialect_insert
from storage.types import UTCDateTime

#: the two SLA clocks: (due time, the moment the clock stopped)
CLOCKS: dict[str, tuple[Any, Any]] = {
    "first_response": (col(Ticket.first_response_due), col(Ticket.first_response_at)),
    "resolution": (col(Ticket.resolution_due), col(Ticket.resolved_at)),
}
MET, BREACHED = 1, 0


class seconds_between(FunctionElement[float]):
    """`later - earlier` in seconds, as a float, on either backend."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"((julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)})) * 86400.0)"


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


def bucket_of(column: Any, edges: Sequence[datetime]) -> ColumnElement[int]:
    """The index i of the bucket [edges[i], edges[i+1]) that holds `column` (rows outside are filtered
    by the caller): a CASE tree halving the edges at each level, log2(buckets) comparisons per row.

    The outer test against the last edge keeps the expression a CASE even for one bucket (a bare `0`
    in GROUP BY would be read as a column number)."""

    def split(low: int, high: int) -> ColumnElement[int]:
        if high - low <= 1:
            return literal_column(str(low), Integer())
        middle = (low + high) // 2
        return case((column < _at(edges[middle]), split(low, middle)), else_=split(middle, high))

    buckets = len(edges) - 1
    return case((column < _at(edges[-1]), split(0, buckets)), else_=literal_column(str(buckets), Integer()))


def sla_outcome(clock: str, now: datetime) -> ColumnElement[int | None]:
    """MET (1), BREACHED (0), or NULL while undecided (see the module's docstring)."""
    due, done = CLOCKS[clock]
    return case(
        (due.is_(None), null()),
        (and_(done.is_not(None), done <= due), literal_column(str(MET), Integer())),
        (done.is_not(None), literal_column(str(BREACHED), Integer())),
        (col(Ticket.state) == "cancelled", null()),
        (func.coalesce(col(Ticket.sla_paused_at), _at(now)) >= due, literal_column(str(BREACHED), Integer())),
        else_=null(),
    )


def sla_decided_at(clock: str) -> ColumnElement[datetime]:
    """When the outcome was decided: the stop of a met clock, the due time of a breached one."""
    due, done = CLOCKS[clock]
    return case((and_(done.is_not(None), done <= due), done), else_=due)


def _within(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= _at(start), column < _at(end))


# -- /stats figures ----------------------------------------------------------------------------------


async def created_by_bucket(session: AsyncSession, edges: Sequence[datetime]) -> list[tuple[int, str, str, str, int]]:
    """(bucket, type, category, priority, tickets) for tickets created within the edges."""
    bucket = bucket_of(col(Ticket.created_at), edges).label("bucket")
    stmt = (
        select(bucket, col(Ticket.ticket_type), col(Ticket.category), col(Ticket.priority), func.count())
        .where(_within(col(Ticket.created_at), edges[0], edges[-1]))
        .group_by(bucket, col(Ticket.ticket_type), col(Ticket.category), col(Ticket.priority))
    )
    return [(int(b), str(ty), str(c), str(p), int(n)) for b, ty, c, p, n in (await session.execute(stmt)).all()]


async def sla_by_bucket(
    session: AsyncSession, clock: str, edges: Sequence[datetime], now: datetime
) -> list[tuple[int, int, int]]:
    """(bucket, outcome, clocks) for the clocks decided within the edges."""
    decided = (
        select(sla_outcome(clock, now).label("outcome"), sla_decided_at(clock).label("decided"))
        .where(col(CLOCKS[clock][0]).is_not(None))
        .subquery()
    )
    bucket = bucket_of(decided.c.decided, edges).label("bucket")
    stmt = (
        select(bucket, decided.c.outcome, func.count())
        .where(decided.c.outcome.is_not(None), _within(decided.c.decided, edges[0], edges[-1]))
        .group_by(bucket, decided.c.outcome)
    )
    return [(int(b), int(o), int(n)) for b, o, n in (await session.execute(stmt)).all()]


async def median_seconds(session: AsyncSession, clock: str, start: datetime, end: datetime) -> tuple[float | None, int]:
    """The median time from creation to the clock's stop, over tickets whose clock stopped in [start, end),
    and how many those are (the two middle values averaged, as statistics.median does).

    PostgreSQL has the aggregate; SQLite counts, then reads the middle one or two of the sorted times."""
    done = CLOCKS[clock][1]
    seconds = seconds_between(done, col(Ticket.created_at))
    where = _within(done, start, end)
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(func.percentile_cont(0.5).within_group(seconds), func.count()).where(where)
        value, total = (await session.execute(stmt)).one()
        return (float(value) if value is not None else None), int(total)
    total = int((await session.execute(select(func.count()).where(where))).scalar_one())
    if not total:
        return None, 0
    middle = select(seconds.label("seconds")).where(where).order_by(seconds)
    middle = middle.offset((total - 1) // 2).limit(1 if total % 2 else 2).subquery()
    value = (await session.execute(select(func.avg(middle.c.seconds)))).scalar_one()
    return float(value), total


async def ratings_by_bucket(session: AsyncSession, edges: Sequence[datetime]) -> list[tuple[int, int, int]]:
    """(bucket, sum of ratings, ratings) for rated tickets closed within the edges."""
    bucket = bucket_of(col(Ticket.closed_at), edges).label("bucket")
    stmt = (
        select(bucket, func.sum(col(Ticket.rating)), func.count(col(Ticket.rating)))
        .where(col(Ticket.rating).is_not(None), _within(col(Ticket.closed_at), edges[0], edges[-1]))
        .group_by(bucket)
    )
    return [(int(b), int(s), int(n)) for b, s, n in (await session.execute(stmt)).all()]


async def state_counts(session: AsyncSession) -> dict[str, int]:
    """Every ticket ever registered, by its current state (the index on state answers it)."""
    stmt = select(col(Ticket.state), func.count()).group_by(col(Ticket.state))
    return {str(state): int(count) for state, count in (await session.execute(stmt)).all()}


async def self_help_counts(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    """Self-help events in [start, end) by kind (offered, opened, solved, still_needed, sent)."""
    stmt = (
        select(col(SelfHelpEvent.kind), func.count())
        .where(_within(col(SelfHelpEvent.at), start, end))
        .group_by(col(SelfHelpEvent.kind))
    )
    return {str(kind): int(count) for kind, count in (await session.execute(stmt)).all()}


# -- the digest's breaches -------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    number: str
    ticket_type: str
    priority: str
    clock: str
    due: datetime
    done: datetime | None
    assignee: str | None


async def breaches(
    session: AsyncSession, start: datetime, end: datetime, now: datetime, limit: int = 20
) -> tuple[list[Breach], int]:
    """The SLA clocks that breached in [start, end) (first `limit`, by due time) and how many there were."""
    found: list[Breach] = []
    total = 0
    for clock, (due, done) in CLOCKS.items():
        where = (sla_outcome(clock, now) == BREACHED, _within(due, start, end))
        total += int((await session.execute(select(func.count()).where(*where))).scalar_one())
        stmt = (
            select(
                col(Ticket.number),
                col(Ticket.ticket_type),
                col(Ticket.priority),
                due,
                done,
                col(Ticket.assignee_name),
            )
            .where(*where)
            .order_by(due, col(Ticket.seq))
            .limit(limit)
        )
        for number, ticket_type, priority, due_at, done_at, assignee in (await session.execute(stmt)).all():
            found.append(Breach(number, ticket_type, priority, clock, due_at, done_at, assignee))
    found.sort(key=lambda b: (b.due, b.number))
    return found[:limit], total


# -- /export ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    number: str
    ticket_type: str
    category: str
    priority: str
    state: str
    created: datetime
    first_response: datetime | None
    resolved: datetime | None
    closed: datetime | None
    first_response_met: bool | None
    resolution_met: bool | None
    assignee: str | None
    rating: int | None
    cause: str | None = None  # the closing report's cause (helpdesk.vocabulary.Cause)
    team: str | None = None  # the team working it (TEAMS); None: the general desk


def _met(outcome: int | None) -> bool | None:
    return None if outcome is None else outcome == MET


async def export_rows(session: AsyncSession, start: datetime, end: datetime, now: datetime) -> list[ExportRow]:
    """One row per ticket created in [start, end), oldest first, with both SLA outcomes as of `now`."""
    stmt = (
        select(
            col(Ticket.number),
            col(Ticket.ticket_type),
            col(Ticket.category),
            col(Ticket.priority),
            col(Ticket.state),
            col(Ticket.created_at),
            col(Ticket.first_response_at),
            col(Ticket.resolved_at),
            col(Ticket.closed_at),
            sla_outcome("first_response", now),
            sla_outcome("resolution", now),
            col(Ticket.assignee_name),
            col(Ticket.rating),
            col(Ticket.cause),
            col(Ticket.team),
        )
        .where(_within(col(Ticket.created_at), start, end))
        .order_by(col(Ticket.seq))
    )
    rows = (await session.execute(stmt)).all()
    return [
        ExportRow(*head, _met(first), _met(resolution), assignee, rating, cause, team)
        for *head, first, resolution, assignee, rating, cause, team in rows
    ]


# -- periodic reports' due times -----------------------------------------------------------------------


async def locked_schedule(session: AsyncSession, name: str) -> ReportSchedule:
    """The schedule row `name`, created when missing, locked until the transaction ends (PostgreSQL: a
    row lock; SQLite: every transaction holds the write lock), so one process at a time acts on it."""
    stmt = select(ReportSchedule).where(col(ReportSchedule.name) == name).with_for_update()
    row = (await session.execute(stmt)).scalars().first()
    if row is None:
        await session.execute(
            dialect_insert(session, ReportSchedule).values(name=name, spec="").on_conflict_do_nothing()
        )
        row = (await session.execute(stmt)).scalars().one()
    return row
