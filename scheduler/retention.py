"""The daily retention sweep: erase personal data older than RETENTION_DAYS (see helpdesk/privacy.py).

Registered by `scheduler.schedule.register_sweeps` only when RETENTION_DAYS is set. Each batch is its own
transaction, claimed with FOR UPDATE SKIP LOCKED, so every bot process may run the sweep at the same
time without erasing twice or waiting on each other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from helpdesk import metrics, privacy
from helpdesk.clock import now_utc
from storage.db import Database

log = logging.getLogger("bot.retention")

BATCH = 100


async def retention_sweep(
    db: Database, days: int, *, now: datetime | None = None, batch: int = BATCH
) -> privacy.Erasure:
    """Erase what is older than `days`; returns what was erased."""
    if days < 1:
        raise ValueError("RETENTION_DAYS must be at least 1")
    cutoff = (now or now_utc()) - timedelta(days=days)
    total = privacy.Erasure()
    while True:
        async with db.session() as session:
            part = await privacy.erase_finished_tickets(session, cutoff, limit=batch)
        metrics.personal_data_erased.inc(part.tickets)
        total.add(part)
        if part.tickets < batch:
            break
    while True:
        async with db.session() as session:
            customers = await privacy.erase_idle_customers(session, cutoff, limit=batch)
        total.customers += customers
        if customers < batch:
            break
    async with db.session() as session:
        total.add(await privacy.erase_old_traces(session, cutoff))
    if total.anything:
        log.info(
            "retention (%d days): erased %d tickets, %d customers' names, %d drafts, %d inbox and %d outbox rows, "
            "%d labelled texts",
            days,
            total.tickets,
            total.customers,
            total.drafts,
            total.inbox,
            total.outbox,
            total.labels,
        )
    return total
