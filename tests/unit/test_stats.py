"""Desk statistics on a real database: counts, medians over windows, satisfaction."""

from __future__ import annotations

from datetime import timedelta

from helpdesk import stats, tickets
from helpdesk.clock import now_utc
from helpdesk.people import Person, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, Priority, Urgency
from storage.db import Database
from storage.models import Ticket

POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=-100123)


async def make(db: Database, category: Category, priority: Priority, **fields) -> Ticket:
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


async def test_counts_medians_and_rating(db: Database) -> None:
    now = now_utc()
    day = timedelta(days=1)
    # answered within the last 7 days: 10 min, 30 min, 2 h → median 30 min
    for minutes in (10, 30, 120):
        await make(
            db,
            Category.HARDWARE,
            Priority.P2,
            created_at=now - 2 * day,
            first_response_at=now - 2 * day + timedelta(minutes=minutes),
            state="in_progress",
        )
    # resolved 20 days ago after 4 h, rated 4; and 3 days ago after 2 h, rated 2
    await make(
        db,
        Category.ACCESS,
        Priority.P3,
        created_at=now - 20 * day,
        first_response_at=now - 20 * day + timedelta(hours=1),
        resolved_at=now - 20 * day + timedelta(hours=4),
        closed_at=now - 19 * day,
        rating=4,
        state="closed",
    )
    await make(
        db,
        Category.ACCESS,
        Priority.P4,
        created_at=now - 3 * day,
        resolved_at=now - 3 * day + timedelta(hours=2),
        closed_at=now - 3 * day + timedelta(hours=3),
        rating=2,
        state="closed",
    )
    await make(db, Category.SECURITY, Priority.P1, created_at=now - 60 * day, state="cancelled")

    async with db.read() as session:
        result = await stats.compute(session, now)
    assert result.total == 6
    assert result.by_state == {"in_progress": 3, "closed": 2, "cancelled": 1}
    assert result.by_type == {"incident": 4, "service_request": 2}
    assert result.by_category == {"hardware": 3, "access": 2, "security": 1}
    assert result.by_priority == {"P1": 1, "P2": 3, "P3": 1, "P4": 1}
    week, month = result.windows
    assert (week.days, week.created) == (7, 4)
    assert week.first_response == timedelta(minutes=30) and week.first_responses == 3
    assert week.resolution == timedelta(hours=2) and week.resolutions == 1
    assert week.rating == 2 and week.ratings == 1
    assert (month.days, month.created) == (30, 5)
    assert month.first_response == timedelta(minutes=45) and month.first_responses == 4  # 10, 30, 60, 120
    assert month.resolution == timedelta(hours=3) and month.resolutions == 2
    assert month.rating == 3 and month.ratings == 2

    text = stats.render(result, "en")
    assert "6 tickets" in text and "in_progress 3, closed 2, cancelled 1" in text
    assert "First response, median: 30 min (3 tickets)" in text
    assert "Satisfaction, average: 3.0/5 (2 ratings)" in text
    assert "Последние" not in text and "Статистика" in stats.render(result, "ru")


async def test_empty_desk(db: Database) -> None:
    async with db.read() as session:
        result = await stats.compute(session)
    assert result.total == 0 and result.by_state == {}
    text = stats.render(result, "en")
    assert "First response, median: — (0 tickets)" in text and "Satisfaction" not in text
