"""Working-time calendar: SLA clocks skip nights and weekends in the desk's time zone, DST included."""

from __future__ import annotations

import os
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.worktime import WorkCalendar

BERLIN = ZoneInfo("Europe/Berlin")
H, M = timedelta(hours=1), timedelta(minutes=1)
OFFICE = WorkCalendar.parse("Mon-Fri 09:00-18:00", "Europe/Berlin")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# -- parsing ---------------------------------------------------------------------------------------------


def test_parse_basic() -> None:
    assert OFFICE.days == frozenset(range(5))
    assert (OFFICE.start.hour, OFFICE.end.hour) == (9, 18)
    assert str(OFFICE) == "Mon,Tue,Wed,Thu,Fri 09:00-18:00 Europe/Berlin"


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("Mon-Thu,Sat 10:00-16:00", {0, 1, 2, 3, 5}),
        ("mon,wed,fri 10:00-16:00", {0, 2, 4}),
        ("Sat-Mon 10:00-16:00", {5, 6, 0}),  # wraps over the week's end
        ("Monday-Friday 9:00-17:30", {0, 1, 2, 3, 4}),
        ("Sun 08:00-24:00", {6}),
    ],
)
def test_parse_day_lists(spec: str, days: set[int]) -> None:
    assert WorkCalendar.parse(spec).days == frozenset(days)


@pytest.mark.parametrize("spec", [None, "", "  ", "always", "24/7"])
def test_parse_always(spec: str | None) -> None:
    assert WorkCalendar.parse(spec, "Europe/Berlin").is_always


@pytest.mark.parametrize(
    "spec",
    ["Mon-Fri", "Mon-Fri 18:00-09:00", "Mon-Fri 09:00-09:00", "Xyz-Fri 09:00-18:00", "Mon-Fri 25:00-26:00",
     "Mon-Fri 09:00-24:30", "Mon-Fri 09:00-00:00", "Mo-Fr 09:00-18:00"],
)  # fmt: skip
def test_parse_rejects(spec: str) -> None:
    with pytest.raises(ValueError, match="BUSINESS_HOURS"):
        WorkCalendar.parse(spec)


def test_parse_rejects_unknown_zone() -> None:
    with pytest.raises(Exception):  # noqa: B017 - zoneinfo raises ZoneInfoNotFoundError (a KeyError)
        WorkCalendar.parse("Mon-Fri 09:00-18:00", "Mars/Olympus")


# -- add -------------------------------------------------------------------------------------------------


def test_always_is_plain_addition() -> None:
    start = datetime(2026, 1, 3, 23, 0, tzinfo=UTC)
    assert WorkCalendar.always().add(start, 5 * H) == start + 5 * H
    assert WorkCalendar.always().between(start, start + 5 * H) == 5 * H


def test_inside_one_day() -> None:
    assert OFFICE.add(local(2026, 1, 5, 10, 0), 2 * H) == local(2026, 1, 5, 12, 0)


def test_friday_evening_p4_is_due_monday() -> None:
    # Friday 17:00 + 4 working hours = 1 h on Friday + 3 h on Monday
    assert OFFICE.add(local(2026, 1, 9, 17, 0), 4 * H) == local(2026, 1, 12, 12, 0)


def test_started_at_night_begins_at_opening() -> None:
    assert OFFICE.add(local(2026, 1, 6, 3, 0), 30 * M) == local(2026, 1, 6, 9, 30)
    assert OFFICE.add(local(2026, 1, 10, 12, 0), 1 * H) == local(2026, 1, 12, 10, 0)  # Saturday noon


def test_result_exactly_at_closing_stays_there() -> None:
    assert OFFICE.add(local(2026, 1, 5, 9, 0), 9 * H) == local(2026, 1, 5, 18, 0)


def test_multi_day() -> None:
    # three working days of 9 hours from Wednesday 09:00 → Friday 18:00; one more hour → Monday 10:00
    assert OFFICE.add(local(2026, 1, 7, 9, 0), 27 * H) == local(2026, 1, 9, 18, 0)
    assert OFFICE.add(local(2026, 1, 7, 9, 0), 28 * H) == local(2026, 1, 12, 10, 0)


def test_zero_delta_is_identity() -> None:
    moment = local(2026, 1, 10, 3, 0)  # Saturday night
    assert OFFICE.add(moment, timedelta(0)) == moment


def test_result_is_utc_and_input_zone_does_not_matter() -> None:
    start_local = local(2026, 1, 9, 17, 0)
    start_utc = start_local.astimezone(UTC)
    assert OFFICE.add(start_local, 4 * H) == OFFICE.add(start_utc, 4 * H)
    assert OFFICE.add(start_utc, 4 * H).utcoffset() == timedelta(0)


