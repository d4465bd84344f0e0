"""Small presentation helpers shared by customer views and staff cards (times, durations)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from helpdesk.i18n import t

_display_zone = ZoneInfo("UTC")


def set_display_timezone(name: str) -> None:
    """Times shown to people are in the desk's TIMEZONE."""
    global _display_zone
    _display_zone = ZoneInfo(name)


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(_display_zone).strftime("%d.%m.%Y %H:%M %Z")


def human_duration(lang: str, delta: timedelta) -> str:
    """`15 min`, `4 h`, `1 d 2 h` in the reader's language."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return t(lang, "duration.seconds", n=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return t(lang, "duration.minutes", n=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        out = t(lang, "duration.hours", n=hours)
        return out + (" " + t(lang, "duration.minutes", n=minutes) if minutes else "")
    days, hours = divmod(hours, 24)
    out = t(lang, "duration.days", n=days)
    return out + (" " + t(lang, "duration.hours", n=hours) if hours else "")


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
