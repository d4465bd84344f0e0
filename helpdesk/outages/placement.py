"""Where a new incident report goes: which recent open incidents are the same outage, and which group it joins.

Stateless, so every bot process can call it with what the database says: the caller passes the open
incidents created within the window (each with its profile, built once and cached) and the major
incident each is linked under, if any. The live detector and `python -m bot eval-groups` both place
reports with this, one at a time in arrival order.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from helpdesk.outages.profile import ReportProfile
from helpdesk.outages.similarity import Comparison, compare

#: A report joins a group when it is the same outage as at least 1/MAJORITY of the group's members.
MAJORITY = 2
#: Members of one group a new report is compared with: its major incident and the latest ones.
GROUP_SAMPLE = 20


@dataclass(frozen=True)
class OpenIncident:
    """An open incident as grouping sees it; `group` is the major incident it is linked under (for the
    major incident itself, its own key), None when it stands alone."""

    key: Hashable
    profile: ReportProfile
    created_at: datetime
    group: Hashable | None = None


@dataclass(frozen=True)
class Match:
    incident: OpenIncident
    comparison: Comparison


@dataclass(frozen=True)
class Placement:
    """`group`: the existing group the report belongs to (the best-matching linked incident's); else
    `companions`: the unlinked incidents that are the same outage, with which it could form one."""

    matches: tuple[Match, ...]
    group: Hashable | None
    companions: tuple[OpenIncident, ...]

    @property
    def explanation(self) -> str | None:
        """Why, for the best match ("same outage: internet ('инет' / 'internet') + ...")."""
        return self.matches[0].comparison.explanation if self.matches else None


def same_outage(
    report: ReportProfile,
    incidents: Iterable[OpenIncident],
    *,
    at: datetime | None = None,
    window: timedelta | None = None,
) -> list[Match]:
    """The incidents that are the same outage as `report`, best first; with `at` and `window`, only
    those created within `window` before `at`."""
    since = at - window if at is not None and window is not None else None
    found = []
    for incident in incidents:
        if since is not None and incident.created_at < since:
            continue
        comparison = compare(incident.profile, report)
        if comparison.same:
            found.append(Match(incident, comparison))
    found.sort(key=lambda m: -m.comparison.score)
    return found


def _sampled(incidents: Iterable[OpenIncident]) -> list[OpenIncident]:
    """Every unlinked incident, and of each group its major incident and its latest members up to
    GROUP_SAMPLE: with 500 reports under one major incident, a new report is compared with 20, not 500."""
    kept: list[OpenIncident] = []
    by_group: dict[Hashable, list[OpenIncident]] = {}
    for incident in incidents:
        if incident.group is None:
            kept.append(incident)
        else:
            by_group.setdefault(incident.group, []).append(incident)
    for group, members in by_group.items():
        if len(members) <= GROUP_SAMPLE:
            kept.extend(members)
            continue
        parent = [m for m in members if m.key == group]
        rest = sorted((m for m in members if m.key != group), key=lambda m: m.created_at)
        kept.extend(parent + rest[len(rest) - (GROUP_SAMPLE - len(parent)) :])
    return kept


def place_report(
    report: ReportProfile,
    incidents: Iterable[OpenIncident],
    *,
    at: datetime | None = None,
    window: timedelta | None = None,
) -> Placement:
    """Join the best-matching group that the report agrees with at least half of (one odd member must not
    pull in another outage's reports); with none, list the unlinked matches."""
    incidents = _sampled(incidents)
    matches = same_outage(report, incidents, at=at, window=window)
    members: dict[Hashable, int] = {}
    for incident in incidents:
        if incident.group is not None:
            members[incident.group] = members.get(incident.group, 0) + 1
    agreeing: dict[Hashable, int] = {}
    for m in matches:
        if m.incident.group is not None:
            agreeing[m.incident.group] = agreeing.get(m.incident.group, 0) + 1
    for m in matches:
        group = m.incident.group
        if group is not None and agreeing[group] * MAJORITY >= members[group]:
            return Placement(tuple(matches), group, ())
    ungrouped = tuple(m.incident for m in matches if m.incident.group is None)
    return Placement(tuple(matches), None, ungrouped)
