"""The deployment's shared send schedule (PostgreSQL): Telegram's global rate held by all processes together.

One row per scope holds the moment its next free send slot begins. A delivery process reserves `count`
consecutive slots `interval` seconds apart by moving that moment forward in one statement (the generic
cell rate algorithm: the row is the "theoretical arrival time" of the next call). The answer says how
far from the database's now the first slot is, so no two hosts' clocks need to agree. A process that
stops leaves nothing behind but the few slots it had reserved (a fraction of a second): the next
reservation of another process starts from the database's now.

SQLite runs one process, which keeps the rate in memory (scheduler/delivery/pacing.py `RateLimiter`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import Database

#: the scope of all of the bot's sends (Telegram's ~30 messages a second per bot)
GLOBAL = "global"

# `:now` is the database's now unless a test drives the clock. In autocommit, now() is the statement's start.
_RESERVE = text(
    """
    WITH clock AS (SELECT COALESCE(CAST(:now AS timestamptz), now()) AS now)
    INSERT INTO send_schedule (scope, next_slot)
    SELECT :scope, clock.now + CAST(:span AS interval) FROM clock
    ON CONFLICT (scope) DO UPDATE
        SET next_slot = GREATEST(send_schedule.next_slot, (SELECT now FROM clock)) + CAST(:span AS interval)
    RETURNING EXTRACT(EPOCH FROM next_slot - CAST(:span AS interval) - (SELECT now FROM clock))
    """
)


# Telegram refused a call with 429: nobody's next slot before `:wait` from now (the deployment pauses)
_PAUSE = text(
    """
    WITH clock AS (SELECT COALESCE(CAST(:now AS timestamptz), now()) AS now)
    INSERT INTO send_schedule (scope, next_slot)
    SELECT :scope, clock.now + CAST(:wait AS interval) FROM clock
    ON CONFLICT (scope) DO UPDATE SET next_slot = GREATEST(send_schedule.next_slot, EXCLUDED.next_slot)
    """
)


class SharedSchedule:
    """Reservations of one process in the shared schedule of `scope` (one statement, one round trip each)."""

    def __init__(self, db: Database, scope: str = GLOBAL) -> None:
        if db.is_sqlite:
            raise ValueError("the shared send schedule needs PostgreSQL (SQLite runs one process)")
        self.scope = scope
        # one round trip per reservation: no BEGIN/COMMIT around the single statement
        self._engine: AsyncEngine = db.engine.execution_options(isolation_level="AUTOCOMMIT")

    async def reserve(self, count: int, interval: float, now: datetime | None = None) -> float:
        """Take the next `count` free slots, `interval` seconds apart; returns the seconds from now until the
        first (0 when the schedule is free). `now` drives the clock in tests; by default the database's."""
        span = timedelta(seconds=count * interval)
        async with self._engine.connect() as connection:
            result = await connection.execute(_RESERVE, {"scope": self.scope, "span": span, "now": now})
            return max(0.0, float(result.scalar_one()))

    async def pause(self, seconds: float, now: datetime | None = None) -> None:
        """No slot for anyone before `seconds` from now (a 429 told one process to wait; all of them do)."""
        async with self._engine.connect() as connection:
            await connection.execute(_PAUSE, {"scope": self.scope, "wait": timedelta(seconds=seconds), "now": now})
