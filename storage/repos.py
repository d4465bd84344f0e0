"""Repositories: every query the domain needs, in one place, so helpdesk/ never writes SQL."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import drafts
from storage.db import session_info as _info
from storage.deferred import queue_insert, write_queued
from storage.models import (
    Agent,
    Attachment,
    Counter,
    Customer,
    Draft,
    LabelledExample,
    MessageLink,
    Ticket,
    TicketEvent,
)
from storage.types import utcnow

#: the counter that numbers tickets (a row lock on it until commit: see `next_value`)
TICKET_COUNTER = "ticket"
OPEN_STATES = ("new", "in_progress", "waiting_customer")


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """INSERT with the dialect's ON CONFLICT support (SQLite and PostgreSQL share the syntax)."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


# -- counters ----------------------------------------------------------------------------------------


async def next_value(session: AsyncSession, name: str) -> int:
    """Increment and return a named counter.

    The UPDATE takes the row lock until commit, so two transactions can never get the same value;
    a rolled-back transaction gives its value back, so every committed value is used exactly once.
    """
    stmt = update(Counter).where(col(Counter.name) == name).values(value=Counter.value + 1).returning(Counter.value)
    value = (await session.execute(stmt)).scalar_one_or_none()
    if value is not None:
        return int(value)
    insert = dialect_insert(session, Counter).values(name=name, value=0).on_conflict_do_nothing()
    await session.execute(insert)
    value = (await session.execute(stmt)).scalar_one()
    return int(value)


# -- customers and agents ----------------------------------------------------------------------------


# Built once: a statement built anew for every call costs more (its cache key) than running it.
_CUSTOMER_BY_TELEGRAM_ID = select(Customer).where(Customer.telegram_id == bindparam("telegram_id"))
_CUSTOMERS_BY_TELEGRAM_IDS = select(Customer).where(
    col(Customer.telegram_id).in_(bindparam("telegram_ids", expanding=True))
)

# What a batch of updates loaded up front (see `prefetch_customers`), kept in the session's info for its
# one transaction: telegram id -> customer row (None: known not to exist), and the customer ids known to
# have no open ticket (a new ticket, or a ticket's state changing, takes the id out); their drafts are kept by
# storage.drafts.
# Cleared on any rollback, so a rolled-back insert is never taken for a row.
_CUSTOMERS = "repos.customers_by_telegram_id"
_NO_OPEN_TICKET = "repos.customers_without_open_ticket"
#: a batch's customers with their drafts and whether they have an open ticket, in one query
_CUSTOMERS_WITH_DRAFTS = (
    select(
        Customer,
        *drafts.COLUMNS,
        select(col(Ticket.id))
        .where(Ticket.customer_id == Customer.id, col(Ticket.state).in_(OPEN_STATES))
        .exists()
        .label("has_open_ticket"),
    )
    .outerjoin(Draft, col(Draft.customer_id) == col(Customer.id))
    .where(col(Customer.telegram_id).in_(bindparam("telegram_ids", expanding=True)))
)


@event.listens_for(Session, "after_soft_rollback")
def _forget_prefetched(session: Session, _previous: Any) -> None:
    session.info.pop(_CUSTOMERS, None)
    session.info.pop(_NO_OPEN_TICKET, None)


@event.listens_for(Session, "transient_to_pending")
def _row_appears(session: Session, instance: Any) -> None:
    if isinstance(instance, Ticket):
        session.info.get(_NO_OPEN_TICKET, set()).discard(instance.customer_id)


@event.listens_for(Ticket.state, "set")
def _ticket_state_changes(ticket: Ticket, _value: Any, _old: Any, _initiator: Any) -> None:
    session = object_session(ticket)
    if session is not None:  # a reopened ticket is an open one again
        session.info.get(_NO_OPEN_TICKET, set()).discard(ticket.customer_id)


