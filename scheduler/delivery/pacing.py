"""Pacing: when the next Bot API call may go out, so Telegram never has to refuse one.

The sender asks a `Pacing` before every call; this module's `LocalPacing` keeps Telegram's limits: a
global rate (evenly spaced, no bursts), a minimum interval per private chat and a per-minute budget per
group. Every limit holds for the whole deployment, however many processes send:

- the global rate: on SQLite (one process) this process's `RateLimiter`; on PostgreSQL the slots come
  from the schedule all processes share in the database (`shared_rate.SharedRateLimiter`);
- per chat and per group: a chat's rows are sent by one process at a time (`claims`), and what the table
  records of the chat's sends in the last minute (`sent_at`) is fed back in (`restore`) for every chat
  a process claims on PostgreSQL (another process may have sent to it a moment ago) and after a restart.
  For a group the table's record *is* the last minute, whoever sent: the process adds to it only its own
  calls the table does not show as a send (refused, failed, an answer lost, the earlier parts of a split
  row). What it remembers of its own earlier turns is no substitute: its calls of a minute ago, not yet
  pruned, could outnumber the table's record and hide the sends of the process that had the group since
  (the one way found to the 21 messages to one group within a minute, and the 429, that
  benchmarks/outbox.py once showed with two processes).

A group's calls go ahead of private chats' calls in the line for a slot of the global rate. The rate
covers every call, but a group has its own budget (20 a minute) that keeps its calls from taking over
the rate; in line behind a broadcast to hundreds of private chats a group got one message per trip
through the line (one in ~31 s with two processes, benchmarks/outbox.py), however little of its own
budget it had used.
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
from scheduler.delivery.shared_rate import SharedRateLimiter
from storage.db import Database
from storage.send_schedule import SharedSchedule
from storage.types import utcnow

#: how far back the table's sends count for pacing (the group budget is per minute)
PACING_MEMORY = timedelta(seconds=60)
#: the shared schedule spaces its slots for this share of the rate. Telegram counts calls as they arrive: a
#: deployment that sends at exactly the rate has no idle moment to win back what network or CPU jitter
#: bunched, so its budget only ever shrinks until a 429 (the in-process `RateLimiter` keeps its margin too)
SHARED_RATE_MARGIN = 0.95
#: the longest a 429 pauses every call of the deployment (a longer retry_after is a chat's, e.g. a group's)
GLOBAL_PAUSE_CAP = 5.0


class Limiter(Protocol):
    async def acquire(self, *, first: bool = False) -> None:
        """Until the next call may go out under the global rate; `first` calls go ahead of the others."""
        ...

    def pause(self, seconds: float) -> None:
        """Telegram refused a call (429): no call under this rate for `seconds`."""
        ...


class Pacing(Protocol):
    def restore(self, sends: Iterable[tuple[int, datetime]]) -> None:
        """Take into account sends the table records: (chat id, sent at) of the last PACING_MEMORY."""
        ...

    async def wait_for_chat(self, chat_id: int) -> None:
        """Until the chat may receive its next message."""
        ...

    async def acquire(self, chat_id: int | None = None) -> None:
        """A slot of the global rate, taken right before the call to `chat_id` (a group's first: see above)."""
        ...

    def record(self, chat_id: int) -> None:
        """A call to the chat was made (whatever its outcome)."""
        ...

    def recorded(self, chat_id: int) -> None:
        """The chat's last call is committed as its row's send (the table's `sent_at` now shows it)."""
        ...

    def defer(self, chat_id: int, seconds: float) -> None:
        """Leave the chat alone for `seconds` (a failed call's backoff)."""
        ...

    def refused(self, chat_id: int, retry_after: float) -> None:
        """Telegram answered 429: the chat waits `retry_after`, and so, briefly, does every call."""
        ...


class RateLimiter:
    """At most `per_second` calls in any one-second window, evenly spaced: no bursts Telegram would punish.

    Callers get slots `1 / per_second` apart; one that wakes late lets the next keep its slot (so the
    average holds), while a sliding window over the moments callers actually went through caps every
    second at the limit, however late anyone woke. Callers take their turns one at a time, in order, a
    group's calls (`first`) ahead of the rest (a group's go first: see the module docstring).
    """

    WINDOW = 1.05  # one second, plus a margin for the jitter between our clock and the server's

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        # one below the limit: a call that left late and one that left early may still arrive together
        self.capacity = max(1, math.ceil(per_second) - 1)
        self._slot = float("-inf")
        self._recent: deque[float] = deque()
        self._busy = False  # a caller is taking its turn
        self._line: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    async def acquire(self, *, first: bool = False) -> None:
        if self._busy or any(self._line):
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._line[0 if first else 1].append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # the turn came as we were cancelled: pass it on
                    self._pass_turn()
                raise
        self._busy = True
        try:
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
        finally:
            self._pass_turn()

    def _pass_turn(self) -> None:
        """The next caller in line (groups' first) takes its turn, or nobody is busy."""
        for line in self._line:
            while line:
                turn = line.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._busy = False

    def pause(self, seconds: float) -> None:
        self._slot = max(self._slot, time.monotonic() + seconds)


class ChatPacer:
    """When each chat may receive its next message (monotonic seconds)."""

    def __init__(self, limits: DeliveryLimits) -> None:
        self.limits = limits
        self._next: dict[int, float] = {}
        #: a group's calls in the last minute: the table's record of its sends (`take_group_record`), then
        #: this process's own calls since
        self._group_window: dict[int, deque[float]] = defaultdict(deque)
        #: this process's calls to a group that the table does not (yet) show as a send
        self._unrecorded: dict[int, deque[float]] = defaultdict(deque)

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
            if at is None:
                self._unrecorded_since(chat_id, moment - PACING_MEMORY.total_seconds()).append(moment)
        else:
            self._next[chat_id] = max(self._next.get(chat_id, 0.0), moment + self.limits.private_interval)

    def recorded(self, chat_id: int) -> None:
        """The chat's last call is now in the table as a send (one per row: a split row's earlier parts stay)."""
        unrecorded = self._unrecorded.get(chat_id)
        if unrecorded:
            unrecorded.pop()

    def take_group_record(self, chat_id: int, times: list[float]) -> None:
        """The group's last minute is what the table records (`times`, every process's sends), plus this
        process's own calls the table does not show: never what this process counted of its own, which
        misses the sends of whoever had the group since (see the module docstring)."""
        unrecorded = self._unrecorded_since(chat_id, time.monotonic() - PACING_MEMORY.total_seconds())
        self._group_window[chat_id] = deque(sorted([*times, *unrecorded]))

    def _unrecorded_since(self, chat_id: int, horizon: float) -> deque[float]:
        """The group's unrecorded calls after `horizon` (older ones no longer count, and would pile up)."""
        unrecorded = self._unrecorded[chat_id]
        while unrecorded and unrecorded[0] <= horizon:
            unrecorded.popleft()
        return unrecorded

    def defer(self, chat_id: int, seconds: float) -> None:
        self._next[chat_id] = max(self._next.get(chat_id, 0.0), time.monotonic() + seconds)


class LocalPacing:
    """Telegram's limits: a global `rate` for all calls (this process's `RateLimiter` unless given the
    deployment's), a `ChatPacer` per chat (see the module docstring for how it holds across processes)."""

    def __init__(self, limits: DeliveryLimits, rate: Limiter | None = None) -> None:
        self.rate: Limiter = rate or RateLimiter(limits.per_second)
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
            self.chats.take_group_record(chat_id, times)

    async def wait_for_chat(self, chat_id: int) -> None:
        while True:
            delay = self.chats.ready_at(chat_id) - time.monotonic()
            if delay <= 0:
                break
            await asyncio.sleep(delay)

    async def acquire(self, chat_id: int | None = None) -> None:
        await self.rate.acquire(first=chat_id is not None and chat_id < 0)

    def record(self, chat_id: int) -> None:
        self.chats.record(chat_id)

    def recorded(self, chat_id: int) -> None:
        self.chats.recorded(chat_id)

    def defer(self, chat_id: int, seconds: float) -> None:
        self.chats.defer(chat_id, seconds)

    def refused(self, chat_id: int, retry_after: float) -> None:
        """Telegram does not say which limit a 429 is about. Every call pauses for the wait, up to
        `GLOBAL_PAUSE_CAP` (going on at full rate would keep the bot's overall budget in debt: one
        refusal would become hundreds); only the chat waits longer (a group's per-minute budget)."""
        self.chats.defer(chat_id, retry_after)
        self.rate.pause(min(retry_after, GLOBAL_PAUSE_CAP))


def pacing_for(db: Database, limits: DeliveryLimits) -> LocalPacing:
    """The pacing a delivery process uses: on PostgreSQL the global rate is the deployment's, shared
    through the database with every other process; on SQLite (one process) it is this process's."""
    if db.is_sqlite:
        return LocalPacing(limits)
    schedule = SharedSchedule(db)
    per_second = limits.per_second * SHARED_RATE_MARGIN
    interval = 1.0 / per_second

    async def reserve(count: int) -> float:
        return await schedule.reserve(count, interval)

    return LocalPacing(limits, SharedRateLimiter(reserve, per_second, pause=schedule.pause))
