"""The one place that reads the time, so tests and business-hours calendars can reason about it."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)
