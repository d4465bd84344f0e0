"""Telegram's flood control as the Bot API stand-in models it: on in every test, by default.

What Telegram documents (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
"avoid sending more than one message per second" in a chat, "we may allow short bursts that go over
this limit, but eventually you'll begin receiving 429 errors"; "not more than 30 messages per second or
so" in bulk; "not able to send more than 20 messages per minute to the same group". The exact rules are
unpublished, so the stand-in models the documented figures with token buckets, the model the reference
limiters use (python-telegram-bot's AIORateLimiter: 30 per second overall, 20 per minute per group, each
a bucket that may be spent at once):

- overall: 30 messages a second, a bucket of 30 (one second's worth may arrive together);
- a group, supergroup or channel: 20 a minute, a bucket of 20 (a group may take its 20 in one go, then
  one every three seconds);
- a private chat: one a second, a bucket of 20 (the "short bursts"). Why 20: Telegram allows bursts
  and does not say how long; python-telegram-bot's limiter does not pace private chats at all. A
  customer in a real conversation reads and types between the bot's answers, so a real chat never
  empties a bucket of 20; the tests' simulated people answer within milliseconds, so one test's
  conversation is a burst, and 20 lets a whole intake plus an agent's replies through without slowing
  every test to one message a second, while a bot that floods one chat (a loop, a resend storm, the
  per-chat pacing switched off) is refused as Telegram would refuse it.

Counted: every call that puts a message into a chat (`MESSAGE_METHODS`) and every edit (`EDIT_METHODS`:
Telegram limits edits too, and a card edited at every status change is most of a staff group's traffic).
Not counted: chat actions, callback answers, deletions, topic management.

A refused call is an attempt too: it spends a token it does not have, so the bucket goes into debt and
``retry_after`` grows with the overshoot (a bot that ignores it and retries at once is told to wait
longer each time, as Telegram does; hammering on is what gets a bot banned). ``retry_after`` is whole
seconds, rounded up, so a bot that waits exactly that long and retries is accepted.

The stand-in's own stalls. The stand-in runs in the test's process on a busy 2-core machine; when its
event loop is held up (descheduled, a collection, a blocking test step), the calls that arrived meanwhile
wait in the socket and are all handled together when it resumes: counted at that moment, a bot that
paced them perfectly would look like a burst. Telegram's servers never stall, so the stand-in gives back
what it could not see: ``check(..., stalled_since=t)`` (the stand-in's heartbeat last ran at t, well
over a tick ago) lets the overall bucket hold the refill of the stalled time on top of its capacity
while the backlog is worked off, as if the waiting calls had arrived paced; the next refill after the
heartbeat has run again cuts it back to capacity. Outside stalls nothing changes.

Tests never switch this off; a test that needs speed shortens the bot's own waits (OUTBOX_* settings)
within these limits. ``enforce = False`` exists for the benchmarks that measure the machinery without
Telegram's pacing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FloodControl", "FloodLimits", "FloodRefusal", "TokenBucket"]


@dataclass
class FloodLimits:
    """The modelled limits (see the module docstring for where each figure comes from)."""

    enforce: bool = True
    global_per_second: float = 30.0
    global_burst: float = 30.0
    private_per_second: float = 1.0
    private_burst: float = 20.0
    group_per_minute: float = 20.0
    group_burst: float = 20.0


@dataclass
class TokenBucket:
    """``capacity`` tokens refilled at ``rate`` per second; a call spends one, a refused call too (debt)."""

    rate: float
    capacity: float
    updated: float = 0.0
    level: float = field(init=False)

    def __post_init__(self) -> None:
        self.level = self.capacity

    def refill(self, now: float, stalled: float = 0.0) -> None:
        """Add what accrued since the last call (never above capacity, plus what `stalled` seconds accrue)."""
        if now > self.updated:
            ceiling = self.capacity + stalled * self.rate
            self.level = min(ceiling, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def short(self, now: float) -> bool:
        """Whether a call now would be refused."""
        self.refill(now)
        return self.level < 1.0

    def spend(self) -> None:
        """One call (accepted or refused) takes a token."""
        self.level -= 1.0

    def wait(self) -> int:
        """Whole seconds until a token is there again (at least 1)."""
        return max(1, math.ceil((1.0 - self.level) / self.rate - 1e-9))


@dataclass(frozen=True)
class FloodRefusal:
    """One 429 the flood model answered: when, to which chat, which limit, and the retry_after given."""

    at: float
    chat_id: int | None
    scope: str  # "global" | "private" | "group"
    retry_after: int


class FloodControl:
    """The buckets of one bot token: ``check(chat_id, chat_type)`` → None (go ahead) or retry_after."""

    def __init__(self, limits: FloodLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or FloodLimits()
        self.clock = clock  # a test of the model itself may freeze it
        self._global: TokenBucket | None = None
        self._chats: dict[int, TokenBucket] = {}
        self.refusals: list[FloodRefusal] = []

    def _overall(self, now: float) -> TokenBucket:
        if self._global is None:
            self._global = TokenBucket(self.limits.global_per_second, self.limits.global_burst, updated=now)
        return self._global

    def _chat(self, chat_id: int, chat_type: str, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if chat_type == "private":
                bucket = TokenBucket(self.limits.private_per_second, self.limits.private_burst, updated=now)
            else:
                bucket = TokenBucket(self.limits.group_per_minute / 60.0, self.limits.group_burst, updated=now)
            self._chats[chat_id] = bucket
        return bucket

    def check(
        self,
        chat_id: int | None,
        chat_type: str | None,
        now: float | None = None,
        *,
        stalled_since: float | None = None,
    ) -> int | None:
        """Count one message or edit; None when Telegram would accept it, else the ``retry_after`` to give.
        `stalled_since`: the stand-in's loop has not run freely since then (see the module docstring)."""
        if not self.limits.enforce:
            return None
        now = self.clock() if now is None else now
        overall = self._overall(now)
        if stalled_since is not None:  # while working off the backlog, the stalled time's refill is not cut
            overall.refill(now, stalled=now - stalled_since)
        buckets: list[tuple[str, TokenBucket]] = [("global", overall)]
        if chat_id is not None and chat_type is not None:
            scope = "private" if chat_type == "private" else "group"
            buckets.append((scope, self._chat(chat_id, chat_type, now)))
        short = [(scope, bucket) for scope, bucket in buckets if bucket.short(now)]
        if not short:
            for _, bucket in buckets:
                bucket.spend()
            return None
        for _, bucket in short:  # the refused attempt counts against the limits it broke
            bucket.spend()
        scope, bucket = max(short, key=lambda item: item[1].wait())
        retry_after = bucket.wait()
        self.refusals.append(FloodRefusal(now, chat_id, scope, retry_after))
        return retry_after

    def reset(self) -> None:
        """Full buckets again (a test that wants a fresh start after a deliberate flood)."""
        self._global = None
        self._chats.clear()
