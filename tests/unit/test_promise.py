"""What the customer is promised about time: the first-response due time from the SLA's working calendar,
and the out-of-hours notice (once per closed spell and day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helpdesk import promise
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Priority, TicketType
from helpdesk.worktime import WorkCalendar
from storage.models import Customer, Ticket

HOURS = "Mon-Fri 09:00-18:00"


def desk(hours: str | None = HOURS, zone: str = "UTC") -> DeskPolicy:
    return DeskPolicy(business_hours=hours, timezone=zone)


def registered(policy: DeskPolicy, at: datetime, priority: Priority = Priority.P3) -> Ticket:
    """A ticket as registration leaves it: the due time from the policy's calendar."""
    target = policy.sla.target(TicketType.INCIDENT, priority)
    return Ticket(
        number="INC-000001",
        ticket_type=TicketType.INCIDENT.value,
        category="software",
        priority=priority.value,
        created_at=at,
        first_response_due=policy.due(at, target.first_response),
    )


FRIDAY_EVENING = datetime(2026, 12, 11, 17, 0, tzinfo=UTC)  # a Friday, an hour before closing


def test_a_target_the_calendar_stretches_is_promised_as_the_due_time() -> None:
    policy = desk()
    ticket = registered(policy, FRIDAY_EVENING)  # P3 incident: 4 h → 1 h on Friday, 3 h on Monday
    assert ticket.first_response_due == datetime(2026, 12, 14, 12, 0, tzinfo=UTC)
    assert promise.first_response(ticket, policy, "en") == "by Monday 12:00 (UTC)"
    assert promise.first_response(ticket, policy, "ru") == "в понедельник до 12:00 (UTC)"


def test_the_promise_is_on_the_desks_clock() -> None:
    policy = desk(zone="Europe/Moscow")
    at = datetime(2026, 12, 11, 14, 30, tzinfo=UTC)  # Friday 17:30 in Moscow
    ticket = registered(policy, at, Priority.P2)  # 30 min: 30 min before closing → Friday 18:00 MSK, not stretched
    assert promise.first_response(ticket, policy, "en") == "within 30 min"
    later = registered(policy, at + timedelta(minutes=15))  # 4 h from 17:45: 15 min Friday, the rest Monday
    assert promise.first_response(later, policy, "en") == "by Monday 12:45 (MSK)"


@pytest.mark.parametrize(
    ("at", "en", "ru"),
    [
        (datetime(2026, 12, 8, 16, 0, tzinfo=UTC), "by 11:00 tomorrow (UTC)", "завтра до 11:00 (UTC)"),
        (datetime(2026, 12, 8, 3, 0, tzinfo=UTC), "by 13:00 today (UTC)", "сегодня до 13:00 (UTC)"),
        (datetime(2026, 12, 12, 10, 0, tzinfo=UTC), "by Monday 13:00 (UTC)", "в понедельник до 13:00 (UTC)"),
    ],
)
def test_today_tomorrow_and_weekdays(at: datetime, en: str, ru: str) -> None:
    policy = desk()
    ticket = registered(policy, at)
    assert promise.first_response(ticket, policy, "en") == en
    assert promise.first_response(ticket, policy, "ru") == ru


def test_around_the_clock_the_target_itself_is_promised() -> None:
    policy = desk(None)
    ticket = registered(policy, FRIDAY_EVENING)
    assert promise.first_response(ticket, policy, "en") == "within 4 h"
    assert promise.first_response(ticket, policy, "ru") == "в течение 4 ч"


def test_a_far_due_time_names_the_date() -> None:
    policy = desk("Mon 09:00-10:00")
    ticket = registered(policy, datetime(2026, 12, 8, 12, 0, tzinfo=UTC), Priority.P4)  # 1 d of 1-hour Mondays
    assert promise.first_response(ticket, policy, "en").startswith("by ")
    assert "." in promise.first_response(ticket, policy, "en")  # dd.mm


def test_out_of_hours_the_customer_is_told_once_per_closed_spell_and_day() -> None:
    policy = desk()
    ann = Customer(telegram_id=1, chat_id=1)
    friday_night = datetime(2026, 12, 11, 20, 0, tzinfo=UTC)
    text = promise.closed_notice(ann, policy, "en", friday_night)
    assert text == (
        "🌙 The service desk is closed now and opens on Monday at 09:00 (UTC). "
        "Your messages are kept; we will answer when we open."
    )
    assert promise.closed_notice(ann, policy, "en", friday_night + timedelta(minutes=5)) is None
    assert promise.closed_notice(ann, policy, "en", friday_night + timedelta(hours=3)) is None  # 23:00, same day
    saturday = promise.closed_notice(ann, policy, "ru", datetime(2026, 12, 12, 10, 0, tzinfo=UTC))
    assert saturday is not None and "откроется в понедельник в 09:00 (UTC)" in saturday  # a new day
    assert promise.closed_notice(ann, policy, "en", datetime(2026, 12, 14, 10, 0, tzinfo=UTC)) is None  # open
    monday_night = promise.closed_notice(ann, policy, "en", datetime(2026, 12, 14, 18, 30, tzinfo=UTC))
    assert monday_night is not None and "opens tomorrow at 09:00" in monday_night
    early = promise.closed_notice(
        Customer(telegram_id=2, chat_id=2), policy, "en", datetime(2026, 12, 15, 7, 0, tzinfo=UTC)
    )
    assert early is not None and "opens today at 09:00" in early


def test_a_desk_open_around_the_clock_never_says_it_is_closed() -> None:
    ann = Customer(telegram_id=1, chat_id=1)
    assert promise.closed_notice(ann, desk(None), "en", datetime(2026, 12, 12, 3, 0, tzinfo=UTC)) is None
    assert ann.closed_notice_at is None


def test_next_opening_and_last_closing() -> None:
    calendar = WorkCalendar.parse("Mon-Fri 09:00-18:00", "Europe/Moscow")
    saturday = datetime(2026, 12, 12, 10, 0, tzinfo=UTC)
    assert calendar.next_opening(saturday) == datetime(2026, 12, 14, 6, 0, tzinfo=UTC)  # Monday 09:00 MSK
    assert calendar.last_closing(saturday) == datetime(2026, 12, 11, 15, 0, tzinfo=UTC)  # Friday 18:00 MSK
    open_now = datetime(2026, 12, 14, 7, 0, tzinfo=UTC)
    assert calendar.next_opening(open_now) == open_now
    assert WorkCalendar.always().next_opening(saturday) is None
    assert WorkCalendar.always().last_closing(saturday) is None
