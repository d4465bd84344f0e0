"""Reports on a large desk: `/stats` (figures, chart, text) and `/export` over 100,000 tickets.

Run from the repository root: ``python benchmarks/reports.py`` (SQLite, a fresh file) and
``python benchmarks/reports.py --database postgres`` (a fresh database on the test server,
``TEST_POSTGRES_URL``, dropped afterwards). The desk is seeded with bulk inserts (``--tickets``, default
100,000, spread over ``--days``, default 365, with the weekday and office-hour rhythm of a real desk,
first responses and resolutions mostly within target, ratings on a third of the closed tickets). Then,
for each period, the median of ``--repeat`` runs of: the SQL aggregation (`helpdesk.stats.build`), the
chart (`helpdesk.report_chart.render_png`, matplotlib imported beforehand) and the text; and once, the
CSV export of the period. `/stats` answers within the sum of the first three (plus the outbox).

``--png FILE`` also writes the 7-day chart (to look at it), ``--keep`` keeps the SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.throughput import machine  # noqa: E402
from helpdesk import report_chart, report_csv, report_period, stats  # noqa: E402
from helpdesk.clock import now_utc  # noqa: E402
from helpdesk.sla import SlaPolicy  # noqa: E402
from helpdesk.vocabulary import Category, Priority, TicketType  # noqa: E402
from storage import migrate, reports  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Customer, Ticket  # noqa: E402

PRIORITY_WEIGHTS = {Priority.P1: 2, Priority.P2: 10, Priority.P3: 50, Priority.P4: 38}
CATEGORIES = {
    TicketType.INCIDENT: [c for c in Category if c.ticket_type == TicketType.INCIDENT],
    TicketType.SERVICE_REQUEST: [c for c in Category if c.ticket_type == TicketType.SERVICE_REQUEST],
}
RATINGS = [1, 2, 3, 4, 5]
RATING_WEIGHTS = [4, 5, 12, 34, 45]


def _created_at(rng: random.Random, now: datetime, days: int) -> datetime:
    """A moment in the last `days`, mostly on weekdays in office hours (UTC+3, as a Moscow desk)."""
    while True:
        moment = now - timedelta(seconds=rng.random() * days * 86400)
        local = moment + timedelta(hours=3)
        weight = (1.0 if 8 <= local.hour < 19 else 0.15) * (1.0 if local.weekday() < 5 else 0.3)
        if rng.random() < weight:
            return moment


def ticket_rows(count: int, days: int, now: datetime, customer_id: int, seed: int = 20) -> list[dict[str, Any]]:
    """`count` ticket rows with a desk's shape: SLA due times from the default targets, 85–90% of the
    clocks met, open tickets among the recent ones, ratings on a third of the closed tickets."""
    rng = random.Random(seed)
    policy = SlaPolicy()
    moments = sorted(_created_at(rng, now, days) for _ in range(count))
    rows = []
    for seq, created in enumerate(moments, start=1):
        ticket_type = TicketType.INCIDENT if rng.random() < 0.6 else TicketType.SERVICE_REQUEST
        category = rng.choice(CATEGORIES[ticket_type])
        priority = rng.choices(list(PRIORITY_WEIGHTS), list(PRIORITY_WEIGHTS.values()))[0]
        target = policy.target(ticket_type, priority)
        first_due, resolution_due = created + target.first_response, created + target.resolution
        late = rng.random() < 0.12
        first = created + target.first_response * (rng.uniform(1.05, 2.5) if late else rng.uniform(0.05, 0.9))
        resolved = first + (target.resolution - target.first_response) * (
            rng.uniform(1.0, 1.8) if rng.random() < 0.15 else rng.uniform(0.05, 0.95)
        )
        closed = resolved + timedelta(days=rng.uniform(0.2, 3))
        state, rating = "closed", None
        if rng.random() < 0.03:
            state, first, resolved, closed = "cancelled", None, None, created + timedelta(hours=rng.uniform(0.1, 8))
        elif first > now:
            state, first, resolved, closed = "new", None, None, None
        elif resolved > now:
            state, resolved, closed = ("waiting_customer" if rng.random() < 0.2 else "in_progress"), None, None
        elif closed > now:
            state, closed = "resolved", None
        elif rng.random() < 0.35:
            rating = rng.choices(RATINGS, RATING_WEIGHTS)[0]
        if closed is not None and closed > now:
            closed = None
        prefix = "INC" if ticket_type == TicketType.INCIDENT else "REQ"
        rows.append(
            {
                "number": f"{prefix}-{seq:06d}",
                "seq": seq,
                "customer_id": customer_id,
                "ticket_type": ticket_type.value,
                "category": category.value,
                "priority": priority.value,
                "impact": "team",
                "urgency": "degraded",
                "confidence": 0.8,
                "explanation": "seeded",
                "state": state,
                "description": "seeded ticket",
                "language": "en",
                "created_at": created,
                "updated_at": closed or resolved or first or created,
                "first_response_due": first_due,
                "resolution_due": resolution_due,
                "first_response_at": first,
                "resolved_at": resolved,
                "closed_at": closed,
                "sla_paused_at": now - timedelta(hours=2) if state == "waiting_customer" else None,
                "reminders_sent": 0,
                "close_warning_sent": False,
                "progress_stage": 0,
                "sla_flags": {},
                "rating": rating,
                "card_version": 0,
            }
        )
    return rows


async def seed(db: Database, count: int, days: int, now: datetime) -> float:
    """Insert the desk in batches of 5,000 (one executemany each); returns the seconds it took."""
    started = time.perf_counter()
    async with db.session() as session:
        customer = Customer(telegram_id=1, chat_id=1, first_name="Seeded")
        session.add(customer)
        await session.flush()
        customer_id = int(customer.id or 0)
    rows = ticket_rows(count, days, now, customer_id)
    table = Ticket.__table__  # type: ignore[attr-defined]
    for offset in range(0, len(rows), 5000):
        async with db.session() as session:
            await session.execute(table.insert(), rows[offset : offset + 5000])
    async with db.engine.connect() as connection:  # what autovacuum (PostgreSQL) or `ANALYZE` would know
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def _database(spec: str, keep: bool) -> AsyncIterator[str]:
    if spec == "postgres":
        from tests.support.databases import postgres_database

        async with postgres_database("bench_reports_") as url:
            yield url
        return
    if spec == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench-reports-")
        path = Path(folder) / "bot.db"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            if keep:
                print(f"kept {path}")
            else:
                path.unlink(missing_ok=True)
        return
    yield spec


async def _stats_once(db: Database, period: report_period.Period, now: datetime) -> tuple[dict[str, float], Any]:
    """One /stats as the handler does it: the figures, the chart, the text; wall and CPU seconds each."""
    times: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    async with db.read() as session:
        report = await stats.build(session, period, now)
    times["sql"], times["sql_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    png = report_chart.render_png(report, "en")
    times["chart"], times["chart_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    stats.render(report, "en")
    times["text"], times["text_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
    return times, (report, png)


async def main(args: argparse.Namespace) -> None:
    async with _database(args.database, args.keep) as url:
        db = Database(url)
        await migrate.upgrade(db)
        now = now_utc()
        seeded = await seed(db, args.tickets, args.days, now)
        backend = "SQLite" if db.is_sqlite else "PostgreSQL"
        print(f"{backend}: {args.tickets:,} tickets over {args.days} days seeded in {seeded:.1f} s")
        print(f"machine: {machine()}")
        print(f"medians of {args.repeat} runs, wall ms (CPU ms of this process; PostgreSQL's own work is not in it)")
        await _stats_once(db, report_period.last(timedelta(days=7), now, args.zone), now)  # imports matplotlib
        print(f"{'period':<7}{'tickets':>9}{'SQL':>14}{'chart':>13}{'/stats':>14}{'CSV rows':>10}{'CSV':>8}")
        for text in args.periods.split(","):
            period = report_period.last(report_period.parse_period(text), now, args.zone)
            runs = [await _stats_once(db, period, now) for _ in range(args.repeat)]
            median = {key: statistics.median(run[0][key] for run in runs) for key in runs[0][0]}
            total = statistics.median(sum(run[0][k] for k in ("sql", "chart", "text")) for run in runs)
            total_cpu = statistics.median(sum(run[0][k] for k in ("sql_cpu", "chart_cpu", "text_cpu")) for run in runs)
            report, png = runs[-1][1]
            started = time.perf_counter()
            async with db.read() as session:
                rows = await reports.export_rows(session, period.start, period.end, now)
            report_csv.to_csv(rows, args.zone)
            csv_seconds = time.perf_counter() - started

            def ms(wall: float, cpu: float) -> str:
                return f"{wall * 1000:6.0f} ({cpu * 1000:4.0f})"

            print(
                f"{text:<7}{report.created_total:>9,}{ms(median['sql'], median['sql_cpu']):>14}"
                f"{ms(median['chart'], median['chart_cpu']):>13}{ms(total, total_cpu):>14}"
                f"{len(rows):>10,}{csv_seconds:>7.2f}s"
            )
            if args.png and text == args.periods.split(",")[0]:
                await asyncio.to_thread(Path(args.png).write_bytes, png)
        await db.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite", help="sqlite (a fresh file), postgres, or a URL")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365, help="spread the tickets over this many days")
    parser.add_argument("--periods", default="7d,30d,366d")
    parser.add_argument("--zone", default="Europe/Moscow")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--png", help="write the first period's chart here")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
