"""What one delivery loop has done since it started (tests, benchmarks, logs)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DeliveryStats:
    sent: int = 0  # rows delivered
    calls: int = 0  # Bot API calls made (parts, retries and fallbacks included)
    retried_429: int = 0
    retried_transient: int = 0
    failed: int = 0
    dropped: int = 0
    unreachable: int = 0
    unknown_outcome: int = 0  # calls that may or may not have reached the chat, sent again
    plain_fallbacks: int = 0
    claim_passes: int = 0  # claim transactions run (each looked for due rows)
    order_conflicts: int = 0  # claims given back because another process held an older row of the chat
