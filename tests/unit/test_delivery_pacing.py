"""Pacing (scheduler.delivery.pacing): Telegram's limits kept on a simulated clock, so nothing here waits."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

import scheduler.delivery.pacing as pacing_module
from scheduler.delivery.limits import DeliveryLimits
from scheduler.delivery.pacing import ChatPacer, LocalPacing, RateLimiter
from storage.types import utcnow


class Clock:
    """time.monotonic and asyncio.sleep for the pacing module: sleeping moves the clock, instantly."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: float = 1000.0) -> None:
        self.now = start
        real_sleep = asyncio.sleep

        async def sleep(seconds: float) -> None:
            self.now += max(0.0, seconds)
            await real_sleep(0)

        monkeypatch.setattr(pacing_module.time, "monotonic", lambda: self.now)
        monkeypatch.setattr(pacing_module.asyncio, "sleep", sleep)


def test_pacer_private_interval_and_group_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    pacer = ChatPacer(DeliveryLimits(private_interval=1.0, group_per_minute=3))
    pacer.record(42)
    assert pacer.ready_at(42) == 1001.0
    pacer.defer(42, 5)  # 429 retry_after
    pacer.record(42)  # the failed call is recorded after the defer: the longer wait must win
    assert pacer.ready_at(42) == 1005.0
    for _ in range(3):
        pacer.record(-100)
        clock.now += 10
    assert pacer.ready_at(-100) == 1060.0  # the fourth in a minute waits for the first to leave the window
    clock.now = 1061.0
    assert pacer.ready_at(-100) <= clock.now


