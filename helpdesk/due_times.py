"""Due times for the scheduler, set at the moments of a ticket's life that start or stop a clock.

Every state change calls `on_transition` (through `helpdesk.lifecycle.apply_transition`), other moments
call their hook (they only change fields on the ticket); the scheduler's sweeps
(`scheduler/followup_sweeps.py`) then act on whatever is due, and re-check the ticket's state when they
do, so a due time left behind by an unusual path is harmless. The rules for every clock are here:

- progress (`progress_due_at`, `progress_stage`): an open P1/P2 incident without a customer-visible
  update for PROGRESS_UPDATE_P1/P2 prompts the assignee (stage 0 → 1), and after another interval the
  customer is told that work continues (which is a public update: back to stage 0).
- waiting on the customer (`reminder_due_at`, `reminders_sent`, `auto_close_due_at`): a reminder after
  INFO_REMINDER_AFTER, a second one INFO_SECOND_REMINDER_AFTER after the first, and the ticket is
  resolved with a notice WAITING_AUTO_CLOSE_AFTER after the question. The answer stops the clock.
- resolved (`auto_close_due_at`, `close_warning_sent`): closes RESOLVED_AUTO_CLOSE_AFTER after the
  resolution; the customer is warned RESOLVED_CLOSE_WARNING_BEFORE the close.
- SLA (`first_response_due`, `resolution_due`, `sla_paused_at`, `sla_flags`): clocks count working time
  (BUSINESS_HOURS), stand still while the ticket waits on the customer or stays resolved, and each
  warning (SLA_WARNING_RATIO of the target) and breach is announced once.
- satisfaction (`survey_due_at`): SURVEY_AFTER after closing, unless the customer already rated.
- linked under a major incident (`on_linked`, `on_unlinked`): the ticket follows its parent, whose clocks
  speak for all, so its own stand still (no SLA alert, reminder, progress prompt or auto-close of its
  own); unlinked, they run again from where they stood.

A zero duration switches a follow-up off (no reminder, no progress prompt), except the closes, where
zero means "at once".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from helpdesk.policy import DeskPolicy
from helpdesk.sla import SlaTarget
from helpdesk.vocabulary import Priority, State, TicketType
from storage.models import Ticket

WORKING_STATES = ("new", "in_progress")


def progress_interval(ticket: Ticket, policy: DeskPolicy) -> timedelta | None:
    """How long an open incident may stay without a public update (P1/P2 only), or None."""
    if ticket.ticket_type != "incident":
        return None
    every = {"P1": policy.progress_update_p1, "P2": policy.progress_update_p2}.get(ticket.priority)
    return every if every and every > timedelta(0) else None


def _progress_due(ticket: Ticket, policy: DeskPolicy, now: datetime) -> datetime | None:
    if ticket.state not in WORKING_STATES or ticket.parent_id is not None:  # a linked one: its parent's speaks
        return None
    every = progress_interval(ticket, policy)
    return now + every if every else None


def _after(now: datetime, delta: timedelta) -> datetime | None:
    return now + delta if delta > timedelta(0) else None


def on_public_update(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """The customer saw progress (a reply, a question, a status change): restart the progress clock."""
    ticket.last_public_update_at = now
    ticket.updated_at = now
    ticket.progress_stage = 0
    ticket.progress_due_at = _progress_due(ticket, policy, now)
    if "_target" not in (ticket.sla_flags or {}):
        remember_sla_target(ticket)


def on_transition(ticket: Ticket, current: State, target: State, policy: DeskPolicy, now: datetime) -> None:
    """The ticket went from `current` to `target` (already set): which clocks start, stop or move.

    Every state change goes through here (`helpdesk.lifecycle.apply_transition`), whoever makes it.
    """
    on_public_update(ticket, policy, now)
    if target == State.IN_PROGRESS:
        if current == State.WAITING_CUSTOMER:
            on_customer_answered(ticket, policy, now)
        elif not current.is_open:
            on_reopened(ticket, policy, now)
    elif target == State.WAITING_CUSTOMER:
        on_waiting_customer(ticket, policy, now)
    elif target == State.RESOLVED:
        on_resolved(ticket, policy, now)
    elif target == State.CLOSED:
        on_closed(ticket, policy, now)
    elif target == State.CANCELLED:
        on_cancelled(ticket, now)


def on_first_response(ticket: Ticket, now: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = now


def on_waiting_customer(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Asked the customer (again): SLA clocks pause, the reminder and auto-resolve clocks (re)start."""
    if ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    ticket.reminders_sent = 0
    ticket.reminder_due_at = _after(now, policy.info_reminder_after)
    ticket.auto_close_due_at = now + policy.waiting_auto_close_after
    ticket.close_warning_sent = False
    ticket.progress_stage = 0
    ticket.progress_due_at = None


