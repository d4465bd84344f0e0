"""Outbox delivery: sends the rows queued in `storage.outbox_rows` within Telegram's limits, exactly once when
the messenger answers.

Its parts, each replaceable on its own:

- `claims`     which due rows this process sends next, leased (`FOR UPDATE SKIP LOCKED`), in order per chat
- `pacing`     when the next call may go out: the global rate, per private chat, per group (`Pacing`),
               each held by the whole deployment
- `shared_rate` the global rate on PostgreSQL: slots from a schedule all processes share in the database
- `calls`      a row's Bot API calls: long texts and captions split, plain fallbacks for refused markup
- `row_attempts` what an attempt does to its row: begin under a lock, record the outcome, count the unknown
- `journal`    group commit: the row transactions of many chats' senders, shared
- `sender`     the loop (`OutboxDelivery`): claim, one sender per chat, call through the `transport`
- `transport`  the protocol a messenger library implements (`bot/api_transport.py`), and its errors
- `hooks`      what delivery tells the rest of the bot (failures for the staff, metrics), given by bot/app.py

Delivery depends on storage only: the domain's reactions come in as `DeliveryHooks` at the composition
root. The write side (queueing rows in the caller's transaction) is `helpdesk.outbox` → `storage.outbox_rows`.
"""

from __future__ import annotations

from scheduler.delivery.calls import CAPTION_LIMIT, TEXT_LIMIT, calls_for, split_plain, utf16_len
from scheduler.delivery.counters import DeliveryStats
from scheduler.delivery.hooks import DeliveryHooks
from scheduler.delivery.limits import DeliveryLimits
from scheduler.delivery.pacing import ChatPacer, LocalPacing, Pacing, RateLimiter, pacing_for
from scheduler.delivery.sender import OutboxDelivery
from scheduler.delivery.shared_rate import SharedRateLimiter

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "ChatPacer",
    "DeliveryHooks",
    "DeliveryLimits",
    "DeliveryStats",
    "LocalPacing",
    "OutboxDelivery",
    "Pacing",
    "RateLimiter",
    "SharedRateLimiter",
    "calls_for",
    "pacing_for",
    "split_plain",
    "utf16_len",
]
