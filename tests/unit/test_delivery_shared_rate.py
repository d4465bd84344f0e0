"""The global send rate shared by all delivery processes through PostgreSQL (scheduler/delivery/shared_rate.py,
storage/send_schedule.py), on a real PostgreSQL server and a driven clock: nothing here waits for real time.

Two `Database` objects are two processes (each its own connection pool); the clock both read is
virtual, and the database is told it (`now`), so every figure below is exact.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.delivery import DeliveryLimits, LocalPacing, RateLimiter, SharedRateLimiter, pacing_for
from scheduler.delivery.pacing import SHARED_RATE_MARGIN
from storage import migrate
from storage.db import Database
from storage.send_schedule import SharedSchedule

RATE = 30.0
INTERVAL = 1 / RATE
EPOCH = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class VirtualTime:
    """A clock for several tasks: `sleep` waits until the driver moves time to the sleeper's moment.

    The driver (`run`) moves time only while no reservation is in flight, so the database's answer is
    mapped onto the clock it was asked with (as a real process maps it a round trip later)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.in_flight = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), wake))
        await wake

    def reserve_on(self, schedule: SharedSchedule) -> Callable[[int], Awaitable[float]]:
        """A process's reservation, at the virtual now."""

        async def reserve(count: int) -> float:
            self.in_flight += 1
            try:
                return await schedule.reserve(count, INTERVAL, now=EPOCH + timedelta(seconds=self.now))
            finally:
                self.in_flight -= 1

        return reserve

    async def run(self, tasks: list[asyncio.Task[None]], until: Callable[[], bool] | None = None) -> None:
        """Let the tasks run, moving time to the next sleeper whenever all of them wait for it."""
        while not all(t.done() for t in tasks) and not (until and until()):
            for _ in range(20):  # let everything runnable run first
                await asyncio.sleep(0)
            if self.in_flight or not self._sleepers:
                await asyncio.sleep(0.001)  # a reservation is on its way to PostgreSQL and back
                continue
            at, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, at)
            if not wake.done():
                wake.set_result(None)