async def test_rate_limiter_spaces_calls_evenly(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    limiter = RateLimiter(50)
    stamps = []
    for _ in range(60):
        await limiter.acquire()
        stamps.append(clock.now)
    window = max(sum(1 for s in stamps if a <= s < a + pacing_module.RateLimiter.WINDOW) for a in stamps)
    assert window <= 49  # one below the limit in any second (plus the margin for clock jitter)
    # spaced one interval apart; a slot freed by a late caller (or by the window) lets two go together,
    # never three
    assert all(third - first >= 1 / 50 - 1e-9 for first, third in zip(stamps, stamps[2:], strict=False))
    assert stamps[-1] - stamps[0] >= (len(stamps) - 2) / 50 - 1e-9


async def test_local_pacing_restores_the_last_minute_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    pacing = LocalPacing(DeliveryLimits(private_interval=1.0, group_per_minute=2))
    now = utcnow()
    pacing.restore([(42, now - timedelta(seconds=0.25)), (-100, now - timedelta(seconds=30)), (-100, now)])
    assert pacing.chats.ready_at(42) == pytest.approx(clock.now + 0.75, abs=0.05)  # a restart waits the rest
    assert pacing.chats.ready_at(-100) == pytest.approx(clock.now + 30, abs=0.05)  # the group's budget is spent
    start = clock.now
    await pacing.wait_for_chat(42)
    assert clock.now - start == pytest.approx(0.75, abs=0.05)
    before = clock.now
    pacing.defer(7, 5)  # 429 retry_after
    await pacing.wait_for_chat(7)
    assert clock.now - before == pytest.approx(5)


def test_a_group_taken_back_counts_the_sends_of_whoever_had_it_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes take turns with a group (one at a time, claims). When this one claims it again, the
    table's record of the last minute is the group's minute: what this process remembers of its own
    earlier turn (a full budget a minute ago, not yet pruned) must not hide the other's sends since."""
    clock = Clock(monkeypatch)
    pacing = LocalPacing(DeliveryLimits(group_per_minute=3))
    for _ in range(3):  # this process's turn: the budget spent, each send recorded in the table
        pacing.record(-100)
        pacing.recorded(-100)
        clock.now += 1
    clock.now += 70  # meanwhile the other process had the group and sent two
    now = utcnow()
    pacing.restore([(-100, now - timedelta(seconds=20)), (-100, now - timedelta(seconds=10))])
    assert pacing.chats.ready_at(-100) <= clock.now  # one more fits in the minute
    pacing.record(-100)
    assert pacing.chats.ready_at(-100) == pytest.approx(clock.now + 40, abs=0.05)  # then the other's first must leave


def test_a_group_keeps_counting_its_own_calls_the_table_does_not_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that is not a recorded send (refused, failed, its answer lost, a split row's earlier part)
    counts on after the table's record is taken back in, and a recorded one is not counted twice."""
    clock = Clock(monkeypatch)
    pacing = LocalPacing(DeliveryLimits(group_per_minute=3))
    pacing.record(-100)  # its answer was lost: maybe in the group, not in the table
    clock.now += 5
    pacing.record(-100)  # sent and recorded: the table's sent_at below is this call
    pacing.recorded(-100)
    now = utcnow()
    pacing.restore([(-100, now)])
    assert pacing.chats.ready_at(-100) <= clock.now  # 2 of 3: the recorded send is counted once
    pacing.record(-100)
    assert pacing.chats.ready_at(-100) == pytest.approx(clock.now + 55, abs=0.05)  # the lost answer's minute


async def test_two_processes_taking_turns_with_a_group_never_exceed_its_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes take turns with a group (one at a time, as claims make them), each taking back the
    table's record when its turn begins: counted as Telegram counts them, no minute holds more than the
    group's budget, whoever sent."""
    clock = Clock(monkeypatch)
    start, started = clock.now, utcnow()
    monkeypatch.setattr(pacing_module, "utcnow", lambda: started + timedelta(seconds=clock.now - start))
    group, budget = -100, 3
    processes = [LocalPacing(DeliveryLimits(group_per_minute=budget)) for _ in range(2)]
    sent: list[float] = []  # the group's messages, on the clock Telegram sees
    table: list[tuple[int, datetime]] = []  # the outbox table's sent_at of each
    for turn, messages in enumerate([3, 2, 3, 1, 3, 3]):
        pacing = processes[turn % 2]
        now = pacing_module.utcnow()
        pacing.restore([(chat, at) for chat, at in table if at >= now - pacing_module.PACING_MEMORY])
        for _ in range(messages):
            await pacing.wait_for_chat(group)
            sent.append(clock.now)
            clock.now += 0.05  # the answer: the sender records the call, then the table the send
            pacing.record(group)
            table.append((group, pacing_module.utcnow()))
            pacing.recorded(group)
        clock.now += 25  # the other process's turn comes a while later
    assert len(sent) == 15
    assert max(sum(1 for at in sent if first <= at < first + 60) for first in sent) <= budget


async def test_a_429_pauses_every_call_briefly_and_the_chat_for_the_whole_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram does not say which limit a 429 is about: every call waits (up to the cap), the chat the whole
    retry_after (a group's per-minute budget may ask for a minute)."""
    clock = Clock(monkeypatch)
    pacing = LocalPacing(DeliveryLimits(per_second=30))
    await pacing.acquire()
    start = clock.now
    pacing.refused(-100, 2)
    await pacing.acquire()  # another chat's call
    assert clock.now - start == pytest.approx(2)
    start = clock.now
    pacing.refused(-100, 60)
    await pacing.acquire()
    assert clock.now - start == pytest.approx(pacing_module.GLOBAL_PAUSE_CAP)
    await pacing.wait_for_chat(-100)
    assert clock.now - start == pytest.approx(60)


async def test_a_groups_call_goes_ahead_in_the_in_process_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's rate: a group's call waits for the call taking its turn now, not for the private chats'
    calls in line (a broadcast must not starve the staff group, which has a budget of its own)."""
    Clock(monkeypatch)
    pacing = LocalPacing(DeliveryLimits(per_second=10))
    order: list[int] = []

    async def call(chat_id: int) -> None:
        await pacing.acquire(chat_id)
        order.append(chat_id)

    private = [asyncio.create_task(call(chat)) for chat in range(1, 21)]
    await asyncio.sleep(0)  # the private calls are in line
    gone = len(order)
    group = asyncio.create_task(call(-100))
    await asyncio.gather(*private, group)
    assert len(order) == 21 and gone < 10
    # after the call taking its turn and the one given it before the group's call (a new task) got in line
    assert order.index(-100) <= gone + 2
