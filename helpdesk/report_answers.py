"""What an agent gets for `/stats [period]` and `/export [period]`: a text, and the file that goes with it.

The handler only sends what is decided here: the chart with the figures as its caption, the CSV with a
line saying what it holds, or — for a period without tickets, or one too large for Telegram — the text
alone. A period nobody can report on raises `PeriodError`, for the handler's usage answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import report_chart, report_csv, report_period, stats
from helpdesk.clock import now_utc
from helpdesk.i18n import t
from storage import reports

#: Telegram takes documents up to 50 MB from bots; what would not fit is refused before it is queued
DOCUMENT_LIMIT = 45 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A generated file for the outbox to upload: `photo` (the chart) or `document` (the CSV)."""

    kind: str
    data: bytes
    filename: str
    mime_type: str


@dataclass(frozen=True)
class ReportAnswer:
    text: str  # the caption when there is a file, else the whole answer
    upload: Upload | None = None


def _period(text: str | None, zone: str, now: datetime) -> report_period.Period:
    return report_period.last(report_period.parse_period(text), now, zone)


async def stats_answer(
    session: AsyncSession, period_text: str | None, zone: str, lang: str, now: datetime | None = None
) -> ReportAnswer:
    """The chart with the figures as its caption; a period without tickets gets the text alone."""
    now = now or now_utc()
    period = _period(period_text, zone, now)
    report = await stats.build(session, period, now)
    if report.empty:
        return ReportAnswer(stats.render_empty(report, lang))
    chart = report_chart.render_png(report, lang)
    name = f"stats-{period.local(period.end):%Y-%m-%d}.png"
    return ReportAnswer(stats.render(report, lang), Upload("photo", chart, name, "image/png"))


async def export_answer(
    session: AsyncSession, period_text: str | None, zone: str, lang: str, now: datetime | None = None
) -> ReportAnswer:
    """The tickets created in the period as a CSV file, one row each."""
    now = now or now_utc()
    period = _period(period_text, zone, now)
    title, span = stats.period_title(period, lang), stats.period_span(period)
    rows = await reports.export_rows(session, period.start, period.end, now)
    if not rows:
        return ReportAnswer(t(lang, "reports.export.empty", period=title, span=span))
    data = report_csv.to_csv(rows, zone)
    if len(data) > DOCUMENT_LIMIT:
        return ReportAnswer(t(lang, "reports.export.too_large", count=len(rows)))
    first, last = period.local(period.start), period.local(period.end)
    name = f"tickets-{first:%Y-%m-%d}-{last:%Y-%m-%d}.csv"
    caption = t(lang, "reports.export.caption", period=title, span=span, count=len(rows))
    return ReportAnswer(caption, Upload("document", data, name, "text/csv"))