@pytest.fixture
async def processes(postgres_database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    first = Database(postgres_database_url)
    await migrate.upgrade(first)
    second = Database(postgres_database_url)
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def _send(limiter: SharedRateLimiter, time: VirtualTime, name: str, log: list[tuple[float, str]]) -> None:
    await limiter.acquire()
    log.append((time.now, name))


def two_limiters(time: VirtualTime, processes: tuple[Database, Database]) -> list[SharedRateLimiter]:
    """A limiter per process, each on its own connection pool, both on the virtual clock."""
    return [
        SharedRateLimiter(time.reserve_on(SharedSchedule(db)), RATE, clock=time.clock, sleep=time.sleep)
        for db in processes
    ]


def _gaps(stamps: list[float]) -> list[float]:
    ordered = sorted(stamps)
    return [later - earlier for earlier, later in itertools.pairwise(ordered)]


@pytest.mark.postgres
async def test_the_schedule_is_one_for_all_processes_and_frees_itself(processes: tuple[Database, Database]) -> None:
    """Each reservation starts where the last one of any process ended; a schedule nobody used is free at once."""
    a, b = (SharedSchedule(db) for db in processes)
    assert await a.reserve(6, INTERVAL, now=EPOCH) == 0.0
    assert await b.reserve(6, INTERVAL, now=EPOCH) == pytest.approx(6 * INTERVAL)  # behind a's six
    assert await a.reserve(1, INTERVAL, now=EPOCH + timedelta(seconds=0.1)) == pytest.approx(12 * INTERVAL - 0.1)
    # a process that stopped after reserving leaves nothing behind once its slots have passed
    assert await b.reserve(3, INTERVAL, now=EPOCH + timedelta(seconds=5)) == 0.0
    assert await a.reserve(1, INTERVAL, now=EPOCH + timedelta(seconds=5)) == pytest.approx(3 * INTERVAL)


@pytest.mark.postgres
async def test_two_processes_share_one_budget(processes: tuple[Database, Database]) -> None:
    """Two processes, 45 calls waiting in each at once: together their calls are spaced as one process's
    would be (never two within 1/30 s), both send all along, and a statement serves several calls."""
    time = VirtualTime()
    limiters = two_limiters(time, processes)
    log: list[tuple[float, str]] = []
    tasks = [
        asyncio.create_task(_send(limiter, time, name, log))
        for _ in range(45)
        for limiter, name in zip(limiters, "ab", strict=True)
    ]
    await time.run(tasks)
    assert len(log) == 90
    assert min(_gaps([at for at, _ in log])) >= INTERVAL - 1e-6
    in_first_second = {name for at, name in log if at < log[0][0] + 1}
    assert in_first_second == {"a", "b"}  # shared, not one after the other
    assert all(limiter.reservations < 45 for limiter in limiters)


@pytest.mark.postgres
async def test_a_stopped_process_leaves_the_whole_rate_to_the_other(processes: tuple[Database, Database]) -> None:
    """Both busy, then one stops (its waiting calls cancelled, as in a crash): once the slots it had
    reserved (a fraction of a second) have passed, the other sends at the full rate, one call every 1/30 s."""
    time = VirtualTime()
    limiters = two_limiters(time, processes)
    log: list[tuple[float, str]] = []
    a_tasks = [asyncio.create_task(_send(limiters[0], time, "a", log)) for _ in range(60)]
    b_tasks = [asyncio.create_task(_send(limiters[1], time, "b", log)) for _ in range(60)]
    await time.run(a_tasks + b_tasks, until=lambda: sum(name == "a" for _, name in log) >= 15)
    stopped_at = time.now
    for task in a_tasks:
        task.cancel()
    await asyncio.gather(*a_tasks, return_exceptions=True)
    await time.run(b_tasks)
    b_after = [at for at, name in log if name == "b" and at > stopped_at]
    assert b_after
    assert {name for at, name in log if at <= stopped_at} == {"a", "b"}  # both sent while both were busy
    # what the stopped one had reserved lies at most a horizon behind the other's reservation, which
    # lies at most a horizon ahead: after that the schedule is b's alone
    taken_over = [at for at in b_after if at >= stopped_at + 3 * limiters[0].horizon]
    assert len(taken_over) > 10
    assert max(_gaps(taken_over)) == pytest.approx(INTERVAL, abs=1e-6)  # the whole rate
    assert min(_gaps([at for at, _ in log])) >= INTERVAL - 1e-6


@pytest.mark.postgres
async def test_a_429_pauses_every_process(processes: tuple[Database, Database]) -> None:
    """Telegram refuses one process's call (429, retry after 1 s): that process pauses, and so does the
    other through the schedule they share, once the few slots it already holds have passed; going on at
    the full rate would keep the bot's budget in debt and
    turn the one refusal into hundreds."""
    time = VirtualTime()
    schedules = [SharedSchedule(db) for db in processes]

    def pause_on(schedule: SharedSchedule) -> Callable[[float], Awaitable[None]]:
        async def pause(seconds: float) -> None:
            time.in_flight += 1
            try:
                await schedule.pause(seconds, now=EPOCH + timedelta(seconds=time.now))
            finally:
                time.in_flight -= 1

        return pause

    limiters = [
        SharedRateLimiter(time.reserve_on(schedule), RATE, pause=pause_on(schedule), clock=time.clock, sleep=time.sleep)
        for schedule in schedules
    ]
    log: list[tuple[float, str]] = []
    tasks = [
        asyncio.create_task(_send(limiter, time, name, log))
        for _ in range(30)
        for limiter, name in zip(limiters, "ab", strict=True)
    ]
    await time.run(tasks, until=lambda: len(log) >= 10)
    refused_at = time.now
    limiters[0].pause(1.0)  # a's call was refused
    await time.run(tasks)
    assert len(log) == 60
    during = [(at, name) for at, name in log if refused_at < at < refused_at + 1.0 - 1e-3]  # µs in the database
    # a sent nothing more; b only the few slots it had reserved before the pause (its horizon), then waited
    assert {name for _, name in during} <= {"b"}
    assert all(at <= refused_at + limiters[1].horizon + 2 * INTERVAL for at, _ in during)
    after = {name for at, name in log if at >= refused_at + 1.0 - 1e-3}
    assert after == {"a", "b"}
    assert min(_gaps([at for at, _ in log])) >= INTERVAL - 1e-6


async def test_calls_wait_while_the_database_is_away() -> None:
    """A reservation that fails is tried again; no call goes out without its slot meanwhile."""
    time = VirtualTime()
    answers: list[Exception | float] = [ConnectionError("down"), ConnectionError("down"), 0.0, 0.0]

    async def reserve(count: int) -> float:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    limiter = SharedRateLimiter(reserve, RATE, clock=time.clock, sleep=time.sleep)
    log: list[tuple[float, str]] = []
    tasks = [asyncio.create_task(_send(limiter, time, "a", log)) for _ in range(2)]
    await time.run(tasks)
    assert len(log) == 2 and log[0][0] >= sum(SharedRateLimiter.RETRY[:2])
    assert limiter.reservations == 1  # both calls in one statement


async def test_a_call_that_woke_too_late_takes_a_new_slot() -> None:
    """A process that stalled past its slots (a busy event loop) does not send them all at once on waking."""
    time = VirtualTime()
    schedule = {"next": 0.0}

    async def reserve(count: int) -> float:  # the database's rule, on the virtual clock
        first = max(schedule["next"], time.now)
        schedule["next"] = first + count * INTERVAL
        return first - time.now

    limiter = SharedRateLimiter(reserve, RATE, clock=time.clock, sleep=time.sleep)
    log: list[tuple[float, str]] = []
    tasks = [asyncio.create_task(_send(limiter, time, "a", log)) for _ in range(6)]
    await time.run(tasks, until=lambda: len(log) >= 1)
    time.now += 0.5  # the process froze for half a second: the other five slots have passed
    await time.run(tasks)
    assert len(log) == 6 and limiter.missed == 5
    assert min(_gaps([at for at, _ in log])) >= INTERVAL - 1e-6


async def test_a_call_that_lost_its_slot_keeps_its_place_in_line() -> None:
    """Calls that woke too late take new slots before the calls that began waiting meanwhile: at the back of
    the line a call could wait past its row's lease (and another process would send that row too)."""
    time = VirtualTime()
    schedule = {"next": 0.0}

    async def reserve(count: int) -> float:
        first = max(schedule["next"], time.now)
        schedule["next"] = first + count * INTERVAL
        return first - time.now

    limiter = SharedRateLimiter(reserve, RATE, clock=time.clock, sleep=time.sleep)
    log: list[tuple[float, str]] = []
    early = [asyncio.create_task(_send(limiter, time, f"early{n}", log)) for n in range(3)]
    await time.run(early, until=lambda: len(log) >= 1)
    time.now += 0.5  # the process froze: the other early calls' slots have passed
    late = [asyncio.create_task(_send(limiter, time, f"later{n}", log)) for n in range(30)]
    await time.run(early + late)
    order = [name for _, name in log]
    assert len(order) == 33 and limiter.missed >= 2
    # served with the next reservations (a few slots are handed out at a time), not after the 30 later ones
    assert order.index("early1") < 3 + 2 * limiter.batch and order.index("early2") < 3 + 2 * limiter.batch


async def test_sqlite_keeps_the_rate_in_process(sqlite_database_url: str) -> None:
    db = Database(sqlite_database_url)
    try:
        pacing = pacing_for(db, DeliveryLimits())
        assert isinstance(pacing, LocalPacing) and isinstance(pacing.rate, RateLimiter)
        with pytest.raises(ValueError, match="PostgreSQL"):
            SharedSchedule(db)
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_postgres_shares_the_rate(processes: tuple[Database, Database]) -> None:
    pacing = pacing_for(processes[0], DeliveryLimits())
    assert isinstance(pacing.rate, SharedRateLimiter)
    # spaced a little under Telegram's 30 a second: jitter bunches calls, and only idle time wins that back
    assert pacing.rate.interval == pytest.approx(1 / (30 * SHARED_RATE_MARGIN))
    assert SHARED_RATE_MARGIN < 1
    await pacing.acquire()  # the real clock: the schedule is free, so this is at once
    assert pacing.rate.reservations == 1


async def test_slots_are_placed_from_the_middle_of_the_round_trip() -> None:
    """The database measures a slot from its own now, halfway through the reservation's round trip: placed
    from the moment the answer came, every slot of a process with a slow connection lands late by its
    latency, onto the next slots of the other processes."""
    time = VirtualTime()
    schedule = {"next": 10.0}
    leg = 0.05  # each way: slower than a slot's interval

    async def reserve(count: int) -> float:  # the database's rule, on the virtual clock, a leg away
        await time.sleep(leg)
        first = max(schedule["next"], time.now)
        schedule["next"] = first + count * INTERVAL
        answer = first - time.now
        await time.sleep(leg)
        return answer

    limiter = SharedRateLimiter(reserve, RATE, clock=time.clock, sleep=time.sleep)
    log: list[tuple[float, str]] = []
    tasks = [asyncio.create_task(_send(limiter, time, "a", log)) for _ in range(12)]
    await time.run(tasks)
    expected = [10.0 + n * INTERVAL for n in range(12)]
    assert [at for at, _ in log] == pytest.approx(expected)
    assert limiter.missed == 0


async def test_a_groups_call_goes_ahead_of_the_private_calls_waiting() -> None:
    """A group's call takes the next slot handed out, however many private chats' calls wait before it."""
    time = VirtualTime()
    schedule = {"next": 0.0}

    async def reserve(count: int) -> float:
        first = max(schedule["next"], time.now)
        schedule["next"] = first + count * INTERVAL
        return first - time.now

    async def send(name: str, first: bool) -> None:
        await limiter.acquire(first=first)
        log.append((time.now, name))

    limiter = SharedRateLimiter(reserve, RATE, clock=time.clock, sleep=time.sleep)
    log: list[tuple[float, str]] = []
    private = [asyncio.create_task(send(f"private{n}", False)) for n in range(40)]
    await time.run(private, until=lambda: len(log) >= 1)
    gone = len(log)
    group = asyncio.create_task(send("group", True))
    await time.run([*private, group])
    order = [name for _, name in log]
    assert len(order) == 41
    # behind only the calls whose slots were handed out when it came (two reservations' worth at most)
    assert order.index("group") <= gone + 2 * limiter.batch < 40
    assert min(_gaps([at for at, _ in log])) >= INTERVAL - 1e-6
