"""The report's figures on real SQLite and PostgreSQL: local day buckets, SLA met as the SLA watch sees
it, medians, satisfaction, the backlog, the export's rows and an empty period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from helpdesk import due_times, report_period, stats, tickets
from helpdesk.people import Person, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, Priority, Urgency
from storage import reports
from storage.db import Database
from storage.models import Ticket

POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=-100123)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


async def make(
    db: Database, category: Category = Category.HARDWARE, priority: Priority = Priority.P3, **fields: Any
) -> Ticket:
    """A registered ticket, then `fields` set as the desk's history left them."""
    async with db.session() as session:
        who = await ensure_customer(session, Person(user_id=501, chat_id=501, first_name="Ann"))
        new = tickets.NewTicket(
            description="something",
            classification=tickets.Classification(
                category.ticket_type, category, priority, Impact.TEAM, Urgency.BLOCKED, 0.9, "test"
            ),
        )
        ticket = await tickets.register(session, who, new, POLICY)
        for key, value in fields.items():
            setattr(ticket, key, value)
        session.add(ticket)
        return ticket


async def build(db: Database, length: str, now: datetime, zone: str = "UTC") -> stats.DeskReport:
    async with db.read() as session:
        return await stats.build(session, report_period.last(report_period.parse_period(length), now, zone), now)


async def test_days_are_local_days(db: Database) -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # Tuesday; 15:00 in Moscow (UTC+3 all year)
    for created in (
        datetime(2026, 3, 28, 20, 59, tzinfo=UTC),  # Saturday 23:59 in Moscow
        datetime(2026, 3, 28, 21, 0, tzinfo=UTC),  # Sunday 00:00 in Moscow
        datetime(2026, 3, 31, 11, 0, tzinfo=UTC),  # today
    ):
        await make(db, created_at=created)
    await make(db, Category.ACCESS, created_at=datetime(2026, 3, 29, 10, 0, tzinfo=UTC))
    await make(db, created_at=datetime(2026, 3, 24, 20, 59, tzinfo=UTC))  # 23:59 the day before the period

    report = await build(db, "7d", now, "Europe/Moscow")
    starts = [f"{s:%a %d}" for s in report.period.bucket_starts()]
    assert starts == ["Wed 25", "Thu 26", "Fri 27", "Sat 28", "Sun 29", "Mon 30", "Tue 31"]
    assert [sum(bucket.values()) for bucket in report.created] == [0, 0, 0, 1, 2, 0, 1]
    assert report.created[4] == {"incident": 1, "service_request": 1}
    assert report.by_type == {"incident": 3, "service_request": 1} and report.created_total == 4
    assert report.by_state == {"new": 5} and report.total == 5

    utc = await build(db, "7d", now, "UTC")  # the same tickets on UTC days: Saturday gets both
    assert [sum(bucket.values()) for bucket in utc.created] == [0, 0, 0, 2, 1, 0, 1]


async def test_days_across_daylight_saving(db: Database) -> None:
    # Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on Sunday 29 March 2026
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    await make(db, created_at=datetime(2026, 3, 28, 23, 30, tzinfo=UTC))  # Sunday 00:30, winter time
    await make(db, created_at=datetime(2026, 3, 29, 22, 30, tzinfo=UTC))  # Monday 00:30, summer time
    report = await build(db, "3d", now, "Europe/Berlin")
    assert [f"{s:%a %H:%M %Z}" for s in report.period.bucket_starts()] == [
        "Sun 00:00 CET",
        "Mon 00:00 CEST",
        "Tue 00:00 CEST",
    ]
    assert report.period.edges[1] - report.period.edges[0] == 23 * HOUR  # the short day
    assert [sum(bucket.values()) for bucket in report.created] == [1, 1, 0]


async def test_hours_and_weeks(db: Database) -> None:
    now = datetime(2026, 3, 31, 12, 30, tzinfo=UTC)
    await make(db, created_at=now - 30 * timedelta(minutes=1))  # 12:00 bucket
    await make(db, created_at=now - 90 * timedelta(minutes=1))  # 11:00 bucket
    hourly = await build(db, "24h", now)
    assert hourly.period.unit == "hour" and hourly.period.buckets == 24
    assert [sum(b.values()) for b in hourly.created][-3:] == [0, 1, 1]
    weekly = await build(db, "120d", now)
    assert weekly.period.unit == "week" and weekly.created_total == 2
    assert all(s.weekday() == 0 for s in weekly.period.bucket_starts()[1:])  # weeks start on Monday


