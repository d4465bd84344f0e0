"""Due times for the scheduler, set at the moments of a ticket's life that start or stop a clock.

Operations call these hooks (they only change fields on the ticket); the scheduler's sweeps then act
on whatever is due. Keeping them in one place means the rules for a clock are read in one place.
"""

from __future__ import annotations

from datetime import datetime

from helpdesk.policy import DeskPolicy
from storage.models import Ticket


def on_public_update(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """The customer saw progress (a reply, a question, a status change): restart the progress clock."""
    ticket.last_public_update_at = now
    ticket.updated_at = now
    ticket.progress_stage = 0
    ticket.progress_due_at = _progress_due(ticket, policy, now)


def _progress_due(ticket: Ticket, policy: DeskPolicy, now: datetime) -> datetime | None:
    if ticket.ticket_type != "incident" or ticket.state not in ("new", "in_progress"):
        return None
    every = {"P1": policy.progress_update_p1, "P2": policy.progress_update_p2}.get(ticket.priority)
    return now + every if every else None


def on_first_response(ticket: Ticket, now: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = now


def on_waiting_customer(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Asked the customer: SLA clocks pause, the reminder clock starts."""
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    ticket.reminders_sent = 0
    ticket.reminder_due_at = now + policy.info_reminder_after
    ticket.progress_due_at = None


def on_customer_answered(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """The customer answered: stop the reminder clock and resume SLA clocks where they stood."""
    resume_sla(ticket, now)
    ticket.reminder_due_at = None
    ticket.reminders_sent = 0


def resume_sla(ticket: Ticket, now: datetime) -> None:
    if ticket.sla_paused_at is None:
        return
    paused = now - ticket.sla_paused_at
    if ticket.first_response_due is not None and ticket.first_response_at is None:
        ticket.first_response_due += paused
    if ticket.resolution_due is not None and ticket.resolved_at is None:
        ticket.resolution_due += paused
    ticket.sla_paused_at = None


def on_resolved(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Resolved: the customer has RESOLVED_AUTO_CLOSE_AFTER to object, then it closes."""
    resume_sla(ticket, now)
    ticket.resolved_at = now
    ticket.reminder_due_at = None
    ticket.progress_due_at = None
    ticket.auto_close_due_at = now + policy.resolved_auto_close_after
    ticket.close_warning_sent = False


def on_reopened(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.auto_close_due_at = None
    ticket.close_warning_sent = False
    ticket.survey_due_at = None
    ticket.reminder_due_at = None
    ticket.sla_paused_at = None
    ticket.progress_due_at = _progress_due(ticket, policy, now)


def on_closed(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Closed: no more clocks but the satisfaction survey."""
    resume_sla(ticket, now)
    ticket.closed_at = now
    ticket.auto_close_due_at = None
    ticket.reminder_due_at = None
    ticket.progress_due_at = None
    ticket.survey_due_at = now + policy.survey_after if ticket.rating is None else None


def on_cancelled(ticket: Ticket, now: datetime) -> None:
    ticket.closed_at = now
    ticket.auto_close_due_at = None
    ticket.reminder_due_at = None
    ticket.progress_due_at = None
    ticket.survey_due_at = None
    ticket.sla_paused_at = None


def on_priority_changed(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """A corrected priority or type: SLA targets are recomputed from the ticket's creation."""
    from helpdesk.vocabulary import Priority, TicketType

    target = policy.sla.target(TicketType(ticket.ticket_type), Priority(ticket.priority))
    ticket.first_response_due = policy.due(ticket.created_at, target.first_response)
    ticket.resolution_due = policy.due(ticket.created_at, target.resolution)
    ticket.sla_flags = {}
    if ticket.state in ("new", "in_progress"):
        ticket.progress_due_at = _progress_due(ticket, policy, now)
