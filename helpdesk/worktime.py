"""Working-time arithmetic for SLA clocks: `BUSINESS_HOURS=Mon-Fri 09:00-18:00` with `TIMEZONE`.

Without business hours every hour counts. With them, due times skip nights and weekends, so a P4
raised on Friday evening is due on Monday, as customers and agents expect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPEC = re.compile(
    r"^\s*(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days (0=Monday) and hours in a time zone; `days=None` means every minute counts."""

    days: frozenset[int] | None = None
    start: time = time(0, 0)
    end: time = time(23, 59)
    tz: str = "UTC"

    @classmethod
    def always(cls) -> WorkCalendar:
        return cls()

    @classmethod
    def parse(cls, spec: str | None, tz: str = "UTC") -> WorkCalendar:
        """`Mon-Fri 09:00-18:00`; several ranges may be joined with `,` only for days: `Mon-Fri,Sun`."""
        ZoneInfo(tz)  # raises for an unknown zone: fail at start-up, not at the first ticket
        if not spec or not spec.strip():
            return cls(tz=tz)
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"BUSINESS_HOURS {spec!r}: expected e.g. 'Mon-Fri 09:00-18:00'")
        d1 = _DAYS.index(match["d1"].lower()) if match["d1"].lower() in _DAYS else -1
        d2 = _DAYS.index(match["d2"].lower()) if match["d2"] and match["d2"].lower() in _DAYS else d1
        if d1 < 0 or d2 < 0:
            raise ValueError(f"BUSINESS_HOURS {spec!r}: days are Mon Tue Wed Thu Fri Sat Sun")
        days = frozenset(range(d1, d2 + 1)) if d1 <= d2 else frozenset([*range(d1, 7), *range(0, d2 + 1)])
        start = time(int(match["h1"]), int(match["m1"]))
        end = time(int(match["h2"]), int(match["m2"]))
        if end <= start:
            raise ValueError(f"BUSINESS_HOURS {spec!r}: the day must end after it starts")
        return cls(days=days, start=start, end=end, tz=tz)

    @property
    def is_always(self) -> bool:
        return self.days is None

    def add(self, start: datetime, delta: timedelta) -> datetime:
        """The moment when `delta` of working time has passed after `start`."""
        if self.days is None:
            return start + delta
        zone = ZoneInfo(self.tz)
        cursor = start.astimezone(zone)
        remaining = delta
        for _ in range(3660):  # ten years of days at most: a safety bound, never reached in practice
            day_start = datetime.combine(cursor.date(), self.start, zone)
            day_end = datetime.combine(cursor.date(), self.end, zone)
            if cursor.weekday() in self.days and cursor < day_end:
                cursor = max(cursor, day_start)
                available = day_end - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(UTC)
                remaining -= available
            next_day = cursor.date() + timedelta(days=1)
            cursor = datetime.combine(next_day, self.start, zone)
        return (cursor + remaining).astimezone(UTC)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed from `start` to `end` (for SLA percentages and reports)."""
        if end <= start:
            return timedelta(0)
        if self.days is None:
            return end - start
        zone = ZoneInfo(self.tz)
        cursor = start.astimezone(zone)
        end_local = end.astimezone(zone)
        total = timedelta(0)
        while cursor < end_local:
            day_start = datetime.combine(cursor.date(), self.start, zone)
            day_end = datetime.combine(cursor.date(), self.end, zone)
            if cursor.weekday() in self.days:
                lo = max(cursor, day_start)
                hi = min(end_local, day_end)
                if hi > lo:
                    total += hi - lo
            cursor = datetime.combine(cursor.date() + timedelta(days=1), time(0, 0), zone)
        return total
