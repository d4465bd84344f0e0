"""Working-time arithmetic for SLA clocks: `BUSINESS_HOURS=Mon-Fri 09:00-18:00` with `TIMEZONE`.

Without business hours every hour counts. With them, due times skip nights and weekends, so a P4
raised on Friday evening is due on Monday, as customers and agents expect.

Day boundaries are local to `TIMEZONE` (so a day always opens at 09:00 on the office clock, also
across daylight-saving changes), while all arithmetic is done in UTC, so a working day that contains
a DST change is as long as it really is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_FULL_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_SPEC = re.compile(
    r"^\s*(?P<days>[a-z]+(?:\s*-\s*[a-z]+)?(?:\s*,\s*[a-z]+(?:\s*-\s*[a-z]+)?)*)\s+"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$",
    re.IGNORECASE,
)
_ALWAYS = frozenset({"", "always", "24/7", "24x7", "none", "off"})
_MAX_DAYS = 3660  # ten years of days: a safety bound for the day loops, never reached in practice


def _day(word: str, spec: str) -> int:
    key = word.strip().lower()
    for index, name in enumerate(_FULL_DAYS):
        if len(key) >= 3 and name.startswith(key):  # mon, tues, monday
            return index
    raise ValueError(f"BUSINESS_HOURS {spec!r}: {word.strip()!r} is not a day (Mon Tue Wed Thu Fri Sat Sun)")


def _parse_days(text: str, spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        first, sep, last = part.partition("-")
        d1 = _day(first, spec)
        d2 = _day(last, spec) if sep else d1
        days.update(range(d1, d2 + 1) if d1 <= d2 else [*range(d1, 7), *range(0, d2 + 1)])
    return frozenset(days)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days (0=Monday) and hours in a time zone; `days=None` means every minute counts.

    `end == 00:00` means the day works until midnight (`Mon-Fri 08:00-24:00`).
    """

    days: frozenset[int] | None = None
    start: time = time(0, 0)
    end: time = time(0, 0)
    tz: str = "UTC"

    @classmethod
    def always(cls) -> WorkCalendar:
        return cls()

    @classmethod
    def parse(cls, spec: str | None, tz: str = "UTC") -> WorkCalendar:
        """`Mon-Fri 09:00-18:00`; day ranges may be joined with commas: `Mon-Thu,Sat 10:00-16:00`.

        Empty, `always` or `24/7` means every hour counts. Hours are local to `tz`; `24:00` ends the day
        at midnight. Overnight shifts (`22:00-06:00`) are not supported.
        """
        ZoneInfo(tz)  # raises for an unknown zone: fail at start-up, not at the first ticket
        if spec is None or spec.strip().lower() in _ALWAYS:
            return cls(tz=tz)
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"BUSINESS_HOURS {spec!r}: expected e.g. 'Mon-Fri 09:00-18:00'")
        days = _parse_days(match["days"], spec)
        h1, m1, h2, m2 = (int(match[k]) for k in ("h1", "m1", "h2", "m2"))
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"BUSINESS_HOURS {spec!r}: hours are 00:00…24:00")
        start = time(h1, m1)
        end = time(0, 0) if h2 == 24 else time(h2, m2)
        if end != time(0, 0) and end <= start:
            raise ValueError(f"BUSINESS_HOURS {spec!r}: the day must end after it starts (no overnight shifts)")
        if end == time(0, 0) and h2 != 24:
            raise ValueError(f"BUSINESS_HOURS {spec!r}: write the end of the day as 24:00")
        return cls(days=days, start=start, end=end, tz=tz)

    @property
    def is_always(self) -> bool:
        return self.days is None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def __str__(self) -> str:
        if self.days is None:
            return "always"
        names = ",".join(_DAYS[d].capitalize() for d in sorted(self.days))
        end = "24:00" if self.end == time(0, 0) else self.end.strftime("%H:%M")
        return f"{names} {self.start:%H:%M}-{end} {self.tz}"

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working interval of a local calendar day, in UTC; None on a day off."""
        if self.days is None or day.weekday() not in self.days:
            return None
        zone = self.zone
        opens = datetime.combine(day, self.start, zone).astimezone(UTC)
        if self.end == time(0, 0):
            closes = datetime.combine(day + timedelta(days=1), time(0, 0), zone).astimezone(UTC)
        else:
            closes = datetime.combine(day, self.end, zone).astimezone(UTC)
        return opens, closes

    def is_working(self, moment: datetime) -> bool:
        if self.days is None:
            return True
        window = self.window(moment.astimezone(self.zone).date())
        return window is not None and window[0] <= moment < window[1]

    def next_opening(self, moment: datetime) -> datetime | None:
        """When the desk is next open at or after `moment` (`moment` itself while open); None when every
        hour counts."""
        if self.days is None:
            return None
        day = moment.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(9):  # every working day comes round within a week
            window = self.window(day)
            if window is not None and moment < window[1]:
                return max(moment, window[0])
            day += timedelta(days=1)
        return None

    def last_closing(self, moment: datetime) -> datetime | None:
        """When the desk last closed at or before `moment`; None when every hour counts."""
        if self.days is None:
            return None
        day = moment.astimezone(self.zone).date() + timedelta(days=1)
        for _ in range(9):
            window = self.window(day)
            if window is not None and window[1] <= moment:
                return window[1]
            day -= timedelta(days=1)
        return None

    def add(self, start: datetime, delta: timedelta) -> datetime:
        """The moment when `delta` of working time has passed after `start` (`start` itself for zero).

        A clock started outside working hours begins at the next opening; a result falling exactly at
        a closing time stays there (not at the next opening).
        """
        if self.days is None:
            return start + delta
        if delta <= timedelta(0):
            return start
        cursor = start.astimezone(UTC)
        remaining = delta
        day = cursor.astimezone(self.zone).date() - timedelta(days=1)  # a local day may open before UTC's
        for _ in range(_MAX_DAYS):
            window = self.window(day)
            if window is not None and cursor < window[1]:
                begin = max(cursor, window[0])
                available = window[1] - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                cursor = window[1]
            day += timedelta(days=1)
        raise ValueError(f"{delta} of working time does not fit in ten years of {self}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed from `start` to `end` (zero when `end` is not after `start`)."""
        if end <= start:
            return timedelta(0)
        if self.days is None:
            return end - start
        a, b = start.astimezone(UTC), end.astimezone(UTC)
        day = a.astimezone(self.zone).date() - timedelta(days=1)
        last = b.astimezone(self.zone).date()
        total = timedelta(0)
        while day <= last:
            window = self.window(day)
            if window is not None:
                lo, hi = max(a, window[0]), min(b, window[1])
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total
