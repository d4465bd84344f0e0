"""Pacing: when the next Bot API call may go out, so Telegram never has to refuse one.

The sender asks a `Pacing` before every call; this module's `LocalPacing` keeps Telegram's limits for
one process: a global rate (evenly spaced, no bursts), a minimum interval per private chat and a
per-minute budget per group. What the table knows about the last minute's sends is fed back in
(`restore`) after a restart and, on PostgreSQL, for every chat a process claims (another process may
have written to it a moment ago). The global rate is per process: with N processes set
OUTBOX_RATE_PER_SECOND to Telegram's 30 / N. A pacing shared by all processes (through the database)
is another implementation of the same protocol.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from scheduler.delivery.limits import DeliveryLimits
from storage.types import utcnow

#: how far back the table's sends count for pacing (the group budget is per minute)
PACING_MEMORY = timedelta(seconds=60)


class Pacing(Protocol):
    def restore(self, sends: Iterable[tuple[int, datetime]]) -> None:
        """Take into account sends the table records: (chat id, sent at) of the last PACING_MEMORY."""
        ...

    async def wait_for_chat(self, chat_id: int) -> None:
        """Until the chat may receive its next message."""
        ...

    async def acquire(self) -> None:
        """A slot of the global rate, taken right before the call."""
        ...

    def record(self, chat_id: int) -> None:
        """A call to the chat was made (whatever its outcome)."""
        ...

    def defer(self, chat_id: int, seconds: float) -> None:
        """Telegram asked us to leave the chat alone for `seconds` (429 retry_after)."""
        ...


class RateLimiter:
    """At most `per_second` calls in any one-second window, evenly spaced: no bursts Telegram would punish.

    Callers get slots `1 / per_second` apart; one that wakes late lets the next keep its slot (so the
    average holds), while a sliding window over the moments callers actually went through caps every
    second at the limit, however late anyone woke.
    """

    WINDOW = 1.05  # one second, plus a margin for the jitter between our clock and the server's

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        # one below the limit: a call that left late and one that left early may still arrive together
        self.capacity = max(1, math.ceil(per_second) - 1)
        self._slot = float("-inf")
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._recent and self._recent[0] <= now - self.WINDOW:
                    self._recent.popleft()
                wait = self._slot - now
                if len(self._recent) >= self.capacity:
                    wait = max(wait, self._recent[0] + self.WINDOW - now)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self._slot = max(self._slot, now - self.interval) + self.interval
            self._recent.append(now)


class ChatPacer:
    """When each chat may receive its next message (monotonic seconds)."""

    def __init__(self, limits: DeliveryLimits) -> None:
        self.limits = limits
        self._next: dict[int, float] = {}
        self._group_window: dict[int, deque[float]] = defaultdict(deque)

    def ready_at(self, chat_id: int) -> float:
        ready = self._next.get(chat_id, 0.0)
        if chat_id < 0:
            window = self._group_window[chat_id]
            now = time.monotonic()
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.limits.group_per_minute:
                ready = max(ready, window[0] + 60)
        return ready

    def record(self, chat_id: int, at: float | None = None) -> None:
        """A call to the chat was made (at `at`, default now); the next waits accordingly."""
        moment = time.monotonic() if at is None else at
        if chat_id < 0:
            window = self._group_window[chat_id]
            window.append(moment)
            if len(window) > 1 and window[-2] > moment:  # restored history may arrive out of order
                self._group_window[chat_id] = deque(sorted(window))
        else:
            self._next[chat_id] = max(self._next.get(chat_id, 0.0), moment + self.limits.private_interval)

    def merge_group(self, chat_id: int, times: list[float]) -> None:
        """Take a group's sends as the table records them, unless this process counted more itself."""
        window = self._group_window[chat_id]
        if len(times) > len(window):
            self._group_window[chat_id] = deque(sorted(times))

    def defer(self, chat_id: int, seconds: float) -> None:
        self._next[chat_id] = max(self._next.get(chat_id, 0.0), time.monotonic() + seconds)


class LocalPacing:
    """Telegram's limits as one process keeps them: a `RateLimiter` for all calls, a `ChatPacer` per chat."""

    def __init__(self, limits: DeliveryLimits) -> None:
        self.rate = RateLimiter(limits.per_second)
        self.chats = ChatPacer(limits)

    def restore(self, sends: Iterable[tuple[int, datetime]]) -> None:
        """Never a second message to a private chat within the interval, never more than the budget to a
        group, counting the sends the table records (of a restart's predecessor, or of another process)."""
        wall, mono = utcnow(), time.monotonic()
        groups: dict[int, list[float]] = defaultdict(list)
        for chat_id, sent_at in sends:
            at = mono - (wall - sent_at).total_seconds()
            if chat_id < 0:
                groups[chat_id].append(at)
            else:
                self.chats.record(chat_id, at=at)
        for chat_id, times in groups.items():
            self.chats.merge_group(chat_id, times)

    async def wait_for_chat(self, chat_id: int) -> None:
        while True:
            delay = self.chats.ready_at(chat_id) - time.monotonic()
            if delay <= 0:
                break
            await asyncio.sleep(delay)

    async def acquire(self) -> None:
        await self.rate.acquire()

    def record(self, chat_id: int) -> None:
        self.chats.record(chat_id)

    def defer(self, chat_id: int, seconds: float) -> None:
        self.chats.defer(chat_id, seconds)