async def prefetch_customers(
    session: AsyncSession,
    telegram_ids: Sequence[int],
    first_contact: Callable[[int], dict[str, Any] | None] | None = None,
) -> None:
    """Load the customers of a batch of updates, their drafts and whether they have open tickets, in one
    query for the batch instead of three per update.

    `customer_by_telegram_id`, `draft_of` and `tickets_of_customer(open_only=True)` answer from what was
    loaded for the rest of the transaction. The customers not found are inserted here, with the columns
    `first_contact(telegram_id)` gives (None: not a customer), in ONE statement (`_insert_customers`):
    each one alone was an INSERT of its own, on PostgreSQL inside a savepoint, and a row built through
    the model's validation. Only the missing ones are built: a row costs more to build than to look up.
    """
    wanted = [tid for tid in dict.fromkeys(telegram_ids) if tid not in _info(session).get(_CUSTOMERS, {})]
    if not wanted:
        return
    found = (await session.execute(_CUSTOMERS_WITH_DRAFTS, {"telegram_ids": wanted})).all()
    rows = [found_row[0] for found_row in found]
    found_drafts = {found_row[0].id: drafts.row_of(found_row[1:-1]) for found_row in found}
    with_ticket = {found_row[0].id for found_row in found if found_row[-1]}
    known: dict[int, Customer | None] = dict.fromkeys(wanted)
    known.update({row.telegram_id: row for row in rows})
    new: list[Customer] = []
    others: list[Customer] = []
    if first_contact is not None:
        built = (first_contact(tid) for tid, row in known.items() if row is None)
        new_rows = [c for c in built if c is not None]
        if new_rows:
            new, others = await _insert_customers(session, new_rows)
            known.update({c.telegram_id: c for c in new})
            rows += others
            known.update({c.telegram_id: c for c in others})
    # the ones inserted meanwhile by someone else (`others`) may have either: not known to lack them
    other_ids = {c.id for c in others}
    ids = [row.id for row in rows if row.id is not None and row.id not in other_ids]
    info = _info(session)
    info.setdefault(_CUSTOMERS, {}).update(known)
    drafts.remember(session, {customer_id: found_drafts[customer_id] for customer_id in ids})
    info.setdefault(_NO_OPEN_TICKET, set()).update(set(ids) - with_ticket)
    _remember_new(session, new)


async def _insert_customers(session: AsyncSession, rows: list[dict[str, Any]]) -> tuple[list[Customer], list[Customer]]:
    """Insert first contacts in one statement; returns (inserted, inserted meanwhile by someone else).

    `ON CONFLICT DO NOTHING`: a person another transaction inserted first (another process on PostgreSQL;
    SQLite's transactions here begin IMMEDIATE, so none) is skipped, not an error that would need a
    savepoint, and read back instead. The rows come back as ORM objects loaded from RETURNING, as a query
    loads them (not built through the model's validation).
    """
    await write_queued(session)  # queued rows keep their order before this insert (storage/deferred.py)
    rows = sorted(rows, key=lambda row: row["telegram_id"])  # the same lock order in every transaction
    inserted = list((await session.scalars(_insert_customer_rows(session), rows)).all())
    missing = {row["telegram_id"] for row in rows} - {c.telegram_id for c in inserted}
    others: list[Customer] = []
    if missing:
        found = await session.exec(_CUSTOMERS_BY_TELEGRAM_IDS, params={"telegram_ids": sorted(missing)})
        others = list(found.all())
    return inserted, others


_CUSTOMER_INSERTS: dict[str, Any] = {}  # per dialect


def _insert_customer_rows(session: AsyncSession) -> Any:
    """The first contacts' INSERT, built once and run with the rows as parameters (SQLAlchemy sends them as
    one multi-row statement): `.values(rows)` built each row's values into a new statement, one compiled
    afresh for every batch, which cost more than the insert itself."""
    dialect = session.get_bind().dialect.name
    stmt = _CUSTOMER_INSERTS.get(dialect)
    if stmt is None:
        insert = dialect_insert(session, Customer).on_conflict_do_nothing(index_elements=["telegram_id"])
        # render_nulls: a None is sent as NULL, so every row has the same columns and all go in one statement
        stmt = _CUSTOMER_INSERTS[dialect] = insert.returning(Customer).execution_options(render_nulls=True)
    return stmt