def test_utc_date_differs_from_local_date() -> None:
    # 23:30 UTC on Sunday is 00:30 Monday in Tokyo: Monday's hours apply
    tokyo = WorkCalendar.parse("Mon-Fri 09:00-18:00", "Asia/Tokyo")
    sunday_late_utc = datetime(2026, 1, 11, 23, 30, tzinfo=UTC)
    assert tokyo.add(sunday_late_utc, 1 * H) == datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    # 20:00 UTC on Monday is already Tuesday 05:00 in Tokyo: Monday is over
    assert tokyo.add(datetime(2026, 1, 12, 20, 0, tzinfo=UTC), 1 * H) == datetime(
        2026, 1, 13, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")
    )


def test_dst_spring_forward_inside_working_hours() -> None:
    # a 24-hour desk day (00:00-24:00) on the night Berlin moves clocks 02:00 → 03:00 lasts 23 real hours
    allday = WorkCalendar.parse("Mon-Sun 00:00-24:00", "Europe/Berlin")
    start = local(2026, 3, 29, 0, 0)  # Sunday of the change
    due = allday.add(start, 4 * H)
    assert due == start.astimezone(UTC) + 4 * H  # real hours (same-zone aware arithmetic would say 04:00)
    assert due.astimezone(BERLIN).hour == 5  # on the wall clock 00:00 + 4 h = 05:00
    assert allday.between(start, local(2026, 3, 30, 0, 0)) == 23 * H


def test_dst_keeps_office_hours_on_the_local_clock() -> None:
    # the office opens at 09:00 local both before (UTC+1) and after (UTC+2) the change
    friday = local(2026, 3, 27, 17, 0)
    due = OFFICE.add(friday, 2 * H)
    assert due.astimezone(BERLIN) == local(2026, 3, 30, 10, 0)
    assert due.astimezone(UTC).hour == 8


def test_dst_fall_back() -> None:
    allday = WorkCalendar.parse("Mon-Sun 00:00-24:00", "Europe/Berlin")
    assert allday.between(local(2026, 10, 25, 0, 0), local(2026, 10, 26, 0, 0)) == 25 * H


# -- between ---------------------------------------------------------------------------------------------


def test_between_over_weekend() -> None:
    assert OFFICE.between(local(2026, 1, 9, 17, 0), local(2026, 1, 12, 10, 0)) == 2 * H


def test_between_outside_hours_is_zero() -> None:
    assert OFFICE.between(local(2026, 1, 10, 8, 0), local(2026, 1, 11, 20, 0)) == timedelta(0)
    assert OFFICE.between(local(2026, 1, 5, 19, 0), local(2026, 1, 6, 8, 59)) == timedelta(0)


def test_between_reversed_is_zero() -> None:
    assert OFFICE.between(local(2026, 1, 6, 12, 0), local(2026, 1, 5, 12, 0)) == timedelta(0)


def test_is_working() -> None:
    assert OFFICE.is_working(local(2026, 1, 5, 9, 0))
    assert not OFFICE.is_working(local(2026, 1, 5, 18, 0))
    assert not OFFICE.is_working(local(2026, 1, 10, 12, 0))


# -- properties ------------------------------------------------------------------------------------------

CALENDARS = st.sampled_from(
    [
        OFFICE,
        WorkCalendar.parse("Mon-Thu,Sat 10:00-16:30", "America/New_York"),
        WorkCalendar.parse("Sun-Thu 08:00-24:00", "Asia/Jerusalem"),
        WorkCalendar.parse("Mon-Sun 00:00-24:00", "Europe/London"),
        WorkCalendar.always(),
    ]
)
MOMENTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
DELTAS = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=40))


@settings(max_examples=300, deadline=None)
@given(CALENDARS, MOMENTS, DELTAS)
def test_between_inverts_add(calendar: WorkCalendar, start: datetime, delta: timedelta) -> None:
    due = calendar.add(start, delta)
    assert due > start
    assert calendar.between(start, due) == delta


