"""The desk's report for a period (`/stats`, the chart, the digest, `python -m bot report`).

Figures: tickets created per bucket by type (and by category and priority over the period), first
response and resolution (median time, SLA met in %, per bucket and overall), satisfaction per bucket,
self-help (articles offered, deflections: "This solved it" with no ticket), and every ticket by its
current state (the backlog). The database does the counting
(storage/reports.py); this module only arranges the few rows it returns and writes them as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import problem_report, report_period, self_help
from helpdesk.clock import now_utc
from helpdesk.formatting import human_duration
from helpdesk.i18n import Safe, name_or_code, t
from helpdesk.problem_report import ProblemFigures
from helpdesk.report_period import Period
from helpdesk.vocabulary import State
from storage import reports

STATES = [state.value for state in State]
TYPES = ["incident", "service_request"]
PRIORITIES = ["P1", "P2", "P3", "P4"]
#: what still needs the desk: open tickets, and resolved ones the customer has not confirmed yet
BACKLOG_STATES = [state.value for state in State if state.is_open] + [State.RESOLVED.value]


@dataclass(frozen=True)
class ClockFigures:
    """One SLA clock over the period: how long it took, and how often within target."""

    median: timedelta | None = None
    stopped: int = 0  # clocks that stopped in the period (what the median is taken over)
    met: int = 0
    decided: int = 0  # met + breached in the period
    per_bucket: tuple[tuple[int, int], ...] = ()  # (met, decided) per bucket

    @property
    def met_percent(self) -> float | None:
        return 100.0 * self.met / self.decided if self.decided else None


@dataclass(frozen=True)
class DeskReport:
    period: Period
    created: tuple[dict[str, int], ...]  # per bucket: tickets by type
    by_type: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_priority: dict[str, int] = field(default_factory=dict)
    first_response: ClockFigures = ClockFigures()
    resolution: ClockFigures = ClockFigures()
    ratings: tuple[tuple[int, int], ...] = ()  # per bucket: (sum of ratings, ratings)
    by_state: dict[str, int] = field(default_factory=dict)  # every ticket, by its state now
    self_help: dict[str, int] = field(default_factory=dict)  # self-help events of the period, by kind
    problems: ProblemFigures = field(default_factory=ProblemFigures)  # recurring problems: causes, majors

    @property
    def created_total(self) -> int:
        return sum(self.by_type.values())

    @property
    def total(self) -> int:
        return sum(self.by_state.values())

    @property
    def backlog(self) -> dict[str, int]:
        return {state: self.by_state[state] for state in BACKLOG_STATES if self.by_state.get(state)}

    @property
    def rating(self) -> tuple[float | None, int]:
        total, count = sum(s for s, _ in self.ratings), sum(n for _, n in self.ratings)
        return (total / count if count else None), count

    @property
    def empty(self) -> bool:
        """Nothing happened in the period: no ticket created, answered, resolved, breached or rated."""
        return not (
            self.created_total
            or self.first_response.decided
            or self.first_response.stopped
            or self.resolution.decided
            or self.resolution.stopped
            or self.rating[1]
            or any(self.self_help.values())
        )


def _add(counts: dict[str, int], key: str, value: int) -> None:
    counts[key] = counts.get(key, 0) + value


async def _clock(session: AsyncSession, clock: str, period: Period, now: datetime) -> ClockFigures:
    per_bucket = [[0, 0] for _ in range(period.buckets)]
    for bucket, outcome, count in await reports.sla_by_bucket(session, clock, period.edges, now):
        per_bucket[bucket][1] += count
        if outcome == reports.MET:
            per_bucket[bucket][0] += count
    median, stopped = await reports.median_seconds(session, clock, period.start, period.end)
    return ClockFigures(
        median=timedelta(seconds=round(median)) if median is not None else None,
        stopped=stopped,
        met=sum(m for m, _ in per_bucket),
        decided=sum(d for _, d in per_bucket),
        per_bucket=tuple((m, d) for m, d in per_bucket),
    )


async def compute(
    session: AsyncSession, now: datetime | None = None, *, period: str | None = None, zone: str = "UTC"
) -> DeskReport:
    """The report for `period` as agents write it (`7d`, `24h`; 7 days when empty) up to `now`, on the
    clock of `zone` (TIMEZONE). Raises PeriodError for a period nobody can report on."""
    now = now or now_utc()
    return await build(session, report_period.last(report_period.parse_period(period), now, zone), now)


async def build(session: AsyncSession, period: Period, now: datetime) -> DeskReport:
    """Every figure of the period, SLA outcomes as of `now`."""
    created: list[dict[str, int]] = [{} for _ in range(period.buckets)]
    by_type: dict[str, int] = {}
    by_category: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    for bucket, ticket_type, category, priority, count in await reports.created_by_bucket(session, period.edges):
        _add(created[bucket], ticket_type, count)
        _add(by_type, ticket_type, count)
        _add(by_category, category, count)
        _add(by_priority, priority, count)
    ratings = [(0, 0)] * period.buckets
    for bucket, total, count in await reports.ratings_by_bucket(session, period.edges):
        ratings[bucket] = (total, count)
    return DeskReport(
        period=period,
        created=tuple(created),
        by_type=by_type,
        by_category=by_category,
        by_priority=by_priority,
        first_response=await _clock(session, "first_response", period, now),
        resolution=await _clock(session, "resolution", period, now),
        ratings=tuple(ratings),
        by_state=await reports.state_counts(session),
        self_help=await reports.self_help_counts(session, period.start, period.end),
        problems=await problem_report.compute(session, period.start, period.end),
    )


# -- text ------------------------------------------------------------------------------------------------


def _line(lang: str, section: str, counts: dict[str, int], order: list[str] | None = None) -> str:
    """`Software: 3, Network: 1`: each code named from the catalog section `section` in `lang` (a code it
    does not know, say from an older version, as it is)."""
    keys = [k for k in (order or []) if k in counts] + sorted(k for k in counts if k not in (order or []))
    named = [name_or_code(lang, section, key) for key in keys]
    parts = [t(lang, "reports.count", name=name, count=counts[key]) for name, key in zip(named, keys, strict=True)]
    return Safe(", ".join(parts)) if parts else t(lang, "reports.none")


def period_title(period: Period, lang: str) -> str:
    """`Last 7 days`, `Last 24 hours`, `Today`, or the day itself for a one-day report of a past day."""
    if period.hours:
        return t(lang, "reports.period.hours", count=period.hours)
    if period.whole_day:
        return t(lang, "reports.period.day", day=f"{period.local(period.start):%d.%m.%Y}")
    if period.days == 1:
        return t(lang, "reports.period.today")
    return t(lang, "reports.period.days", days=period.days)


def period_span(period: Period) -> str:
    """`12.05–18.05 Europe/Moscow`: the local dates (or hours) the period covers."""
    first, last = period.local(period.start), period.local(period.end - timedelta(microseconds=1))
    if period.hours:
        return f"{first:%d.%m %H:%M}–{period.local(period.end):%H:%M} {period.zone}"
    if first.date() == last.date():
        return f"{first:%d.%m.%Y} {period.zone}"
    if first.year != last.year:
        return f"{first:%d.%m.%Y}–{last:%d.%m.%Y} {period.zone}"
    return f"{first:%d.%m}–{last:%d.%m.%Y} {period.zone}"


def _clock_line(lang: str, key: str, figures: ClockFigures) -> str:
    none = t(lang, "reports.none")
    median = human_duration(lang, figures.median) if figures.median is not None else none
    text = t(lang, f"reports.{key}", median=median, count=figures.stopped)
    percent = figures.met_percent
    if percent is not None:
        text += " · " + t(lang, "reports.sla_met", percent=f"{percent:.0f}", met=figures.met, decided=figures.decided)
    return text


def render_body(report: DeskReport, lang: str) -> list[str]:
    """The figures without a title, one line each (shared by /stats and the daily digest)."""
    lines = [t(lang, "reports.created", count=report.created_total)]
    if report.created_total:
        lines += [
            t(lang, "reports.by_type", counts=_line(lang, "type", report.by_type, TYPES)),
            t(lang, "reports.by_category", counts=_line(lang, "category", report.by_category)),
            t(lang, "reports.by_priority", counts=_line(lang, "priority", report.by_priority, PRIORITIES)),
        ]
    lines += [
        _clock_line(lang, "first_response", report.first_response),
        _clock_line(lang, "resolution", report.resolution),
    ]
    rating, ratings = report.rating
    if rating is not None:
        lines.append(t(lang, "reports.rating", rating=f"{rating:.1f}", count=ratings))
    if any(report.self_help.values()):
        lines.append(_self_help_line(lang, report.self_help))
    problems = problem_report.render(report.problems, lang)
    if problems:
        lines += ["", *problems]
    return [*lines, "", *render_now(report, lang)]


def _self_help_line(lang: str, counts: dict[str, int]) -> str:
    """Articles offered before the form, how often they solved it (deflections), and the rest."""
    offered, solved = counts.get(self_help.OFFERED, 0), counts.get(self_help.SOLVED, 0)
    return t(
        lang,
        "reports.self_help",
        offered=t(lang, "reports.offered_times", count=offered),
        solved=solved,
        percent=f"{100 * solved / offered:.0f}" if offered else "—",
        still=counts.get(self_help.STILL_NEEDED, 0),
        sent=counts.get(self_help.SENT, 0),
    )


def render_now(report: DeskReport, lang: str) -> list[str]:
    """The desk as it stands: every ticket by state, and how many are not closed yet."""
    return [
        t(lang, "reports.now", total=report.total, backlog=sum(report.backlog.values())),
        t(lang, "reports.by_state", counts=_line(lang, "agents.state", report.by_state, STATES)),
    ]


def render(report: DeskReport, lang: str) -> str:
    """The figures as a message, every type, category, priority and state named in `lang`."""
    title = t(lang, "reports.title", period=period_title(report.period, lang), span=period_span(report.period))
    return "\n".join([title, *render_body(report, lang)])


def render_empty(report: DeskReport, lang: str) -> str:
    """A period without any activity: said plainly, with the desk's state now."""
    period = report.period
    return "\n".join(
        [
            t(lang, "reports.empty", period=period_title(period, lang), span=period_span(period)),
            *render_now(report, lang),
        ]
    )
