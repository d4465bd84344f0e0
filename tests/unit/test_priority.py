"""The priority matrix is a contract with agents and SLA reports: every cell and floor is pinned here."""

from __future__ import annotations

import pytest

from helpdesk.priority import MATRIX, explain_priority, priority_for
from helpdesk.vocabulary import Category, Impact, Priority, Urgency

IM, U = Impact, Urgency
EXPECTED = {
    (IM.ORGANIZATION, U.BLOCKED): "P1",
    (IM.ORGANIZATION, U.DEGRADED): "P2",
    (IM.ORGANIZATION, U.LOW): "P3",
    (IM.TEAM, U.BLOCKED): "P2",
    (IM.TEAM, U.DEGRADED): "P3",
    (IM.TEAM, U.LOW): "P4",
    (IM.INDIVIDUAL, U.BLOCKED): "P3",
    (IM.INDIVIDUAL, U.DEGRADED): "P4",
    (IM.INDIVIDUAL, U.LOW): "P4",
}


@pytest.mark.parametrize(("cell", "expected"), sorted(EXPECTED.items()))
def test_matrix_cell(cell: tuple[Impact, Urgency], expected: str) -> None:
    assert priority_for(*cell) == Priority(expected)
    assert priority_for(*cell, Category.HARDWARE) == Priority(expected)
    assert MATRIX[cell] == Priority(expected)


def test_matrix_covers_every_cell() -> None:
    assert set(MATRIX) == set(EXPECTED)


@pytest.mark.parametrize("cell", sorted(EXPECTED))
def test_security_never_below_p2(cell: tuple[Impact, Urgency]) -> None:
    assert priority_for(*cell, Category.SECURITY).rank <= 2
    if EXPECTED[cell] == "P1":
        assert priority_for(*cell, Category.SECURITY) == Priority.P1


def test_organisation_wide_outage_is_p1_and_degradation_p2() -> None:
    for category in [None, *Category]:
        assert priority_for(IM.ORGANIZATION, U.BLOCKED, category) == Priority.P1
        assert priority_for(IM.ORGANIZATION, U.DEGRADED, category).rank <= 2


def test_explanation_names_impact_urgency_priority_and_floor() -> None:
    assert explain_priority(IM.TEAM, U.BLOCKED, Category.NETWORK) == "impact team; urgency work stopped → P2"
    text = explain_priority(IM.INDIVIDUAL, U.LOW, Category.SECURITY)
    assert text == "impact one person; urgency can wait → P2 (security floor)"
    assert "→ P1" in explain_priority(IM.ORGANIZATION, U.BLOCKED, None)


def test_accepts_plain_strings() -> None:
    assert priority_for("team", "degraded") == Priority.P3  # type: ignore[arg-type]


def test_a_floor_is_named_only_when_it_raised_the_priority() -> None:
    """The explanation is what an agent checks: a floor the matrix cell already met is not mentioned."""
    assert explain_priority(IM.TEAM, U.BLOCKED, Category.SECURITY) == "impact team; urgency work stopped → P2"
    assert explain_priority(IM.ORGANIZATION, U.BLOCKED, Category.SECURITY) == (
        "impact whole organisation; urgency work stopped → P1"
    )
    assert explain_priority(IM.ORGANIZATION, U.DEGRADED) == "impact whole organisation; urgency degraded → P2"


def test_the_organisation_wide_floors_hold_when_the_matrix_is_retuned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The floors are rules of their own (helpdesk.priority's docstring): a matrix retuned to P4 everywhere
    still gives an organisation-wide outage P1 and an organisation-wide degradation P2, and leaves
    everything else to the matrix."""
    from helpdesk import priority

    monkeypatch.setattr(priority, "MATRIX", dict.fromkeys(EXPECTED, Priority.P4))
    assert priority_for(IM.ORGANIZATION, U.BLOCKED) == Priority.P1
    assert priority_for(IM.ORGANIZATION, U.DEGRADED) == Priority.P2
    assert priority_for(IM.ORGANIZATION, U.LOW) == Priority.P4
    assert priority_for(IM.TEAM, U.BLOCKED) == Priority.P4
    assert priority_for(IM.ORGANIZATION, U.LOW, Category.SECURITY) == Priority.P2
    assert explain_priority(IM.ORGANIZATION, U.BLOCKED) == (
        "impact whole organisation; urgency work stopped → P1 (organisation-wide floor)"
    )
    # both floors raise a security outage; the explanation names the stronger one
    assert explain_priority(IM.ORGANIZATION, U.BLOCKED, Category.SECURITY) == (
        "impact whole organisation; urgency work stopped → P1 (organisation-wide floor)"
    )
    assert explain_priority(IM.ORGANIZATION, U.DEGRADED) == (
        "impact whole organisation; urgency degraded → P2 (organisation-wide floor)"
    )
