"""Desk statistics for agents (`/stats`): counts by state, type, category and priority, and median
first-response and resolution times (plus the average satisfaction rating) over recent windows."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.clock import now_utc
from helpdesk.formatting import human_duration
from helpdesk.i18n import t
from storage.models import Ticket

WINDOWS = (7, 30)


@dataclass(frozen=True)
class Window:
    days: int
    created: int = 0
    first_response: timedelta | None = None  # median over tickets first answered in the window
    first_responses: int = 0
    resolution: timedelta | None = None  # median over tickets resolved in the window
    resolutions: int = 0
    rating: float | None = None  # average over tickets rated and closed in the window
    ratings: int = 0


@dataclass(frozen=True)
class DeskStats:
    total: int
    by_state: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_priority: dict[str, int] = field(default_factory=dict)
    windows: tuple[Window, ...] = ()


async def _counts(session: AsyncSession, column: object) -> dict[str, int]:
    rows = (await session.exec(select(column, func.count(col(Ticket.id))).group_by(column))).all()
    return {str(key): int(count) for key, count in rows if key is not None}


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))


async def _window(session: AsyncSession, days: int, now: datetime) -> Window:
    since = now - timedelta(days=days)
    created = (await session.exec(select(func.count(col(Ticket.id))).where(Ticket.created_at >= since))).one()
    answered = (
        await session.exec(
            select(Ticket.created_at, Ticket.first_response_at).where(col(Ticket.first_response_at) >= since)
        )
    ).all()
    resolved = (
        await session.exec(select(Ticket.created_at, Ticket.resolved_at).where(col(Ticket.resolved_at) >= since))
    ).all()
    rated = (
        await session.exec(select(Ticket.rating).where(col(Ticket.rating).is_not(None), col(Ticket.closed_at) >= since))
    ).all()
    first = [done - start for start, done in answered if start is not None and done is not None]
    resolution = [done - start for start, done in resolved if start is not None and done is not None]
    ratings = [int(r) for r in rated if r is not None]
    return Window(
        days=days,
        created=int(created or 0),
        first_response=_median(first),
        first_responses=len(first),
        resolution=_median(resolution),
        resolutions=len(resolution),
        rating=(sum(ratings) / len(ratings)) if ratings else None,
        ratings=len(ratings),
    )


async def compute(session: AsyncSession, now: datetime | None = None) -> DeskStats:
    now = now or now_utc()
    by_state = await _counts(session, Ticket.state)
    return DeskStats(
        total=sum(by_state.values()),
        by_state=by_state,
        by_type=await _counts(session, Ticket.ticket_type),
        by_category=await _counts(session, Ticket.category),
        by_priority=await _counts(session, Ticket.priority),
        windows=tuple([await _window(session, days, now) for days in WINDOWS]),
    )


def _line(counts: dict[str, int], order: list[str] | None = None) -> str:
    keys = [k for k in (order or []) if k in counts] + sorted(k for k in counts if k not in (order or []))
    return ", ".join(f"{key} {counts[key]}" for key in keys) or "—"


def render(stats: DeskStats, lang: str) -> str:
    """The /stats message (codes as agents type them in commands)."""
    states = ["new", "in_progress", "waiting_customer", "resolved", "closed", "cancelled"]
    parts = [
        t(lang, "agents.stats.title", total=stats.total),
        t(lang, "agents.stats.by_state", counts=_line(stats.by_state, states)),
        t(lang, "agents.stats.by_type", counts=_line(stats.by_type, ["incident", "service_request"])),
        t(lang, "agents.stats.by_category", counts=_line(stats.by_category)),
        t(lang, "agents.stats.by_priority", counts=_line(stats.by_priority, ["P1", "P2", "P3", "P4"])),
    ]
    none = t(lang, "agents.stats.none")
    for window in stats.windows:
        parts.append("")
        parts.append(t(lang, "agents.stats.window", days=window.days, created=window.created))
        parts.append(
            t(
                lang,
                "agents.stats.first_response",
                median=human_duration(lang, window.first_response) if window.first_response is not None else none,
                count=window.first_responses,
            )
        )
        parts.append(
            t(
                lang,
                "agents.stats.resolution",
                median=human_duration(lang, window.resolution) if window.resolution is not None else none,
                count=window.resolutions,
            )
        )
        if window.rating is not None:
            parts.append(t(lang, "agents.stats.rating", rating=f"{window.rating:.1f}", count=window.ratings))
    return "\n".join(parts)