def _inserts_exclusively(session: AsyncSession) -> bool:
    """Whether no one else can insert a row between our read and our insert in this transaction.

    True on SQLite: its transactions here begin IMMEDIATE, so the write lock is ours from the start.
    """
    return session.get_bind().dialect.name == "sqlite"


def _remember_new(session: AsyncSession, customers: Sequence[Customer]) -> None:
    """Customers just inserted: known for the rest of the transaction, with no draft and no ticket yet."""
    if not customers:
        return
    info = _info(session)
    info.setdefault(_CUSTOMERS, {}).update({c.telegram_id: c for c in customers})
    ids = {c.id for c in customers if c.id is not None}
    drafts.remember(session, dict.fromkeys(ids))
    info.setdefault(_NO_OPEN_TICKET, set()).update(ids)


def assign_changed(row: Any, values: dict[str, Any]) -> bool:
    """Set the attributes whose value differs; True if any did. An unchanged row stays clean: no UPDATE."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


async def customer_by_telegram_id(session: AsyncSession, telegram_id: int) -> Customer | None:
    known = _info(session).get(_CUSTOMERS)
    if known is not None and telegram_id in known:
        row = known[telegram_id]
        if row is None or row in session:  # not deleted or expunged since it was loaded
            return row
    return (await session.exec(_CUSTOMER_BY_TELEGRAM_ID, params={"telegram_id": telegram_id})).first()


async def customer_by_id(session: AsyncSession, customer_id: int) -> Customer | None:
    return await session.get(Customer, customer_id)


async def customer_by_chat_id(session: AsyncSession, chat_id: int) -> Customer | None:
    return (await session.exec(select(Customer).where(Customer.chat_id == chat_id))).first()


async def add_customer(session: AsyncSession, customer: Customer) -> Customer:
    """Insert a customer; a concurrent insert of the same person wins and is returned instead."""
    known = _info(session).get(_CUSTOMERS, {})
    if _inserts_exclusively(session) and customer.telegram_id in known and known[customer.telegram_id] is None:
        # known absent in this transaction, and no one else can insert the person meanwhile: no savepoint
        session.add(customer)
        await session.flush()
    else:
        await write_queued(session)  # a savepoint starts with nothing queued (storage/deferred.py)
        try:
            async with session.begin_nested():
                session.add(customer)
                await session.flush()
        except IntegrityError:
            existing = await customer_by_telegram_id(session, customer.telegram_id)
            if existing is None:
                raise
            return existing
    _remember_new(session, [customer])
    return customer


async def agent_by_username(session: AsyncSession, username: str) -> Agent | None:
    stmt = select(Agent).where(func.lower(Agent.username) == username.lower().lstrip("@"))
    return (await session.exec(stmt)).first()


async def agent_by_id(session: AsyncSession, telegram_id: int) -> Agent | None:
    return await session.get(Agent, telegram_id)


# -- tickets -----------------------------------------------------------------------------------------


def locked(stmt: Any) -> Any:
    """The one way a row (a ticket above all) is read to be changed: row-locked for the rest of the
    transaction (PostgreSQL) and freshly read (a copy the session already holds is overwritten, not trusted)."""
    return stmt.with_for_update().execution_options(populate_existing=True)


# Built once, the statements every /status, /my and button press runs (see `_CUSTOMER_BY_TELEGRAM_ID`).
_TICKET_BY_NUMBER = select(Ticket).where(Ticket.number == bindparam("number"))
_TICKET_BY_NUMBER_LOCKED = locked(_TICKET_BY_NUMBER)
_TICKET_BY_ID = select(Ticket).where(Ticket.id == bindparam("ticket_id"))
_TICKET_BY_ID_LOCKED = locked(_TICKET_BY_ID)
#: newest first, ties broken by id (customers' lists, storage.ticket_lines)
NEWEST_FIRST = (col(Ticket.updated_at).desc(), col(Ticket.id).desc())
_TICKETS_OF_CUSTOMER = (
    select(Ticket).where(Ticket.customer_id == bindparam("customer_id")).order_by(*NEWEST_FIRST).limit(bindparam("n"))
)
_OPEN_TICKETS_OF_CUSTOMER = (
    select(Ticket)
    .where(Ticket.customer_id == bindparam("customer_id"), col(Ticket.state).in_(OPEN_STATES))
    .order_by(*NEWEST_FIRST)
    .limit(bindparam("n"))
)
_EVENTS_OF = (
    select(TicketEvent).where(TicketEvent.ticket_id == bindparam("ticket_id")).order_by(col(TicketEvent.id).desc())
)
_LAST_EVENTS_OF = _EVENTS_OF.limit(bindparam("n"))
_LATEST_EVENTS_OF_KINDS = (
    select(TicketEvent)
    .where(
        TicketEvent.ticket_id == bindparam("ticket_id"), col(TicketEvent.kind).in_(bindparam("kinds", expanding=True))
    )
    .order_by(col(TicketEvent.id).desc())
    .limit(bindparam("n"))
)


async def ticket_by_number(session: AsyncSession, number: str) -> Ticket | None:
    """The ticket with this exact number, to read (to change it: `lock_ticket_by_number`)."""
    return (await session.exec(_TICKET_BY_NUMBER, params={"number": number})).first()


async def lock_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket, row-locked for the rest of the transaction (PostgreSQL) and freshly read (`locked`)."""
    return (await session.exec(_TICKET_BY_ID_LOCKED, params={"ticket_id": ticket_id})).first()


