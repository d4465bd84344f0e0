"""Is a customer's first description about an outage staff already know of?

Two kinds of known outage: an open major incident (its own report and those linked under it) and an
outage an agent declared with ``/outage SERVICE text``. The description is compared with each of their
reports by the same rules as grouping (similarity.compare); a declared outage counts as failing and
affecting many whatever its text says ("провайдер чинит, ждём"), so only the customer's words must say
that something failed — "забыл пароль от 1С" is not about a declared 1C outage.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from helpdesk.outages.profile import ReportProfile, cached_profile, profile_report, resolve_service
from helpdesk.outages.similarity import Comparison, compare
from helpdesk.vocabulary import Category


class UnknownService(ValueError):
    """`/outage SERVICE`: the word names no service the matcher knows."""


@dataclass(frozen=True)
class KnownOutage:
    """`key` is the caller's: the major incident's ticket id, or the declared service's name."""

    key: Hashable
    reports: tuple[ReportProfile, ...]


@dataclass(frozen=True)
class KnownOutageMatch:
    outage: KnownOutage
    comparison: Comparison


def declared_outage(key: Hashable, service: str, text: str = "") -> KnownOutage:
    """The outage an agent declared (`/outage SERVICE text`); UnknownService when SERVICE names none."""
    if not resolve_service(service):
        raise UnknownService(service)
    return KnownOutage(key, (profile_report(text, service=service, declared=True),))


def major_incident_outage(
    key: Hashable, reports: Sequence[tuple[str, str | None, Category | str | None]]
) -> KnownOutage:
    """An open major incident from its reports: (text, service, category) of the parent, then the linked."""
    return KnownOutage(key, tuple(cached_profile(text, service, category) for text, service, category in reports))


def match_known_outage(description: str | ReportProfile, outages: Iterable[KnownOutage]) -> KnownOutageMatch | None:
    """The known outage the description is about (the best, when several), or None."""
    outages = [outage for outage in outages if outage.reports]
    if not outages:  # nothing is known (the usual case): no need to read the description
        return None
    report = description if isinstance(description, ReportProfile) else profile_report(description)
    best: KnownOutageMatch | None = None
    for outage in outages:
        for known in outage.reports:
            comparison = compare(known, report)
            if comparison.same and (best is None or comparison.score > best.comparison.score):
                best = KnownOutageMatch(outage, comparison)
    return best
