"""How fast and how hard delivery tries: Telegram's limits and our retry budget (settings → bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryLimits:
    # Telegram's limits, each held by the whole deployment (all processes together; see pacing.py)
    per_second: float = 30.0  # calls per second, in all (OUTBOX_RATE_PER_SECOND)
    private_interval: float = 1.0  # seconds between two messages to one private chat
    group_per_minute: int = 20  # messages per minute to one group
    max_attempts: int = 8  # failed attempts (5xx, network) before a row is given up
    poll_every: float = 1.0  # how often to look for due rows when no commit rang the bell
    lease: float = 60.0  # seconds a claimed row stays ours
    claim_batch: int = 300  # rows claimed per pass
    per_chat_batch: int = 20  # rows of one chat claimed per pass
    card_wait: float = 1.0  # how soon to look again when a reply must wait for its ticket's card