async def lock_ticket_by_number(session: AsyncSession, number: str) -> Ticket | None:
    """The ticket with this exact number, locked like `lock_ticket`."""
    return (await session.exec(_TICKET_BY_NUMBER_LOCKED, params={"number": number})).first()


async def ticket_in_topic(session: AsyncSession, chat_id: int, thread_id: int) -> Ticket | None:
    """The ticket whose forum topic `thread_id` of `chat_id` is, locked like `lock_ticket`."""
    stmt = select(Ticket).where(Ticket.staff_chat_id == chat_id, Ticket.staff_thread_id == thread_id)
    return (await session.exec(locked(stmt))).first()


async def ticket_by_id(session: AsyncSession, ticket_id: int) -> Ticket | None:
    """The ticket, to read (to change it: `lock_ticket`)."""
    return (await session.exec(_TICKET_BY_ID, params={"ticket_id": ticket_id})).first()


async def tickets_of_customer(
    session: AsyncSession, customer_id: int, *, open_only: bool = False, limit: int = 50
) -> Sequence[Ticket]:
    if open_only and customer_id in _info(session).get(_NO_OPEN_TICKET, ()):
        return []  # known from the batch's prefetch (see `prefetch_customers`)
    stmt = _OPEN_TICKETS_OF_CUSTOMER if open_only else _TICKETS_OF_CUSTOMER
    return (await session.exec(stmt, params={"customer_id": customer_id, "n": limit})).all()


async def open_tickets(
    session: AsyncSession, limit: int = 200, *, teams: Sequence[str] | None = None, known_teams: Sequence[str] = ()
) -> Sequence[Ticket]:
    """The queue: open tickets by priority, then by the earliest SLA due time. `teams`: only these teams'
    tickets, "" for the general desk's (no team, or a team no longer among `known_teams`)."""
    due = func.coalesce(Ticket.first_response_due, Ticket.resolution_due)
    stmt = select(Ticket).where(col(Ticket.state).in_(OPEN_STATES))
    if teams is not None:
        named = [name for name in teams if name]
        wanted = [col(Ticket.team).in_(named)] if named else []
        if "" in teams:
            wanted.append(or_(col(Ticket.team).is_(None), col(Ticket.team).not_in(list(known_teams))))
        stmt = stmt.where(or_(*wanted))
    stmt = stmt.order_by(col(Ticket.priority), due.is_(None), due, col(Ticket.id)).limit(limit)
    return (await session.exec(stmt)).all()


