"""What the stand-in refused and what the bot papered over: a test fails on either unless it named it.

A bot that gets a 400 from Telegram and then resends the message as plain text (or drops its keyboard,
or posts to the general topic instead of the ticket's) still "delivers" it, so a test comparing texts
passes while customers see broken formatting. So after every test that used the stand-in:

- every call the stand-in answered with an error is a failure, unless the test provoked it: faults the
  test injected (``api.faults``) are provoked by definition, a call cut short because the test killed
  the bot (HTTP 499 "client went away") is not Telegram's answer, and the test may name what it expects
  with ``@pytest.mark.refusals("pattern", ...)`` or ``api.expect_refusals("pattern", ...)``;
- every delivery fallback in a bot's log is a failure unless named the same way.

A pattern is a regular expression searched in ``"METHOD STATUS description"`` (e.g.
``"sendMessage 400 Bad Request: message thread not found"``) and in the fallback's log line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.botapi import Call, FakeBotAPI

__all__ = ["FALLBACK_MARKERS", "describe", "fallback_lines", "report", "unexpected_refusals"]

#: the delivery's log lines when it takes a fallback (scheduler/delivery.py `_call`)
FALLBACK_MARKERS = ("HTML refused", "keyboard refused", "forum topic is gone")
CLIENT_GONE = 499


def describe(call: Call) -> str:
    """``METHOD STATUS description``, the text a pattern is matched against."""
    return f"{call.method} {call.status} {call.description}"


def _allowed(text: str, patterns: Iterable[str]) -> bool:
    return any(re.search(pattern, text) for pattern in patterns)


def unexpected_refusals(api: FakeBotAPI, patterns: Iterable[str] = ()) -> list[Call]:
    """Calls the stand-in refused that the test neither injected nor named."""
    patterns = [*patterns, *api.expected_refusals]
    return [
        call
        for call in api.calls
        if call.response is not None
        and not call.ok
        and call.injected is None
        and call.status != CLIENT_GONE
        and not _allowed(describe(call), patterns)
    ]


def fallback_lines(log_texts: Iterable[str], patterns: Iterable[str] = ()) -> list[str]:
    """Log lines where the delivery fell back (plain text, no keyboard, general topic) and nobody said it may."""
    patterns = list(patterns)
    return [
        line.strip()
        for text in log_texts
        for line in text.splitlines()
        if any(marker in line for marker in FALLBACK_MARKERS) and not _allowed(line, patterns)
    ]


def report(refused: list[Call], fallbacks: list[str]) -> str:
    """A failure message that says what happened and how to declare it if it was meant."""
    lines = []
    if refused:
        lines.append(f"the Bot API stand-in refused {len(refused)} call(s) the test did not provoke:")
        lines += [f"  {describe(c)}   params={ {k: v for k, v in c.params.items() if k != 'reply_markup'} }"[:400]
                  for c in refused[:15]]  # fmt: skip
    if fallbacks:
        lines.append(f"the bot took {len(fallbacks)} delivery fallback(s) the test did not ask for:")
        lines += [f"  {line[:300]}" for line in fallbacks[:15]]
    lines.append('(if the test means it, name it: @pytest.mark.refusals("pattern") or api.expect_refusals("pattern"))')
    return "\n".join(lines)
