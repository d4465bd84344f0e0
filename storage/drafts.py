"""Intake drafts as plain rows: read with the batch's customers, written back in one executemany per batch.

Every step of an intake (a button press, an answer) reads its customer's draft and writes it back. As an ORM
object each draft was loaded with the unit of work's bookkeeping, changed attribute by attribute and flushed,
several times the row's real work; here it is a dataclass, the batch's drafts come with its customers
(`storage.repos.prefetch_customers`), and a changed or new one is queued (storage/deferred.py) on statements
built once, written with the rest of the batch's rows before the next query of the table or at commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import bindparam, delete, event, select, update
from sqlalchemy.orm import Session
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import session_info
from storage.deferred import queue_insert, queue_update
from storage.models import Draft

#: how fresh an unchanged draft's `updated_at` is kept (it only ages drafts out after days)
TOUCH_RESOLUTION = timedelta(minutes=10)

_TABLE = Draft.__table__  # type: ignore[attr-defined]
#: what an intake step may change (the rest is the key and the creation time)
_STATE = ("token", "step", "answers", "attachments", "history", "editing")


@dataclass
class DraftRow:
    """A `drafts` row. `__table__` lets code that lists a row's columns (the privacy export) read it."""

    __table__: ClassVar[Any] = _TABLE

    customer_id: int
    token: str
    step: str
    answers: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    editing: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


#: the columns of a DraftRow, in its fields' order (a query selects these to build one)
COLUMNS = tuple(_TABLE.c[name] for name in ("customer_id", *_STATE, "created_at", "updated_at"))

# Built once: a statement built for every call costs more than running it.
_BY_CUSTOMER = select(*(col(getattr(Draft, c.name)) for c in COLUMNS)).where(
    col(Draft.customer_id) == bindparam("customer_id")
)  # on the ORM's attributes, so it autoflushes a Draft object added in the same transaction
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.customer_id == bindparam("b_customer_id"))
    .values({name: bindparam(f"b_{name}") for name in (*_STATE, "updated_at")})
)
_DELETE = delete(_TABLE).where(_TABLE.c.customer_id == bindparam("customer_id"))

# The drafts this transaction knows: customer id -> row (None: known to have none). Filled by the batch's
# prefetch, kept up to date by save/delete, forgotten on rollback.
_KNOWN = "drafts.known"


def row_of(values: Any) -> DraftRow | None:
    """A DraftRow from `COLUMNS`' values (None when they are a missing outer join's NULLs)."""
    return None if values[0] is None else DraftRow(*values)


def remember(session: AsyncSession | Session, rows: dict[int, DraftRow | None]) -> None:
    """What a query found: these customers' drafts (None: none), answered from memory for the transaction."""
    session_info(session).setdefault(_KNOWN, {}).update(rows)


async def of_customer(session: AsyncSession, customer_id: int) -> DraftRow | None:
    known: dict[int, DraftRow | None] = session_info(session).setdefault(_KNOWN, {})
    if customer_id in known:
        return known[customer_id]
    found = (await session.execute(_BY_CUSTOMER, {"customer_id": customer_id})).first()
    row = known[customer_id] = row_of(found) if found is not None else None
    return row


def save(
    session: AsyncSession, row: DraftRow | None, customer_id: int, state: dict[str, Any], now: datetime
) -> DraftRow:
    """Write `state` (the `_STATE` fields) into the customer's draft, `row` as read (None: there is none).

    Only a change is written, so an answer that changes nothing (a text where a button is expected) costs
    no UPDATE beyond a coarse `updated_at`. Queued: written with the batch's other rows.
    """
    if row is None:
        row = DraftRow(customer_id=customer_id, created_at=now, updated_at=now, **state)
        queue_insert(session, _TABLE, {"customer_id": customer_id, "created_at": now, "updated_at": now, **state})
    else:
        changed = False
        for name, value in state.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if not changed and row.updated_at is not None and now - row.updated_at < TOUCH_RESOLUTION:
            return row
        row.updated_at = now
        params = {f"b_{name}": getattr(row, name) for name in (*_STATE, "updated_at")}
        queue_update(session, _TABLE, _UPDATE, {"b_customer_id": customer_id, **params})
    remember(session, {customer_id: row})
    return row


async def delete(session: AsyncSession, customer_id: int) -> None:
    """Delete the customer's draft (a queued write of it goes first: the statement involves the table)."""
    known: dict[int, DraftRow | None] = session_info(session).setdefault(_KNOWN, {})
    if customer_id in known and known[customer_id] is None:
        return  # known to have none
    await session.execute(_DELETE, {"customer_id": customer_id})
    known[customer_id] = None


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    session.info.pop(_KNOWN, None)


@event.listens_for(Session, "transient_to_pending")
def _orm_draft_added(session: Session, instance: Any) -> None:
    if isinstance(instance, Draft):  # a Draft object added (tests, tools): read it from the database
        session.info.get(_KNOWN, {}).pop(instance.customer_id, None)
