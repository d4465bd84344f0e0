"""The due-time hooks (helpdesk.due_times): which clocks a moment of a ticket's life starts, stops or moves.

Pure functions of a ticket and `now`, tested on bare tickets: a day passes in a line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from helpdesk import due_times
from storage.models import Ticket
from tests.unit import desk
from tests.unit.desk import minutes

H = timedelta(hours=1)
POLICY = desk.HOURLY


def bare_ticket(**fields: object) -> Ticket:
    base = dict(
        number="INC-000001", seq=1, customer_id=1, ticket_type="incident", category="software", priority="P1",
        impact="team", urgency="blocked", explanation="", description="x", state="in_progress",
    )  # fmt: skip
    base.update(fields)
    return Ticket(**base)


def test_waiting_pauses_sla_and_answer_resumes_by_working_time() -> None:
    office = {"business_hours": "Mon-Fri 09:00-18:00", "timezone": "Europe/Berlin"}
    policy = desk.policy(**office, info_reminder_after=H, waiting_auto_close_after=5 * H)
    berlin = ZoneInfo("Europe/Berlin")
    asked = datetime(2026, 1, 9, 17, 0, tzinfo=berlin)  # Friday 17:00
    answered = datetime(2026, 1, 12, 10, 0, tzinfo=berlin)  # Monday 10:00: 2 working hours later
    due = datetime(2026, 1, 12, 12, 0, tzinfo=berlin)
    ticket = bare_ticket(first_response_due=due, resolution_due=due + 24 * H)
    due_times.on_waiting_customer(ticket, policy, asked)
    assert ticket.sla_paused_at == asked and ticket.reminder_due_at == asked + H
    assert ticket.auto_close_due_at == asked + 5 * H and ticket.progress_due_at is None
    due_times.on_customer_answered(ticket, policy, answered)
    assert ticket.sla_paused_at is None and ticket.reminder_due_at is None and ticket.auto_close_due_at is None
    assert ticket.first_response_due == datetime(2026, 1, 12, 14, 0, tzinfo=berlin)  # + 2 working hours
    assert ticket.progress_due_at == answered + policy.progress_update_p1  # P1 incident: the clock is back


def test_resume_without_policy_counts_every_hour() -> None:
    start = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    ticket = bare_ticket(first_response_due=start + H, sla_paused_at=start)
    due_times.resume_sla(ticket, start + 3 * H)
    assert ticket.first_response_due == start + 4 * H


def test_a_second_question_restarts_the_reminders_but_not_the_pause() -> None:
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    ticket = bare_ticket()
    due_times.on_waiting_customer(ticket, POLICY, t0)
    ticket.reminders_sent = 1
    due_times.on_waiting_customer(ticket, POLICY, t0 + 2 * H)
    assert ticket.sla_paused_at == t0
    assert ticket.reminders_sent == 0 and ticket.reminder_due_at == t0 + 3 * H
    assert ticket.auto_close_due_at == t0 + 7 * H


def test_answer_on_a_resolved_ticket_keeps_its_close() -> None:
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    ticket = bare_ticket()
    due_times.on_resolved(ticket, POLICY, t0)
    due_times.on_customer_answered(ticket, POLICY, t0 + H)
    assert ticket.auto_close_due_at == t0 + 3 * H


def test_reopen_does_not_count_the_resolved_time() -> None:
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    ticket = bare_ticket(first_response_at=t0, resolution_due=t0 + 4 * H)
    due_times.on_resolved(ticket, POLICY, t0 + H)
    due_times.on_reopened(ticket, POLICY, t0 + 3 * H)
    assert ticket.resolution_due == t0 + 6 * H
    assert ticket.resolved_at is None and ticket.auto_close_due_at is None
    assert ticket.progress_due_at == t0 + 3 * H + POLICY.progress_update_p1


def test_close_schedules_the_survey_unless_rated() -> None:
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    ticket = bare_ticket(state="closed")
    due_times.on_closed(ticket, desk.policy(survey_after=minutes(5)), t0)
    assert ticket.survey_due_at == t0 + minutes(5)
    rated = bare_ticket(state="closed", rating=4)
    due_times.on_closed(rated, POLICY, t0)
    assert rated.survey_due_at is None


def test_priority_change_keeps_the_pauses() -> None:
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    ticket = bare_ticket(priority="P3", created_at=t0, first_response_due=t0 + 4 * H, resolution_due=t0 + 72 * H)
    due_times.on_public_update(ticket, POLICY, t0)  # remembers the target the due times were made for
    due_times.on_waiting_customer(ticket, POLICY, t0 + H)
    due_times.on_customer_answered(ticket, POLICY, t0 + 3 * H)  # a 2-hour pause
    assert ticket.first_response_due == t0 + 6 * H
    ticket.priority = "P1"
    due_times.on_priority_changed(ticket, POLICY, t0 + 4 * H)
    assert ticket.first_response_due == t0 + minutes(15) + 2 * H  # new target, same pause
    assert ticket.resolution_due == t0 + 4 * H + 2 * H
    assert set(ticket.sla_flags) == {"_target"}


def test_zero_durations_switch_follow_ups_off() -> None:
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    policy = desk.policy(info_reminder_after=timedelta(0), progress_update_p1=timedelta(0))
    ticket = bare_ticket()
    due_times.on_public_update(ticket, policy, t0)
    assert ticket.progress_due_at is None
    due_times.on_waiting_customer(ticket, policy, t0)
    assert ticket.reminder_due_at is None and ticket.auto_close_due_at is not None
