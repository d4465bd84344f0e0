"""The queries of major incidents: linked tickets, what grouping compares a new report with, merge
proposals, declared outages and their followers (docs/major-incidents.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, or_
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as SyncSession
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox_rows, repos
from storage.models import Counter, Customer, DeclaredOutage, MajorProposal, OutageFollower, OutboxMessage, Ticket
from storage.repos import OPEN_STATES, TICKET_COUNTER, dialect_insert, next_value

#: the latest members of a major incident a new report is compared with (helpdesk.outages.placement)
GROUP_SAMPLE = 20


@dataclass(frozen=True)
class ReportRow:
    """An open incident as grouping reads it (no ORM object: hundreds are read per new report)."""

    id: int
    description: str
    service_key: str | None
    category: str
    created_at: datetime
    parent_id: int | None
    is_major: bool


_REPORT_COLUMNS = (
    col(Ticket.id),
    col(Ticket.description),
    col(Ticket.service_key),
    col(Ticket.category),
    col(Ticket.created_at),
    col(Ticket.parent_id),
    col(Ticket.is_major),
)


def _open_incidents() -> tuple:
    return (Ticket.ticket_type == "incident", col(Ticket.state).in_(OPEN_STATES))


async def reports_for_grouping(session: AsyncSession, since: datetime, exclude: int | None = None) -> list[ReportRow]:
    """What a new report is compared with: the open incidents not linked anywhere that arrived since
    `since` (the window), every open major incident whatever its age, and of each its latest members."""
    window = select(*_REPORT_COLUMNS).where(
        *_open_incidents(), col(Ticket.parent_id).is_(None), Ticket.created_at >= since
    )
    majors = select(*_REPORT_COLUMNS).where(*_open_incidents(), col(Ticket.is_major).is_(True))
    rows = {row[0]: ReportRow(*row) for stmt in (window, majors) for row in (await session.execute(stmt)).all()}
    for major in [r for r in rows.values() if r.is_major]:
        members = (
            select(*_REPORT_COLUMNS)
            .where(*_open_incidents(), Ticket.parent_id == major.id)
            .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
            .limit(GROUP_SAMPLE)
        )
        rows.update({row[0]: ReportRow(*row) for row in (await session.execute(members)).all()})
    rows.pop(exclude, None)
    return sorted(rows.values(), key=lambda r: (r.created_at, r.id))


# Built once: every first description of a customer asks for the known outages (an offer before the form),
# and building a statement costs more than running it on an empty result.
_OPEN_MAJOR_INCIDENTS = (
    select(Ticket).where(col(Ticket.is_major).is_(True), col(Ticket.state).in_(OPEN_STATES)).order_by(col(Ticket.id))
)


_ANY_KNOWN_OUTAGE = select(
    or_(
        _OPEN_MAJOR_INCIDENTS.with_only_columns(col(Ticket.id)).order_by(None).exists(),
        select(col(DeclaredOutage.id)).where(col(DeclaredOutage.ended_at).is_(None)).exists(),
    )
)


async def any_known_outage(session: AsyncSession) -> bool:
    """Whether any major incident is open or any declared outage is on, in one query: every first
    description asks, and almost always there is none (then the two reads below are not needed).

    Only a pending change to a ticket or an outage is flushed first: anything else the transaction has
    not flushed yet (a batch's new drafts) cannot change the answer and is left to be written together.
    "None" is remembered for the rest of the transaction (a batch asks once for all its first
    descriptions) until it writes a ticket or an outage (`_forget_no_outage`); like the batch's other
    reads, another process's outage declared meanwhile is seen by the next transaction."""
    sync = session.sync_session
    if _outage_rows_pending(sync):
        await session.flush()
    if sync.info.get(_NO_KNOWN_OUTAGE):
        return False
    with sync.no_autoflush:
        found = bool((await session.execute(_ANY_KNOWN_OUTAGE)).scalar())
    if not found:
        sync.info[_NO_KNOWN_OUTAGE] = True
    return found


def _outage_rows_pending(session: SyncSession) -> bool:
    """Does the unit of work hold a ticket or an outage to write?"""
    pending = (session.new, session.dirty, session.deleted)
    return any(isinstance(row, (Ticket, DeclaredOutage)) for rows in pending for row in rows)


#: session.info key: this transaction found no known outage and has written no ticket or outage since
_NO_KNOWN_OUTAGE = "no_known_outage"
_OUTAGE_TABLES = frozenset({Ticket.__tablename__, DeclaredOutage.__tablename__})


@event.listens_for(SyncSession, "after_flush")
def _forget_no_outage_on_flush(session: SyncSession, _context: Any) -> None:
    """A flushed ticket or outage (new, changed, deleted: the lists still hold them here) may be one."""
    if _NO_KNOWN_OUTAGE in session.info and _outage_rows_pending(session):
        del session.info[_NO_KNOWN_OUTAGE]


@event.listens_for(SyncSession, "do_orm_execute")
def _forget_no_outage_on_write(state: ORMExecuteState) -> None:
    """An INSERT, UPDATE or DELETE of tickets or outages run as a statement, past the unit of work."""
    if _NO_KNOWN_OUTAGE in state.session.info and (state.is_insert or state.is_update or state.is_delete):
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _OUTAGE_TABLES:
            del state.session.info[_NO_KNOWN_OUTAGE]


@event.listens_for(SyncSession, "after_commit")
@event.listens_for(SyncSession, "after_soft_rollback")
def _forget_no_outage(session: SyncSession, *_args: Any) -> None:
    """A new transaction (or a savepoint's rollback, which may bring back an outage ended in it) asks again."""
    session.info.pop(_NO_KNOWN_OUTAGE, None)


async def open_major_incidents(session: AsyncSession) -> Sequence[Ticket]:
    return (await session.exec(_OPEN_MAJOR_INCIDENTS)).all()


async def member_reports(session: AsyncSession, parent_id: int, limit: int = GROUP_SAMPLE) -> list[ReportRow]:
    """The latest reports linked under a major incident (any state)."""
    stmt = (
        select(*_REPORT_COLUMNS)
        .where(Ticket.parent_id == parent_id)
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
        .limit(limit)
    )
    return [ReportRow(*row) for row in (await session.execute(stmt)).all()]


# -- linked tickets ---------------------------------------------------------------------------------------


async def linked_tickets(session: AsyncSession, parent_id: int, *, lock: bool = False) -> Sequence[Ticket]:
    """The tickets linked under `parent_id`, oldest first; `lock`: row-locked and freshly read."""
    stmt = select(Ticket).where(Ticket.parent_id == parent_id).order_by(col(Ticket.seq))
    if lock:
        stmt = repos.locked(stmt)
    return (await session.exec(stmt)).all()


async def linked_with_customers(session: AsyncSession, parent_id: int) -> list[tuple[Ticket, Customer]]:
    """The linked tickets and their customers, in one query (a broadcast to hundreds)."""
    stmt = (
        select(Ticket, Customer)
        .join(Customer, col(Customer.id) == col(Ticket.customer_id))
        .where(Ticket.parent_id == parent_id)
        .order_by(col(Ticket.seq))
    )
    return [(ticket, customer) for ticket, customer in (await session.exec(stmt)).all()]


async def linked_numbers(session: AsyncSession, parent_id: int, limit: int) -> tuple[list[str], int]:
    """The numbers of the first `limit` linked tickets, and how many there are."""
    stmt = select(Ticket.number).where(Ticket.parent_id == parent_id).order_by(col(Ticket.seq)).limit(limit)
    numbers = list((await session.exec(stmt)).all())
    total = (await session.exec(select(func.count()).where(Ticket.parent_id == parent_id))).one()
    return numbers, int(total)


async def tickets_by_ids(session: AsyncSession, ids: Sequence[int], *, lock: bool = False) -> list[Ticket]:
    """The tickets with these ids, in the order of `ids` (missing ones left out)."""
    if not ids:
        return []
    stmt = select(Ticket).where(col(Ticket.id).in_(list(ids)))
    if lock:
        stmt = repos.locked(stmt)
    found = {ticket.id: ticket for ticket in (await session.exec(stmt)).all()}
    return [found[i] for i in ids if i in found]


# -- proposals --------------------------------------------------------------------------------------------


async def proposal(session: AsyncSession, proposal_id: int, *, lock: bool = False) -> MajorProposal | None:
    stmt = select(MajorProposal).where(MajorProposal.id == proposal_id)
    if lock:
        stmt = repos.locked(stmt)
    return (await session.exec(stmt)).first()


async def proposals_since(session: AsyncSession, status: str, since: datetime) -> Sequence[MajorProposal]:
    stmt = select(MajorProposal).where(MajorProposal.status == status, MajorProposal.created_at >= since)
    return (await session.exec(stmt.order_by(col(MajorProposal.id)))).all()


async def add_proposal(session: AsyncSession, row: MajorProposal) -> MajorProposal:
    session.add(row)
    await session.flush()
    return row


async def rewrite_unsent(session: AsyncSession, dedupe_key: str, changes: dict[str, Any]) -> OutboxMessage | None:
    """The message queued with this dedupe key (a proposal's), its parameters updated by `changes` if
    delivery has not started on it (it is locked meanwhile); None when there is no such message. The
    caller edits a message already sent (its `result_message_id`)."""
    stmt = repos.locked(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    row = (await session.exec(stmt)).first()
    if row is not None and row.status == "pending" and row.attempts == 0 and row.locked_by is None:
        row.payload = {**row.payload, **changes}
        session.add(row)
        outbox_rows.mark_written(session)
    return row


async def lock_links(session: AsyncSession) -> None:
    """Take the links' turn before locking a major incident: the row of the ticket counter, locked until
    commit (PostgreSQL; SQLite transactions here hold the write lock anyway). Registering a ticket takes
    that row too, so every transaction that both registers and links (an intake batch of many chats) takes
    the two in the same order, counter first, and no two can wait on each other."""
    stmt = select(Counter).where(Counter.name == TICKET_COUNTER).with_for_update()
    if (await session.exec(stmt)).first() is None:
        await session.execute(
            dialect_insert(session, Counter).values(name=TICKET_COUNTER, value=0).on_conflict_do_nothing()
        )
        await session.exec(stmt)


async def take_detector_turn(session: AsyncSession) -> None:
    """Serialise the proposals' bookkeeping between processes: a row lock on a counter until commit
    (SQLite transactions here hold the write lock anyway)."""
    await next_value(session, "major_incident_detector")


# -- declared outages -------------------------------------------------------------------------------------


_ACTIVE_OUTAGES = select(DeclaredOutage).where(col(DeclaredOutage.ended_at).is_(None)).order_by(col(DeclaredOutage.id))


async def active_outages(session: AsyncSession) -> Sequence[DeclaredOutage]:
    return (await session.exec(_ACTIVE_OUTAGES)).all()


async def active_outage(session: AsyncSession, service: str, *, lock: bool = False) -> DeclaredOutage | None:
    stmt = select(DeclaredOutage).where(DeclaredOutage.service == service, col(DeclaredOutage.ended_at).is_(None))
    if lock:
        stmt = repos.locked(stmt)
    return (await session.exec(stmt.order_by(col(DeclaredOutage.id).desc()))).first()


async def outage_by_id(session: AsyncSession, outage_id: int) -> DeclaredOutage | None:
    return await session.get(DeclaredOutage, outage_id)


async def add_follower(session: AsyncSession, outage_id: int, customer_id: int, description: str, at: datetime) -> None:
    """Remember the customer as following the outage (once, however often they ask)."""
    stmt = (
        dialect_insert(session, OutageFollower)
        .values(outage_id=outage_id, customer_id=customer_id, description=description, created_at=at)
        .on_conflict_do_nothing()
    )
    await session.execute(stmt)


async def followers(session: AsyncSession, outage_id: int) -> Sequence[Customer]:
    stmt = (
        select(Customer)
        .join(OutageFollower, col(OutageFollower.customer_id) == col(Customer.id))
        .where(OutageFollower.outage_id == outage_id)
        .order_by(col(OutageFollower.id))
    )
    return (await session.exec(stmt)).all()
