"""SLA defaults are promised to customers at registration, and overrides come from operators' .env."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from helpdesk.sla import SlaPolicy, SlaTarget, key_for
from helpdesk.vocabulary import Priority, TicketType

INC, REQ = TicketType.INCIDENT, TicketType.SERVICE_REQUEST
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

DEFAULTS = {
    (INC, "P1"): (15 * M, 4 * H),
    (INC, "P2"): (30 * M, 8 * H),
    (INC, "P3"): (4 * H, 3 * D),
    (INC, "P4"): (1 * D, 5 * D),
    (REQ, "P1"): (1 * H, 1 * D),
    (REQ, "P2"): (4 * H, 2 * D),
    (REQ, "P3"): (1 * D, 5 * D),
    (REQ, "P4"): (2 * D, 10 * D),
}


@pytest.mark.parametrize(("cell", "expected"), DEFAULTS.items())
def test_defaults(cell: tuple[TicketType, str], expected: tuple[timedelta, timedelta]) -> None:
    target = SlaPolicy().target(cell[0], Priority(cell[1]))
    assert (target.first_response, target.resolution) == expected
    assert SlaPolicy.DEFAULTS[(cell[0], Priority(cell[1]))] == target


def test_overrides_replace_only_given_cells() -> None:
    policy = SlaPolicy.from_overrides({"incident_p1": "10m/2h", "REQUEST_P3": "2d/7d", "incident_p2": None})
    assert policy.target(INC, Priority.P1) == SlaTarget(10 * M, 2 * H)
    assert policy.target(REQ, Priority.P3) == SlaTarget(2 * D, 7 * D)
    assert policy.target(INC, Priority.P2) == SlaTarget(30 * M, 8 * H)
    assert policy.target(REQ, Priority.P4) == SlaTarget(2 * D, 10 * D)


def test_override_aliases_and_seconds_for_tests() -> None:
    policy = SlaPolicy.from_overrides({"service_request_p1": "45s/1h30m", "sla_incident_p4": " 5s / 10s "})
    assert policy.target(REQ, Priority.P1) == SlaTarget(timedelta(seconds=45), 90 * M)
    assert policy.target(INC, Priority.P4) == SlaTarget(timedelta(seconds=5), timedelta(seconds=10))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("incident_p1", "15m"),
        ("incident_p1", "soon/4h"),
        ("incident_p1", "/4h"),
        ("incident_p1", "4h/15m"),
        ("incident_p1", "0s/1h"),
        ("incident_p5", "15m/4h"),
        ("problem_p1", "15m/4h"),
        ("p1", "15m/4h"),
    ],
)
def test_invalid_override_names_the_key(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        SlaPolicy.from_overrides({key: value})


def test_key_for_and_str() -> None:
    assert key_for(INC, Priority.P1) == "incident_p1"
    assert key_for(REQ, Priority.P4) == "request_p4"
    assert str(SlaPolicy().target(INC, Priority.P1)) == "15m/4h"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("15m", "is not 'first response/resolution'"),
        ("15m/", "is not 'first response/resolution'"),
        ("/4h", "is not 'first response/resolution'"),
        (" / ", "is not 'first response/resolution'"),
        ("soon/4h", "not a duration: 'soon'"),
        ("0s/1h", "durations must be positive"),
        ("15m/0s", "durations must be positive"),
        ("4h/15m", "first response 4h is after resolution 15m"),
    ],
)
def test_an_invalid_override_tells_the_operator_what_is_wrong(value: str, says: str) -> None:
    """The start-up error is all an operator gets: it must point at the actual mistake."""
    with pytest.raises(ValueError, match=f"SLA override 'incident_p1': .*{re.escape(says)}"):
        SlaPolicy.from_overrides({"incident_p1": value})


def test_a_first_response_may_be_due_with_the_resolution() -> None:
    assert SlaPolicy.from_overrides({"request_p2": "4h/4h"}).target(REQ, Priority.P2) == SlaTarget(4 * H, 4 * H)


def test_blank_overrides_keep_their_defaults_and_do_not_stop_the_rest() -> None:
    """An .env line left empty (`SLA_INCIDENT_P1=`) means the default, whatever comes after it."""
    policy = SlaPolicy.from_overrides({"incident_p1": "  ", "incident_p2": None, "incident_p3": "1h/1d"})
    assert policy.target(INC, Priority.P1) == SlaTarget(15 * M, 4 * H)
    assert policy.target(INC, Priority.P2) == SlaTarget(30 * M, 8 * H)
    assert policy.target(INC, Priority.P3) == SlaTarget(1 * H, 1 * D)
