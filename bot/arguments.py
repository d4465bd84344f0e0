"""Arguments agents type after a command, read into the domain's values (`/status N waiting`, `/priority N 2`)."""

from __future__ import annotations

from helpdesk.i18n import t
from helpdesk.vocabulary import Category, Priority, State

_STATE_ALIASES = {
    "waiting": State.WAITING_CUSTOMER,
    "wait": State.WAITING_CUSTOMER,
    "progress": State.IN_PROGRESS,
    "inprogress": State.IN_PROGRESS,
    "work": State.IN_PROGRESS,
    "canceled": State.CANCELLED,
    "cancel": State.CANCELLED,
    "resolve": State.RESOLVED,
    "close": State.CLOSED,
}


def parse_state(text: str) -> State | None:
    """A state by its code (`in_progress`, `in-progress`, `in progress`) or a short alias (`waiting`)."""
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return State(key)
    except ValueError:
        return _STATE_ALIASES.get(key.replace("_", ""))


def parse_category(text: str) -> Category | None:
    """A category by its code or its name in any language (`access`, `Доступ`)."""
    key = text.strip().casefold()
    for category in Category:
        if key == category.value or any(
            key == t(lang, f"category.{category.value}").casefold() for lang in ("en", "ru")
        ):
            return category
    return None


def parse_priority(text: str) -> Priority | None:
    """A priority as `P2`, `p2` or `2`."""
    key = text.strip().upper()
    if key.isdigit():
        key = f"P{key}"
    try:
        return Priority(key)
    except ValueError:
        return None
