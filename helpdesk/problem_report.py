"""Recurring problems in a period (part of /stats and `python -m bot report`): incidents by the cause their
closing reports give, the services and categories with the most incidents, the customers who reported
more than once, the major incidents with how many tickets are linked under each, and every figure
against the period before, of the same length.

An outage's linked reports count as one incident (storage/problem_reports.py), so one internet outage
with forty reports is one internet incident, and shows as a major incident with 39 linked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import causes
from helpdesk.formatting import shorten
from helpdesk.i18n import Safe, name_or_code, t
from storage import problem_reports
from storage.problem_reports import MajorIncidentRow, Reporter

TOP = 5

Counts = dict[str, tuple[int, int]]  # value → (this period, the previous one)


@dataclass(frozen=True)
class ProblemFigures:
    incidents: tuple[int, int] = (0, 0)  # created: this period, the previous one
    by_cause: Counts = field(default_factory=dict)  # resolved in the period; "" for a report without a cause
    by_service: Counts = field(default_factory=dict)
    by_category: Counts = field(default_factory=dict)
    reporters: tuple[Reporter, ...] = ()
    majors: tuple[MajorIncidentRow, ...] = ()

    @property
    def empty(self) -> bool:
        return not (any(self.incidents) or self.by_cause or self.majors)


def _keyed(found: dict[str | None, tuple[int, int]]) -> Counts:
    return {key or "": value for key, value in found.items()}


async def compute(session: AsyncSession, start: datetime, end: datetime) -> ProblemFigures:
    """The figures of [start, end), with the period of the same length before it."""
    previous = start - (end - start)
    return ProblemFigures(
        incidents=await problem_reports.incidents_created(session, previous, start, end),
        by_cause=_keyed(await problem_reports.incidents_by(session, "cause", previous, start, end)),
        by_service=_keyed(await problem_reports.incidents_by(session, "service", previous, start, end)),
        by_category=_keyed(await problem_reports.incidents_by(session, "category", previous, start, end)),
        reporters=tuple(await problem_reports.repeat_reporters(session, start, end, TOP)),
        majors=tuple(await problem_reports.major_incidents(session, start, end, TOP)),
    )


def change(current: int, previous: int) -> str:
    """`+3`, `−2`, `±0`: this period against the previous one."""
    delta = current - previous
    return f"+{delta}" if delta > 0 else (f"−{-delta}" if delta < 0 else "±0")


def _name(kind: str, key: str, lang: str) -> str:
    if kind == "cause":
        return causes.name(key, lang) if key else t(lang, "problems.no_cause")
    if kind == "service":
        return name_or_code(lang, "service", key) if key else t(lang, "problems.no_service")
    return name_or_code(lang, "category", key)


def _ranked(kind: str, counts: Counts, lang: str, limit: int | None = TOP) -> str:
    """`Internet: 9 (+7), Email: 4 (±0)`: the most first, among those of this period; written like the rest
    of the report's counts (`name: count`), the change against the period before in brackets."""
    shown = sorted(((k, c, p) for k, (c, p) in counts.items() if c), key=lambda item: (-item[1], item[0]))
    parts = [
        t(lang, "problems.count", name=_name(kind, key, lang), count=current, change=change(current, previous))
        for key, current, previous in shown[:limit]
    ]
    return Safe(", ".join(parts)) if parts else t(lang, "reports.none")


def render(figures: ProblemFigures, lang: str) -> list[str]:
    """The section's lines (none when the period had no incident)."""
    if figures.empty:
        return []
    current, previous = figures.incidents
    lines = [
        t(lang, "problems.title"),
        t(lang, "problems.incidents", count=current, previous=previous, change=change(current, previous)),
        t(lang, "problems.by_cause", counts=_ranked("cause", figures.by_cause, lang, None)),
        t(lang, "problems.by_service", counts=_ranked("service", figures.by_service, lang)),
        t(lang, "problems.by_category", counts=_ranked("category", figures.by_category, lang)),
    ]
    if figures.reporters:
        who = Safe(", ".join(t(lang, "reports.count", name=r.name, count=r.tickets) for r in figures.reporters))
        lines.append(t(lang, "problems.reporters", reporters=who))
    if figures.majors:
        majors = "; ".join(
            t(
                lang,
                "problems.major",
                number=m.number,
                linked=m.linked,
                state=t(lang, f"state.{m.state}"),
                summary=shorten(m.description, 40),
            )
            for m in figures.majors
        )
        lines.append(t(lang, "problems.majors", majors=majors))
    return lines
