"""Ticket numbers: a type prefix and a zero-padded shared sequence, `INC-000042`, `REQ-000043`."""

from __future__ import annotations

import re

from helpdesk.vocabulary import TYPE_PREFIX, TicketType

_NUMBER = re.compile(r"^\s*#?\s*(?:(INC|REQ)\s*[-_ ]?\s*)?0*(\d{1,12})\s*$", re.IGNORECASE)


def format_number(ticket_type: TicketType, seq: int) -> str:
    return f"{TYPE_PREFIX[ticket_type]}-{seq:06d}"


def number_with_more(text: str) -> bool:
    """Whether `text` is a ticket number followed by more words (`INC-000042 fixed it`), not one number."""
    return parse_number(text) is None and leading_number(text) is not None


def leading_number(text: str) -> str | None:
    """The words a text starts with that make a ticket number (`INC 42` of `INC 42 please`), if any."""
    words = (text or "").split()
    return next((" ".join(words[:n]) for n in range(len(words), 0, -1) if parse_number(" ".join(words[:n]))), None)


def parse_number(text: str) -> tuple[str | None, int] | None:
    """`INC-000042`, `inc-42`, `#42`, `42` → (prefix or None, 42); anything else → None."""
    match = _NUMBER.match(text or "")
    if not match:
        return None
    prefix = match.group(1).upper() if match.group(1) else None
    return prefix, int(match.group(2))
