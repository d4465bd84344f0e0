"""Priority from impact × urgency (the ITIL matrix), with floors that no matrix cell may go below.

The matrix is the classic 3×3 ITIL one, whose five levels are folded into four (P5 → P4):
rank = impact rank + urgency rank − 1, capped at 4, where organization=1, team=2, individual=3 and
blocked=1, degraded=2, low=3. Floors then raise (never lower) the result:

* a security incident is never below P2 — a compromised account spreads while it waits;
* an organisation-wide outage (organization × blocked) is P1, and any organisation-wide degradation
  is never below P2 (the matrix already gives both; the floor keeps them if the matrix is retuned).
"""

from __future__ import annotations

from helpdesk.vocabulary import Category, Impact, Priority, Urgency

_IMPACT_RANK: dict[Impact, int] = {Impact.ORGANIZATION: 1, Impact.TEAM: 2, Impact.INDIVIDUAL: 3}
_URGENCY_RANK: dict[Urgency, int] = {Urgency.BLOCKED: 1, Urgency.DEGRADED: 2, Urgency.LOW: 3}

#: The exact matrix, row = impact, column = urgency (docs/triage.md prints it).
MATRIX: dict[tuple[Impact, Urgency], Priority] = {
    (impact, urgency): Priority(f"P{min(4, _IMPACT_RANK[impact] + _URGENCY_RANK[urgency] - 1)}")
    for impact in Impact
    for urgency in Urgency
}

IMPACT_WORDS: dict[Impact, str] = {
    Impact.INDIVIDUAL: "one person",
    Impact.TEAM: "team",
    Impact.ORGANIZATION: "whole organisation",
}
URGENCY_WORDS: dict[Urgency, str] = {
    Urgency.BLOCKED: "work stopped",
    Urgency.DEGRADED: "degraded",
    Urgency.LOW: "can wait",
}


def _by_rank(rank: int) -> Priority:
    return Priority(f"P{rank}")


def _priority_and_floor(impact: Impact, urgency: Urgency, category: Category | None) -> tuple[Priority, str | None]:
    """The matrix cell, then the strongest floor that raised it (if any)."""
    priority = MATRIX[(Impact(impact), Urgency(urgency))]
    floor: str | None = None
    if category == Category.SECURITY and priority.rank > 2:
        priority, floor = _by_rank(2), "security floor"
    if impact == Impact.ORGANIZATION:
        cap = 1 if urgency == Urgency.BLOCKED else 2
        if urgency != Urgency.LOW and priority.rank > cap:
            priority, floor = _by_rank(cap), "organisation-wide floor"
    return priority, floor


def priority_for(impact: Impact, urgency: Urgency, category: Category | None = None) -> Priority:
    """Priority P1–P4 for a ticket; `category` only matters for floors (security never below P2)."""
    return _priority_and_floor(impact, urgency, category)[0]


def explain_priority(impact: Impact, urgency: Urgency, category: Category | None = None) -> str:
    """Short words an agent can check, e.g. "impact one person; urgency can wait → P2 (security floor)"."""
    priority, floor = _priority_and_floor(impact, urgency, category)
    text = f"impact {IMPACT_WORDS[Impact(impact)]}; urgency {URGENCY_WORDS[Urgency(urgency)]} → {priority}"
    return f"{text} ({floor})" if floor else text
