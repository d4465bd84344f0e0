"""The time span a report covers, cut into the buckets its chart shows, on the desk's local clock.

`/stats 7d` means the last seven calendar days in TIMEZONE, today included (so every bar but the last
is a whole local day); `24h` the last 24 clock hours; periods over 92 days are shown by week. Bucket
edges are exact UTC instants computed here with the zone's rules (daylight saving included), so the
database only compares timestamps and never needs a time-zone library of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from helpdesk.durations import parse_duration

DEFAULT_PERIOD = "7d"
MIN_PERIOD = timedelta(hours=1)
MAX_PERIOD = timedelta(days=366)
HOURLY_UP_TO = timedelta(days=2)  # shorter periods are shown hour by hour
DAILY_UP_TO = timedelta(days=92)  # longer ones week by week


class PeriodError(ValueError):
    """A period nobody can report on (`7x`, `0d`, `500d`); the message is for operators' logs."""


def parse_period(text: str | None) -> timedelta:
    """`7d`, `30d`, `24h`, `2w` (the duration syntax of the settings); empty means the default, 7 days.

    A bare number is refused rather than guessed (seconds for the settings, days for a person)."""
    text = (text or "").strip() or DEFAULT_PERIOD
    if text.replace(".", "", 1).isdigit():
        raise PeriodError(f"{text!r} has no unit (use e.g. 7d, 30d, 24h)")
    try:
        length = parse_duration(text)
    except ValueError:
        raise PeriodError(f"{text!r} is not a period (use e.g. 7d, 30d, 24h)") from None
    if length < MIN_PERIOD or length > MAX_PERIOD:
        raise PeriodError(f"{text!r} is outside 1h…366d")
    return length


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, cut at `edges` (start, …, end) into buckets of one `unit` of local time."""

    start: datetime
    end: datetime
    unit: str  # hour | day | week
    zone: str
    edges: tuple[datetime, ...]
    days: int = 0  # the length asked for, in days (0 for hourly periods)
    hours: int = 0  # …or in hours
    whole_day: bool = False  # one past calendar day (the digest), not "the last N days"

    @property
    def buckets(self) -> int:
        return len(self.edges) - 1

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.zone))

    def bucket_starts(self) -> list[datetime]:
        """The local start of every bucket (what a chart's axis shows)."""
        return [self.local(edge) for edge in self.edges[:-1]]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day, in UTC (a day that starts in a DST gap starts when the gap ends)."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def last(length: timedelta, now: datetime, zone_name: str = "UTC") -> Period:
    """The last `length` up to `now`: whole local hours, calendar days or weeks, the current one included."""
    zone = ZoneInfo(zone_name)
    local_now = now.astimezone(zone)
    if length <= HOURLY_UP_TO:
        hours = max(1, math.ceil(length / timedelta(hours=1)))
        top = local_now.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        starts = [top - timedelta(hours=back) for back in range(hours - 1, -1, -1)]
        return Period(starts[0], now, "hour", zone_name, (*starts, now), hours=hours)
    days = max(1, math.ceil(length / timedelta(days=1)))
    first = local_now.date() - timedelta(days=days - 1)
    if length <= DAILY_UP_TO:
        starts = [_midnight(first + timedelta(days=n), zone) for n in range(days)]
        return Period(starts[0], now, "day", zone_name, (*starts, now), days=days)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    weeks = [first] + [monday + timedelta(weeks=n) for n in range((local_now.date() - monday).days // 7 + 1)]
    starts = sorted({_midnight(day, zone) for day in weeks if day <= local_now.date()})
    return Period(starts[0], now, "week", zone_name, (*starts, now), days=days)


def local_day(day: date, zone_name: str = "UTC") -> Period:
    """One whole local calendar day (the daily digest's "yesterday"), as a single bucket."""
    zone = ZoneInfo(zone_name)
    start, end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
    return Period(start, end, "day", zone_name, (start, end), days=1, whole_day=True)