def on_customer_answered(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """The customer answered: stop the reminder clock and resume SLA clocks where they stood."""
    resume_sla(ticket, now, policy)
    ticket.reminder_due_at = None
    ticket.reminders_sent = 0
    if ticket.resolved_at is None:  # the waiting ticket's auto-resolve, not a resolved ticket's close
        ticket.auto_close_due_at = None
    if ticket.progress_due_at is None:
        every = progress_interval(ticket, policy)
        ticket.progress_due_at = now + every if every else None
        ticket.progress_stage = 0


def resume_sla(ticket: Ticket, now: datetime, policy: DeskPolicy | None = None) -> None:
    """End a pause: running SLA clocks move on by the working time the pause lasted."""
    if ticket.sla_paused_at is None:
        return
    paused_at, ticket.sla_paused_at = ticket.sla_paused_at, None
    _shift_running_clocks(ticket, paused_at, now, policy)


def _shift_running_clocks(ticket: Ticket, since: datetime, now: datetime, policy: DeskPolicy | None) -> None:
    if now <= since:
        return
    if policy is None:  # no calendar known: every hour counts
        paused = now - since
        shift = lambda due: due + paused  # noqa: E731
    else:
        paused = policy.calendar.between(since, now)
        shift = lambda due: policy.calendar.add(due, paused)  # noqa: E731
    if paused <= timedelta(0):
        return
    if ticket.first_response_due is not None and ticket.first_response_at is None:
        ticket.first_response_due = shift(ticket.first_response_due)
    if ticket.resolution_due is not None and ticket.resolved_at is None:
        ticket.resolution_due = shift(ticket.resolution_due)


def on_resolved(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Resolved: the customer has RESOLVED_AUTO_CLOSE_AFTER to object, then it closes."""
    resume_sla(ticket, now, policy)
    ticket.resolved_at = now
    ticket.reminder_due_at = None
    ticket.reminders_sent = 0
    ticket.progress_due_at = None
    ticket.progress_stage = 0
    ticket.auto_close_due_at = now + policy.resolved_auto_close_after
    # a warning as early as the resolution itself would only repeat the resolution notice
    ticket.close_warning_sent = policy.resolved_close_warning_before >= policy.resolved_auto_close_after


def on_reopened(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Back to work: the time spent resolved or closed does not count against the resolution target."""
    if ticket.resolved_at is not None and ticket.resolution_due is not None:
        stopped = ticket.resolved_at
        ticket.resolved_at = None
        _shift_running_clocks(ticket, stopped, now, policy)
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.auto_close_due_at = None
    ticket.close_warning_sent = False
    ticket.survey_due_at = None
    ticket.reminder_due_at = None
    ticket.reminders_sent = 0
    ticket.sla_paused_at = None
    ticket.progress_stage = 0
    ticket.progress_due_at = _progress_due(ticket, policy, now)


def on_closed(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """Closed: no more clocks but the satisfaction survey."""
    resume_sla(ticket, now, policy)
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


def on_linked(ticket: Ticket, now: datetime) -> None:
    """Linked under a major incident (or following its change): its own clocks stand still while the
    parent's speak for all; the customer being told it is part of a known incident is a first response."""
    on_first_response(ticket, now)
    if State(ticket.state).is_open and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    ticket.reminder_due_at = None
    ticket.reminders_sent = 0
    ticket.auto_close_due_at = None
    ticket.close_warning_sent = True
    ticket.progress_due_at = None
    ticket.progress_stage = 0


def on_unlinked(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """On its own again: its clocks run from where they stood, as its state has them."""
    state = State(ticket.state)
    if state == State.WAITING_CUSTOMER:
        on_waiting_customer(ticket, policy, now)  # keeps the pause; its own reminders start
        return
    resume_sla(ticket, now, policy)
    if state == State.RESOLVED:
        ticket.auto_close_due_at = now + policy.resolved_auto_close_after
        ticket.close_warning_sent = policy.resolved_close_warning_before >= policy.resolved_auto_close_after
    ticket.progress_stage = 0
    ticket.progress_due_at = _progress_due(ticket, policy, now)


def on_priority_changed(ticket: Ticket, policy: DeskPolicy, now: datetime) -> None:
    """A corrected priority or type: SLA targets are recomputed from the ticket's creation, keeping the
    pauses the old due times had absorbed; warnings are announced afresh against the new targets."""
    old_key = (ticket.sla_flags or {}).get("_target")
    target = policy.sla.target(TicketType(ticket.ticket_type), Priority(ticket.priority))
    calendar = policy.calendar
    old = _old_target(policy, old_key)

    def recomputed(old_due: datetime | None, old_target: timedelta | None, new_target: timedelta) -> datetime:
        base = policy.due(ticket.created_at, new_target)
        if old_due is None or old_target is None:
            return base
        pauses = calendar.between(policy.due(ticket.created_at, old_target), old_due)
        return calendar.add(base, pauses) if pauses > timedelta(0) else base

    ticket.first_response_due = recomputed(
        ticket.first_response_due, old.first_response if old else None, target.first_response
    )
    ticket.resolution_due = recomputed(ticket.resolution_due, old.resolution if old else None, target.resolution)
    ticket.sla_flags = {"_target": f"{ticket.ticket_type}:{ticket.priority}"}
    if ticket.state in WORKING_STATES:
        ticket.progress_due_at = _progress_due(ticket, policy, now)
        ticket.progress_stage = 0


def _old_target(policy: DeskPolicy, key: str | None) -> SlaTarget | None:
    if not key or ":" not in key:
        return None
    ticket_type, priority = key.split(":", 1)
    try:
        return policy.sla.target(TicketType(ticket_type), Priority(priority))
    except ValueError:
        return None


def remember_sla_target(ticket: Ticket) -> None:
    """Note which target the due times were computed for (so a later correction keeps the pauses)."""
    flags = dict(ticket.sla_flags or {})
    flags["_target"] = f"{ticket.ticket_type}:{ticket.priority}"
    ticket.sla_flags = flags
