"""Runs last (by name): no log written during the whole test session contains the bot token.

Every bot process and CLI run of the session writes its output to a log file that
`tests.support.botproc` remembers; this greps all of them for the test token and for its secret half
(the part after the colon), which is as sensitive as the whole.
"""

from __future__ import annotations

from tests.support.botproc import DEFAULT_TOKEN, all_log_texts

SECRET_HALF = DEFAULT_TOKEN.split(":", 1)[1]


def test_no_log_of_the_session_contains_the_token() -> None:
    logs = all_log_texts()
    leaks = [
        f"{path}: line {n}: {line[:200]}"
        for path, text in logs.items()
        for n, line in enumerate(text.splitlines(), 1)
        if DEFAULT_TOKEN in line or SECRET_HALF in line
    ]
    assert not leaks, "the bot token was written to a log:\n" + "\n".join(leaks[:20])