async def test_sla_met_is_decided_as_the_sla_watch_decides(db: Database) -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    day = now - 2 * DAY  # every clock below is due on Sunday 12:00
    due = {"first_response_due": day, "resolution_due": day + HOUR}
    # met: answered before the due time
    await make(db, **due, created_at=day - HOUR, first_response_at=day - 30 * timedelta(minutes=1), state="in_progress")
    # breached: answered after it (counted when it breached, on Sunday, not when answered, on Monday)
    await make(db, **due, created_at=day - HOUR, first_response_at=day + DAY, state="in_progress")
    # breached: still unanswered and past due
    await make(db, **due, created_at=day - HOUR)
    # waiting on the customer since before the due time: the clock stands still, not breached (yet)
    await make(
        db, **due, created_at=day - HOUR, state="waiting_customer", sla_paused_at=day - 10 * timedelta(minutes=1)
    )
    # waiting since after the due time: it had breached already
    await make(db, **due, created_at=day - HOUR, state="waiting_customer", sla_paused_at=day + HOUR)
    # cancelled unanswered: out of the count
    await make(db, **due, created_at=day - HOUR, state="cancelled", closed_at=day + HOUR)
    # not due yet: undecided
    await make(db, first_response_due=now + HOUR, resolution_due=now + DAY, created_at=now - HOUR)
    # resolved in time; first response met too
    await make(
        db,
        first_response_due=day,
        resolution_due=day + DAY,
        created_at=day - HOUR,
        first_response_at=day - HOUR + timedelta(minutes=5),
        resolved_at=day + 3 * HOUR,
        state="resolved",
    )

    report = await build(db, "7d", now)
    first, resolution = report.first_response, report.resolution
    assert (first.met, first.decided) == (2, 5)  # breached: late, unanswered, paused after due
    assert first.per_bucket[report.period.buckets - 3] == (2, 5)  # all decided on Sunday
    assert first.met_percent == 40.0
    # resolution: the one resolved in time; unresolved past due: late answer, unanswered, paused after due
    assert (resolution.met, resolution.decided) == (1, 5)
    assert first.stopped == 3 and resolution.stopped == 1  # the medians' counts: clocks that stopped

    async with db.read() as session:
        rows = {r.number: r for r in await reports.export_rows(session, now - 7 * DAY, now, now)}
    outcomes = [(r.first_response_met, r.resolution_met) for r in sorted(rows.values(), key=lambda r: r.number)]
    assert outcomes == [
        (True, False),
        (False, False),
        (False, False),
        (None, None),
        (False, False),
        (None, None),
        (None, None),
        (True, True),
    ]


async def test_sla_met_uses_the_due_times_the_desk_computed(db: Database) -> None:
    """Business hours and pauses are in the stored due times; the report compares against them."""
    office = DeskPolicy(business_hours="Mon-Fri 09:00-18:00", timezone="UTC")
    friday = datetime(2026, 3, 27, 17, 55, tzinfo=UTC)
    due = office.due(friday, timedelta(minutes=15))  # Monday 09:10
    await make(db, created_at=friday, first_response_due=due, first_response_at=due - timedelta(minutes=5))

    ticket = await make(db, created_at=friday, first_response_due=friday + timedelta(minutes=30))
    due_times.on_waiting_customer(ticket, POLICY, friday + timedelta(minutes=20))  # asked, 10 minutes left
    due_times.on_customer_answered(ticket, POLICY, friday + 2 * HOUR)  # due moves on by the pause
    due_times.on_first_response(ticket, friday + 2 * HOUR + timedelta(minutes=5))
    async with db.session() as session:
        session.add(ticket)

    report = await build(db, "7d", datetime(2026, 3, 31, 12, 0, tzinfo=UTC))
    assert (report.first_response.met, report.first_response.decided) == (2, 2)


async def test_medians_ratings_and_text(db: Database) -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    start = now - 2 * DAY
    for minutes in (10, 30, 120):
        await make(db, created_at=start, first_response_at=start + minutes * timedelta(minutes=1), state="in_progress")
    await make(db, Category.ACCESS, Priority.P4, created_at=start, first_response_at=start + 4 * HOUR,
               resolved_at=start + 5 * HOUR, closed_at=start + 6 * HOUR, rating=2, state="closed")  # fmt: skip
    await make(db, created_at=now - 20 * DAY, first_response_at=now - 20 * DAY + HOUR, resolved_at=now - 19 * DAY,
               closed_at=now - 19 * DAY, rating=5, state="closed")  # fmt: skip
    await make(db, Category.SECURITY, Priority.P1, created_at=now - 60 * DAY, state="cancelled")

    week = await build(db, "7d", now)
    assert week.first_response.median == timedelta(minutes=75) and week.first_response.stopped == 4
    assert week.resolution.median == 5 * HOUR and week.resolution.stopped == 1
    assert week.rating == (2.0, 1) and week.ratings[-3] == (2, 1)
    assert week.by_category == {"hardware": 3, "access": 1} and week.by_priority == {"P3": 3, "P4": 1}
    assert week.backlog == {"in_progress": 3}
    month = await build(db, "30d", now)
    assert month.first_response.median == HOUR and month.first_response.stopped == 5
    assert month.rating == (3.5, 2)

    text = stats.render(week, "en")
    assert "Last 7 days (25.03–31.03.2026 UTC)" in text
    assert "New tickets:</b> 4" in text and "By type:</b> Incident: 3, Service request: 1" in text
    assert "First response, median: 1 h 15 min (4 tickets)" in text
    assert "Satisfaction, average: 2.0/5 (1 rating)" in text
    assert "By state:</b> In progress: 3, Closed: 2, Cancelled: 1" in text
    assert "By category:</b> Access: 1, Hardware: 3" in text and "By priority:</b> P3 · medium: 3, P4 · low: 1" in text
    russian = stats.render(week, "ru")
    assert "За 7 дн." not in text and "за 7 дн." in russian
    assert "Инцидент: 3, Запрос на обслуживание: 1" in russian and "Доступ: 1, Оборудование: 3" in russian
    assert "P3 · средний: 3" in russian and "В работе: 3, Закрыта: 2, Отменена: 1" in russian
    codes = ("incident", "service_request", "hardware", "access", "in_progress", "closed", "cancelled")
    assert not [code for code in codes if code in russian]  # was "incident 3, service_request 1"…


async def test_an_empty_period(db: Database) -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    await make(db, created_at=now - 40 * DAY, state="closed", closed_at=now - 39 * DAY, resolved_at=now - 39 * DAY)
    report = await build(db, "7d", now)
    assert report.empty and report.total == 1
    assert "No tickets in this period" in stats.render_empty(report, "en")
    assert not (await build(db, "60d", now)).empty
