"""The daily digest for the staff chat: yesterday's figures and every SLA breach of the day.

Due at DIGEST_AT on the desk's clock (TIMEZONE) for the local day before. When the bot was not running
at that moment, or the digest was just switched on, the latest digest is sent as soon as it runs;
earlier missed days are not sent (a pile of old digests helps nobody). What was sent is recorded on a
row (scheduler/digest_job.py), so several processes and restarts send each day's digest once.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import report_period, stats
from helpdesk.formatting import when
from helpdesk.i18n import t
from storage import reports

BREACH_LINES = 20
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_clock(value: str | None) -> time | None:
    """`09:00` → 09:00; empty → None (no digest). Raises ValueError with the setting's rule."""
    if value is None or not str(value).strip():
        return None
    match = _CLOCK.match(str(value))
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"DIGEST_AT {value!r} is not a time of day: use HH:MM, e.g. 09:00")
    return time(int(match[1]), int(match[2]))


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC)


def latest_due(now: datetime, at: time, zone_name: str) -> tuple[datetime, date]:
    """The last digest moment at or before `now`, and the local day that digest covers."""
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    due_day = today if _at(today, at, zone) <= now else today - timedelta(days=1)
    return _at(due_day, at, zone), due_day - timedelta(days=1)


def next_due(now: datetime, at: time, zone_name: str) -> datetime:
    """The first digest moment after `now`."""
    zone = ZoneInfo(zone_name)
    _due, covered = latest_due(now, at, zone_name)
    return _at(covered + timedelta(days=2), at, zone)


def _breach_line(lang: str, breach: reports.Breach) -> str:
    return t(
        lang,
        "reports.digest.breach_line",
        number=breach.number,
        priority=breach.priority,
        clock=t(lang, f"reports.digest.clock_{breach.clock}"),
        due=when(breach.due),
        who=breach.assignee or t(lang, "reports.digest.unassigned"),
    )


async def digest_text(session: AsyncSession, day: date, zone_name: str, lang: str, now: datetime) -> str:
    """The digest of one local day: its figures, the desk now, and the day's SLA breaches."""
    period = report_period.local_day(day, zone_name)
    report = await stats.build(session, period, now)
    breaches, total = await reports.breaches(session, period.start, period.end, now, limit=BREACH_LINES)
    lines = [t(lang, "reports.digest.title", day=f"{day:%d.%m.%Y}", zone=zone_name)]
    if report.empty:
        lines += [t(lang, "reports.digest.quiet"), "", *stats.render_now(report, lang)]
    else:
        lines += stats.render_body(report, lang)
    lines.append("")
    if total:
        lines.append(t(lang, "reports.digest.breaches", count=total))
        lines += [_breach_line(lang, breach) for breach in breaches]
        if total > len(breaches):
            lines.append(t(lang, "reports.digest.breach_more", count=total - len(breaches)))
    else:
        lines.append(t(lang, "reports.digest.no_breaches"))
    return "\n".join(lines)
