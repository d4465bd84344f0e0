"""Pacing (scheduler.delivery.pacing): Telegram's limits kept on a simulated clock, so nothing here waits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

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