@settings(max_examples=200, deadline=None)
@given(CALENDARS, MOMENTS, DELTAS, DELTAS)
def test_add_is_additive_and_monotonic(
    calendar: WorkCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    assert calendar.add(calendar.add(start, first), second) == calendar.add(start, first + second)
    assert calendar.add(start, first) <= calendar.add(start, first + second)


@settings(max_examples=200, deadline=None)
@given(CALENDARS, MOMENTS, MOMENTS, MOMENTS)
def test_between_is_additive(calendar: WorkCalendar, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert calendar.between(a, c) == calendar.between(a, b) + calendar.between(b, c)
    assert calendar.between(a, c) <= c - a


# -- what the rules above leave open (found by mutation testing, docs/testing.md) ------------------------

WEEKLY = WorkCalendar.parse("Mon 09:00-18:00", "Europe/Berlin")  # one working day a week
TOKYO = WorkCalendar.parse("Mon-Fri 09:00-18:00", "Asia/Tokyo")


def test_minutes_of_the_opening_and_closing_times_count() -> None:
    half = WorkCalendar.parse("Mon-Fri 09:30-17:45", "Europe/Berlin")
    assert str(half) == "Mon,Tue,Wed,Thu,Fri 09:30-17:45 Europe/Berlin"
    assert half.window(local(2026, 1, 5).date()) == (local(2026, 1, 5, 9, 30), local(2026, 1, 5, 17, 45))
    assert str(WorkCalendar.parse("Sat,Sun 08:00-24:00", "UTC")) == "Sat,Sun 08:00-24:00 UTC"
    assert str(WorkCalendar.parse("always", "Europe/Berlin")) == "always"


def test_a_desk_open_around_the_clock_keeps_its_time_zone() -> None:
    """Due times are still shown on the desk's clock (TIMEZONE) when every hour counts."""
    assert WorkCalendar.parse("24/7", "Asia/Tokyo").zone == ZoneInfo("Asia/Tokyo")
    assert WorkCalendar.always().is_working(datetime(2026, 1, 10, 3, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    "spec", ["Mon 24:00-24:00", "Mon 09:60-18:00", "Mon 09:00-18:60", "Mon 09:00-25:00", "Mon 25:00-26:00"]
)
def test_hours_outside_a_day_are_refused_with_the_rule(spec: str) -> None:
    with pytest.raises(ValueError, match=f"BUSINESS_HOURS '{spec}': hours are 00:00…24:00"):
        WorkCalendar.parse(spec)


@pytest.mark.parametrize("spec", ["Mon 23:00-24:00", "Mon 09:59-18:00", "Mon 09:00-18:59", "Mon 00:00-24:00"])
def test_the_last_hour_and_minute_of_a_day_are_hours_like_any(spec: str) -> None:
    assert not WorkCalendar.parse(spec).is_always


def test_a_bad_day_name_is_quoted_with_the_whole_setting() -> None:
    with pytest.raises(ValueError, match=r"BUSINESS_HOURS 'Mon-Frx 09:00-18:00': 'Frx' is not a day"):
        WorkCalendar.parse("Mon-Frx 09:00-18:00")
    with pytest.raises(ValueError, match=r"BUSINESS_HOURS 'Sat,Xyz 09:00-18:00': 'Xyz' is not a day"):
        WorkCalendar.parse("Sat,Xyz 09:00-18:00")


def test_is_working_reads_the_day_on_the_desks_clock() -> None:
    # 22:00 UTC on Monday is 07:00 on Tuesday in Tokyo
    early = WorkCalendar.parse("Tue 00:00-08:00", "Asia/Tokyo")
    assert early.is_working(datetime(2026, 1, 5, 22, 0, tzinfo=UTC))
    assert not early.is_working(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))


def test_between_counts_the_desks_day_that_begins_before_utcs() -> None:
    allday = WorkCalendar.parse("Mon-Sun 00:00-24:00", "Asia/Tokyo")
    start, end = (
        datetime(2026, 1, 5, 14, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 16, 30, tzinfo=UTC),
    )  # across Tokyo's midnight
    assert allday.between(start, end) == 2 * H + 30 * M
    assert TOKYO.between(datetime(2026, 1, 4, 23, 0, tzinfo=UTC), datetime(2026, 1, 5, 1, 0, tzinfo=UTC)) == H


def test_working_time_that_does_not_fit_in_ten_years_is_an_error_that_says_so() -> None:
    minute_a_week = WorkCalendar.parse("Mon 09:00-09:01", "UTC")
    with pytest.raises(ValueError, match="does not fit in ten years of Mon 09:00-09:01 UTC"):
        minute_a_week.add(datetime(2026, 1, 5, tzinfo=UTC), 1000 * H)


def test_next_opening_at_the_edges_of_a_working_day() -> None:
    assert OFFICE.next_opening(local(2026, 1, 5, 9, 0)) == local(2026, 1, 5, 9, 0)  # opening: now
    assert OFFICE.next_opening(local(2026, 1, 5, 17, 59)) == local(2026, 1, 5, 17, 59)  # still open
    assert OFFICE.next_opening(local(2026, 1, 5, 18, 0)) == local(2026, 1, 6, 9, 0)  # closing: tomorrow
    assert OFFICE.next_opening(local(2026, 1, 5, 8, 0)) == local(2026, 1, 5, 9, 0)
    assert OFFICE.next_opening(local(2026, 1, 9, 20, 0)) == local(2026, 1, 12, 9, 0)  # Friday night: Monday


def test_next_opening_a_week_ahead_and_on_a_clock_ahead_of_utc() -> None:
    assert WEEKLY.next_opening(local(2026, 1, 5, 18, 0)) == local(2026, 1, 12, 9, 0)
    assert WEEKLY.next_opening(local(2026, 1, 4, 23, 59)) == local(2026, 1, 5, 9, 0)
    # Sunday 23:30 UTC is Monday 08:30 in Tokyo: opens in half an hour, not on Tuesday
    assert TOKYO.next_opening(datetime(2026, 1, 4, 23, 30, tzinfo=UTC)) == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert TOKYO.next_opening(datetime(2026, 1, 5, 1, 0, tzinfo=UTC)) == datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def test_last_closing_at_the_edges_of_a_working_day() -> None:
    assert OFFICE.last_closing(local(2026, 1, 6, 18, 0)) == local(2026, 1, 6, 18, 0)  # closing: now
    assert OFFICE.last_closing(local(2026, 1, 6, 17, 59)) == local(2026, 1, 5, 18, 0)  # open: yesterday's
    assert OFFICE.last_closing(local(2026, 1, 6, 8, 0)) == local(2026, 1, 5, 18, 0)
    assert OFFICE.last_closing(local(2026, 1, 12, 8, 0)) == local(2026, 1, 9, 18, 0)  # Monday morning: Friday


def test_last_closing_a_week_back_and_on_a_clock_ahead_of_utc() -> None:
    assert WEEKLY.last_closing(local(2026, 1, 12, 17, 0)) == local(2026, 1, 5, 18, 0)
    assert WEEKLY.last_closing(local(2026, 1, 12, 18, 0)) == local(2026, 1, 12, 18, 0)
    # Monday 09:30 UTC is 18:30 in Tokyo: closed half an hour ago, not on Friday
    assert TOKYO.last_closing(datetime(2026, 1, 5, 9, 30, tzinfo=UTC)) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    late = WorkCalendar.parse("Mon-Fri 09:00-24:00", "Asia/Tokyo")  # closes at midnight, 15:00 UTC
    assert late.last_closing(datetime(2026, 1, 5, 15, 0, tzinfo=UTC)) == datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@contextmanager
def machine_zone(name: str) -> Iterator[None]:
    """The process's own zone set to `name`, as on a server left on local time."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    clock.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        clock.tzset()


@pytest.fixture
def machine_in_kiritimati() -> Iterator[None]:
    """UTC+14: far from UTC and from the desk's zone."""
    with machine_zone("Pacific/Kiritimati"):
        yield


@pytest.mark.usefixtures("machine_in_kiritimati")
def test_the_machines_own_time_zone_never_shows_in_the_calendars_answers() -> None:
    """Windows, openings and due times are in UTC on any server, as the module promises."""
    monday = local(2026, 1, 5)
    assert all(edge.tzinfo is UTC for edge in OFFICE.window(monday.date()) or ())
    assert all(
        edge.tzinfo is UTC
        for edge in WorkCalendar.parse("Mon 08:00-24:00", "Europe/Berlin").window(monday.date()) or ()
    )
    due = OFFICE.add(local(2026, 1, 5, 10, 0), H)
    assert due == local(2026, 1, 5, 11, 0) and due.tzinfo is UTC
    opens = OFFICE.next_opening(local(2026, 1, 5, 7, 0))
    assert opens == local(2026, 1, 5, 9, 0) and opens.tzinfo is UTC


def test_the_desks_day_is_read_on_the_desks_clock_not_the_machines() -> None:
    """A server and a desk more than a day apart (UTC+14 and UTC-11): every answer is about the desk's day."""
    samoa = WorkCalendar.parse("Mon-Sun 09:00-24:00", "Pacific/Pago_Pago")
    late = datetime(2026, 1, 5, 23, 30, tzinfo=ZoneInfo("Pacific/Pago_Pago"))  # Wednesday 00:30 in Kiritimati
    with machine_zone("Pacific/Kiritimati"):
        assert samoa.next_opening(late) == late
        assert samoa.add(late, 10 * M) == late + 10 * M
        assert samoa.between(late - 30 * M, late) == 30 * M
    quarter = WorkCalendar.parse("Mon-Sun 00:00-00:15", "Pacific/Kiritimati")
    early = datetime(2026, 1, 7, 0, 30, tzinfo=ZoneInfo("Pacific/Kiritimati"))  # Monday 23:30 in Pago Pago
    with machine_zone("Pacific/Pago_Pago"):
        assert quarter.last_closing(early) == early - 15 * M
