"""The global send rate held by all delivery processes together, through the database they share.

Telegram allows a bot about 30 messages a second in all, however many processes send them. On
PostgreSQL every process takes its calls' slots from one schedule in the database
(`storage.send_schedule`): slots are `1 / per_second` apart, whoever takes them, so the deployment's
calls are evenly spaced as if one process sent them all, and an idle process takes nothing (a busy one
gets the whole rate). A process reserves slots only for the calls waiting for one, a few at a time
(at most `horizon` seconds' worth), so it never holds more of the future than that: when it stops, the
others find the schedule free within a second, and no lease has to run out.

The cost is one statement per reservation, not per call: the calls waiting together share one, and at
Telegram's rate a busy process reserves about five times a second.

A call whose process woke too late for its slot (a busy event loop, a machine short of CPU) does not go
out late in a crowd with the next calls: more than `late` seconds after its slot, it reserves a new one,
first in line (at the back of the line it could wait past its row's lease, and another process would
send the row too).
So any second holds at most about `per_second × (1 + late)` of the deployment's calls.

The database measures a slot's distance from its own now, which falls somewhere within the reservation's
round trip; the process places the slot from the middle of that trip (exact when both ways take as long).
Placed from the moment the answer arrived instead, every slot of a process lands late by its latency, and
the calls of a process with a slow connection crowd the next slots of the others.

Calls to groups go ahead of the calls to private chats in a process's line (`acquire(first=True)`): the
global rate is for all calls, but a group has its own budget (20 a minute), which keeps its calls from
taking over the rate, while at the back of a line of hundreds of private chats (a broadcast) it would get
one message per trip through the line (about one in 30 s) however little of its budget it had used.

A 429 pauses the deployment (`pause`): the process that was refused moves the schedule's next free
slot past the wait, so every process's next reservation comes after it, and its own calls that already
hold a slot wait too and take a new one. Going on at the full rate after a refusal would keep Telegram's
budget in debt and turn one refusal into hundreds (the reference limiter, python-telegram-bot's
AIORateLimiter, also stops all calls on a 429).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger("bot.delivery")

#: `count` → seconds from now until the first of `count` consecutive slots reserved in the shared schedule
Reserve = Callable[[int], Awaitable[float]]
#: `seconds` → no slot for anyone in the shared schedule before that many seconds from now
Pause = Callable[[float], Awaitable[None]]


class SharedRateLimiter:
    """A `RateLimiter` whose slots come from the deployment's shared schedule (see the module docstring)."""

    #: seconds between tries when the database does not answer (the calls keep waiting meanwhile)
    RETRY = (0.2, 0.5, 1.0, 2.0, 5.0)

    def __init__(
        self,
        reserve: Reserve,
        per_second: float,
        *,
        pause: Pause | None = None,
        horizon: float = 0.2,
        late: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self.horizon = horizon
        self.late = late
        #: slots per reservation: the waiting calls, up to `horizon` seconds' worth
        self.batch = max(1, math.floor(per_second * horizon))
        self._reserve = reserve
        self._pause_shared = pause
        self._paused_until = float("-inf")
        self._pausing: set[asyncio.Task[None]] = set()
        self._clock = clock
        self._sleep = sleep
        self._waiting: deque[asyncio.Future[float]] = deque()
        #: calls to groups: served before `_waiting` (see the module docstring)
        self._first: deque[asyncio.Future[float]] = deque()
        self._task: asyncio.Task[None] | None = None
        self.reservations = 0  # statements run (benchmarks, tests)
        self.missed = 0  # slots given up because their call woke more than `late` after them

    async def acquire(self, *, first: bool = False) -> None:
        """Until this call's slot: reserved together with the other calls waiting now; `first` (a group's
        call) goes ahead of the calls that are not."""
        again = False  # a call that lost its slot keeps its place: before the calls that came meanwhile
        line = self._first if first else self._waiting
        while True:
            slot: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            if again:
                line.appendleft(slot)
            else:
                line.append(slot)
            again = True
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._hand_out(), name="outbox-shared-rate")
            at = await slot
            delay = at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            if self._clock() < self._paused_until:  # a 429 came meanwhile: a new slot after the pause
                await self._sleep(self._paused_until - self._clock())
                continue
            if self._clock() - at <= self.late:
                return
            self.missed += 1  # the slot has passed: going now would crowd the slots after it

    def pause(self, seconds: float) -> None:
        """Telegram refused a call (429): no call of the deployment for `seconds` (see the module docstring)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        if self._pause_shared is not None:
            task = asyncio.get_running_loop().create_task(self._tell_the_others(seconds), name="outbox-pause")
            self._pausing.add(task)
            task.add_done_callback(self._pausing.discard)

    async def _tell_the_others(self, seconds: float) -> None:
        assert self._pause_shared is not None
        try:
            await self._pause_shared(seconds)
        except Exception as exc:  # this process waits anyway; the others meet the same 429 and pause then
            log.warning("the shared send schedule could not be paused (%s)", type(exc).__name__)

    def _pending(self) -> int:
        """The calls still waiting for a slot (a caller that went away, at shutdown, needs none)."""
        if any(waiter.done() for waiter in self._waiting):
            self._waiting = deque(waiter for waiter in self._waiting if not waiter.done())
        if any(waiter.done() for waiter in self._first):
            self._first = deque(waiter for waiter in self._first if not waiter.done())
        return len(self._first) + len(self._waiting)

    def _next(self) -> asyncio.Future[float]:
        return (self._first or self._waiting).popleft()

    async def _hand_out(self) -> None:
        """Reserve slots for the waiting calls, in order, never more than `horizon` ahead of the last one."""
        failures = 0
        try:
            while self._pending():
                count = min(self._pending(), self.batch)
                asked = self._clock()
                try:
                    delay = await self._reserve(count)
                except Exception as exc:  # the database is away: nobody sends without a slot
                    if not failures:
                        log.warning("the shared send schedule did not answer (%s); calls wait", type(exc).__name__)
                    await self._sleep(self.RETRY[min(failures, len(self.RETRY) - 1)])
                    failures += 1
                    continue
                failures = 0
                self.reservations += 1
                # the database's now lies within the round trip: its middle (see the module docstring)
                first = (asked + self._clock()) / 2 + delay
                for index in range(count):
                    if not self._pending():
                        break  # the slot goes unused, which only slows the deployment down
                    self._next().set_result(first + index * self.interval)
                ahead = first + (count - 1) * self.interval - self._clock() - self.horizon
                if ahead > 0 and self._pending():
                    await self._sleep(ahead)
        except BaseException as exc:  # cancelled with the loop: nobody may wait for ever
            while self._first or self._waiting:
                waiter = self._next()
                if waiter.done():
                    continue
                if isinstance(exc, Exception):
                    waiter.set_exception(exc)
                else:
                    waiter.cancel()
            raise
