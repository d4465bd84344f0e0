"""The daily digest: due at DIGEST_AT on the desk's clock, yesterday's figures and breaches, sent once per
day by however many processes, across restarts and a changed DIGEST_AT."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from helpdesk import digest
from helpdesk.policy import DeskPolicy
from scheduler.digest_job import DailyDigest
from storage.db import Database
from storage.models import OutboxMessage
from tests.unit.test_stats import make

STAFF = -100123
POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=STAFF, timezone="Europe/Moscow")
NINE = time(9, 0)


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of March 2026 on the Moscow clock, in UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)


async def digests(db: Database) -> list[str]:
    async with db.read() as session:
        rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == STAFF))).all()
    return [row.payload["text"] for row in rows if (row.dedupe_key or "").startswith("digest:")]


def test_due_times_on_the_desk_clock() -> None:
    assert digest.parse_clock(" 9:05 ") == time(9, 5) and digest.parse_clock("") is None
    for bad in ("25:00", "9", "09:60", "nine"):
        with pytest.raises(ValueError, match="DIGEST_AT"):
            digest.parse_clock(bad)
    assert digest.latest_due(moscow(10, 8, 59), NINE, "Europe/Moscow") == (moscow(9, 9), date(2026, 3, 8))
    assert digest.latest_due(moscow(10, 9), NINE, "Europe/Moscow") == (moscow(10, 9), date(2026, 3, 9))
    assert digest.next_due(moscow(10, 9), NINE, "Europe/Moscow") == moscow(11, 9)
    # Berlin's clocks go forward on 29 March: 09:00 is 08:00 UTC before, 07:00 UTC after
    assert digest.next_due(datetime(2026, 3, 28, 9, tzinfo=UTC), NINE, "Europe/Berlin") == datetime(
        2026, 3, 29, 7, tzinfo=UTC
    )


async def test_yesterdays_figures_and_breaches(db: Database) -> None:
    yesterday = moscow(9, 12)
    await make(db, created_at=yesterday, first_response_due=yesterday + timedelta(minutes=30),
               first_response_at=yesterday + timedelta(minutes=10), state="in_progress",
               assignee_name="Agent <One>")  # fmt: skip
    late = await make(db, created_at=yesterday, first_response_due=yesterday + timedelta(hours=1),
                      assignee_name="Agent <One>")  # fmt: skip
    await make(db, created_at=moscow(8, 12))  # the day before: not in the digest's figures

    job = DailyDigest(db, POLICY, NINE)
    assert await job.run(moscow(10, 9, 1)) == "2026-03-09"
    (text,) = await digests(db)
    assert "Daily digest</b> · 09.03.2026 (Europe/Moscow)" in text
    assert "New tickets:</b> 2" in text and "SLA met: 50% (1 of 2)" in text
    assert "SLA breached yesterday:</b> 1" in text
    assert f"• {late.number} · P3 · first response due 09.03.2026 10:00 UTC · Agent &lt;One&gt;" in text
    assert "By state:</b> New: 2, In progress: 1" in text


async def test_a_quiet_day(db: Database) -> None:
    assert await DailyDigest(db, POLICY, NINE).run(moscow(10, 9)) == "2026-03-09"
    (text,) = await digests(db)
    assert "No tickets yesterday." in text and "No SLA breaches yesterday." in text


async def test_once_per_day_across_restarts_processes_and_a_new_time(db: Database) -> None:
    assert await DailyDigest(db, POLICY, NINE).run(moscow(10, 10)) == "2026-03-09"
    assert await DailyDigest(db, POLICY, NINE).run(moscow(10, 10, 5)) is None  # a restart
    assert await DailyDigest(db, POLICY, time(10, 30)).run(moscow(10, 10, 31)) is None  # DIGEST_AT moved
    job = DailyDigest(db, POLICY, NINE)
    assert await job.run(moscow(11, 8, 59)) is None
    # two processes at the moment it falls due: one sends, the other finds the day recorded
    other = Database(db.url)
    try:
        results = await asyncio.gather(
            DailyDigest(db, POLICY, NINE).run(moscow(11, 9)), DailyDigest(other, POLICY, NINE).run(moscow(11, 9))
        )
    finally:
        await other.dispose()
    assert sorted(results, key=str) == ["2026-03-10", None]
    assert await job.run(moscow(11, 9, 1)) is None
    assert len(await digests(db)) == 2


async def test_no_staff_chat_no_digest(db: Database) -> None:
    assert await DailyDigest(db, DeskPolicy(staff_chat_id=None), NINE).run(moscow(10, 9)) is None
    assert await digests(db) == []
