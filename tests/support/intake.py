"""Walking a simulated customer through the intake form, the way a hurried customer would.

Shared by the end-to-end tests that need many tickets registered through the real bot
(tests/e2e/test_multiprocess.py) and by benchmarks/throughput.py, which registers the tickets its
`/my` and `/status` workloads read.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.botapi import Msg
    from tests.support.users import SimUser

NUMBER = re.compile(r"\b(?:INC|REQ)-\d{6}\b")


def choose(labels: list[str]) -> str | None:
    """The button a hurried customer presses: confirm/skip/done first, else the first real choice."""
    for wanted in ("Confirm", "Skip", "Done"):
        for label in labels:
            if wanted.lower() in label.lower():
                return label
    avoid = ("back", "cancel", "other", "edit")
    return next((label for label in labels if not any(a in label.lower() for a in avoid)), None)


async def run_intake(user: SimUser, text: str, timeout: float, delay: float = 0.0) -> str:
    """Go through the intake with the first sensible answer at each step; returns the ticket number."""
    await asyncio.sleep(delay)
    await user.send(text)
    return await finish_intake(user, timeout)


async def finish_intake(user: SimUser, timeout: float, current: Msg | None = None) -> str:
    """Answer the intake's questions from `current` (else the next bot message) until a ticket is
    registered; returns its number."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = current or await user.next_message(timeout=max(1.0, deadline - time.monotonic()))
        current = None
        content = msg.content or ""
        if "Registered" in content:
            found = NUMBER.search(content)
            assert found, content
            return found.group(0)
        label = choose(msg.buttons)
        if label is not None:
            await user.press(msg, label)
            continue
        keyboard = (msg.reply_keyboard or {}).get("keyboard") or []
        labels = [b if isinstance(b, str) else b.get("text", "") for row in keyboard for b in row]
        if any("skip" in label.lower() for label in labels):
            await user.press_reply_button(next(label for label in labels if "skip" in label.lower()))
    raise AssertionError(f"{user!r} did not get a ticket within {timeout}s:\n{user.chat.history_text()}")