async def tickets_created_since(session: AsyncSession, since: datetime) -> Sequence[Ticket]:
    return (await session.exec(select(Ticket).where(Ticket.created_at >= since))).all()


async def all_tickets(session: AsyncSession) -> Sequence[Ticket]:
    return (await session.exec(select(Ticket))).all()


async def events_of(session: AsyncSession, ticket_id: int, limit: int | None = None) -> Sequence[TicketEvent]:
    if limit:
        rows = (await session.exec(_LAST_EVENTS_OF, params={"ticket_id": ticket_id, "n": limit})).all()
    else:
        rows = (await session.exec(_EVENTS_OF, params={"ticket_id": ticket_id})).all()
    return list(reversed(rows))


async def latest_events_of_kinds(
    session: AsyncSession, ticket_id: int, kinds: Collection[str], limit: int
) -> list[TicketEvent]:
    """The ticket's latest `limit` events of these kinds, oldest first."""
    stmt = _LATEST_EVENTS_OF_KINDS
    params = {"ticket_id": ticket_id, "kinds": list(kinds), "n": limit}
    return list(reversed((await session.exec(stmt, params=params)).all()))


async def last_event_note(session: AsyncSession, ticket_id: int, kind: str) -> str | None:
    """The note of the ticket's latest event of this kind (e.g. the last question asked), or None."""
    stmt = (
        select(TicketEvent.note)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
        .order_by(col(TicketEvent.id).desc())
        .limit(1)
    )
    return (await session.exec(stmt)).first() or None


async def attachments_of(session: AsyncSession, ticket_id: int) -> Sequence[Attachment]:
    stmt = select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(col(Attachment.id))
    return (await session.exec(stmt)).all()


# -- drafts ------------------------------------------------------------------------------------------


async def draft_of(session: AsyncSession, customer_id: int) -> drafts.DraftRow | None:
    """The customer's intake draft as a plain row (storage/drafts.py); None when there is none."""
    return await drafts.of_customer(session, customer_id)


async def delete_draft(session: AsyncSession, customer_id: int) -> None:
    await drafts.delete(session, customer_id)


# -- message links -----------------------------------------------------------------------------------


async def link_of(session: AsyncSession, chat_id: int, message_id: int) -> MessageLink | None:
    stmt = select(MessageLink).where(MessageLink.chat_id == chat_id, MessageLink.message_id == message_id)
    return (await session.exec(stmt)).first()


_LINKS = MessageLink.__table__  # type: ignore[attr-defined]


async def add_link(
    session: AsyncSession, chat_id: int, message_id: int, ticket_id: int, kind: str, data: dict[str, Any] | None = None
) -> None:
    """Link a message to its ticket (a message already linked keeps its link). Queued with the
    transaction's other rows (storage/deferred.py): delivery records a link for every message sent about a
    ticket, and an INSERT each, run at once, also flushed each row's record on its own."""
    row = {
        "chat_id": chat_id,
        "message_id": message_id,
        "ticket_id": ticket_id,
        "kind": kind,
        "data": data or {},
        "created_at": utcnow(),
    }
    queue_insert(session, _LINKS, row, skip_conflicts=True)


async def links_of_ticket(session: AsyncSession, ticket_id: int, kind: str | None = None) -> Sequence[MessageLink]:
    stmt = select(MessageLink).where(MessageLink.ticket_id == ticket_id)
    if kind:
        stmt = stmt.where(MessageLink.kind == kind)
    return (await session.exec(stmt.order_by(col(MessageLink.id)))).all()


# -- labels ------------------------------------------------------------------------------------------


async def labelled_examples(session: AsyncSession) -> Sequence[LabelledExample]:
    return (await session.exec(select(LabelledExample).order_by(col(LabelledExample.id)))).all()
