"""Prometheus metrics of the desk, defined once so every layer can record without importing bot/.

Counters live in the process (each bot process exposes its own on `/metrics`; Prometheus sums them).
Backlog gauges describe the shared database and are refreshed by `bot/health.py` at scrape time.

Recording is one call at the spot where the thing happens:

- `update_done(kind, outcome, seconds)` / `update_failed(kind)` — bot/inbox.py
- `ticket_created(session, ticket)` — helpdesk/tickets.py; counted only when the transaction commits
- `record_outbox_sent(method)` / `outbox_error(reason)` — outbox delivery, through the hooks bot/app.py gives it
- `sla_breached(session)` — the SLA watch, once per breach it announces (or `sla_breaches.inc()`)
- `personal_data_erased.inc(n)` — the retention sweep
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

updates_processed = Counter(
    "helpdesk_updates_processed_total",
    "Telegram updates handled to the end (committed), by update kind and outcome",
    ["kind", "outcome"],
)
updates_failed = Counter(
    "helpdesk_updates_failed_total",
    "Failed attempts at handling an update (retried, then parked), by update kind",
    ["kind"],
)
updates_parked = Counter(
    "helpdesk_updates_parked_total",
    "Updates given up on after every attempt failed (the staff are told)",
)
update_latency = Histogram(
    "helpdesk_update_latency_seconds",
    "Time to handle one update: from taking it from the inbox to its commit",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
tickets_created = Counter(
    "helpdesk_tickets_created_total",
    "Tickets registered, by type and priority",
    ["type", "priority"],
)
outbox_sent = Counter(
    "helpdesk_outbox_sent_total",
    "Outbox rows delivered to Telegram, by Bot API method",
    ["method"],
)
outbox_send_errors = Counter(
    "helpdesk_outbox_send_errors_total",
    "Failed delivery attempts, by reason: retry_after (429), transient (5xx, network), unreachable (403), rejected",
    ["reason"],
)
outbox_backlog = Gauge(
    "helpdesk_outbox_backlog",
    "Outbox rows waiting to be sent (pending), whatever process will send them",
)
outbox_due = Gauge(
    "helpdesk_outbox_due",
    "Pending outbox rows already due (next attempt time passed)",
)
outbox_oldest_due_seconds = Gauge(
    "helpdesk_outbox_oldest_due_seconds",
    "Age of the oldest due outbox row (0 when none)",
)
inbox_backlog = Gauge(
    "helpdesk_inbox_backlog",
    "Stored updates not yet handled (pending), whatever process will handle them",
)
inbox_oldest_pending_seconds = Gauge(
    "helpdesk_inbox_oldest_pending_seconds",
    "Age of the oldest pending update (0 when none)",
)
inbox_parked = Gauge(
    "helpdesk_inbox_parked",
    "Updates parked after failing every attempt (kept for a person to look at)",
)
webhook_requests = Counter(
    "helpdesk_webhook_requests_total",
    "Webhook requests, by result: stored, forbidden (wrong or missing secret), bad_request, error (answered 500)",
    ["result"],
)
sla_breaches = Counter(
    "helpdesk_sla_breaches_total",
    "SLA targets (first response or resolution) breached, counted when the breach is announced",
)
personal_data_erased = Counter(
    "helpdesk_personal_data_erased_total",
    "Tickets whose personal data the retention sweep erased",
)


# -- recording helpers -------------------------------------------------------------------------------


def update_done(kind: str, outcome: str, seconds: float) -> None:
    updates_processed.labels(kind=kind, outcome=outcome).inc()
    update_latency.observe(seconds)


def update_failed(kind: str) -> None:
    updates_failed.labels(kind=kind).inc()


def record_outbox_sent(method: str) -> None:
    outbox_sent.labels(method=method).inc()


def outbox_error(reason: str) -> None:
    outbox_send_errors.labels(reason=reason).inc()


_PENDING_TICKETS = "metrics_tickets_created"


def ticket_created(session: Any, ticket: Any) -> None:
    """Count a new ticket once its transaction commits (a retried handler must not count it twice)."""
    sync = getattr(session, "sync_session", session)
    sync.info.setdefault(_PENDING_TICKETS, []).append((str(ticket.ticket_type), str(ticket.priority)))


_PENDING_BREACHES = "metrics_sla_breaches"


def sla_breached(session: Any) -> None:
    """Count an announced SLA breach once its transaction commits (`sla_breaches.inc()` counts at once)."""
    sync = getattr(session, "sync_session", session)
    sync.info[_PENDING_BREACHES] = sync.info.get(_PENDING_BREACHES, 0) + 1


@event.listens_for(Session, "after_commit")
def _count_after_commit(session: Session) -> None:
    for ticket_type, priority in session.info.pop(_PENDING_TICKETS, ()):
        tickets_created.labels(type=ticket_type, priority=priority).inc()
    breaches = session.info.pop(_PENDING_BREACHES, 0)
    if breaches:
        sla_breaches.inc(breaches)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_TICKETS, None)
    session.info.pop(_PENDING_BREACHES, None)
