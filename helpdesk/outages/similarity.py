"""Are two reports the same outage? A verdict, a score for ranking, and a sentence a person can check.

Rules, in the order they are applied:

1. both must describe something that failed and not be one person's own problem ("my password
   expired", "my laptop's wifi adapter") or a request ("please set up the VPN"), unless they say many
   are affected;
2. the same service (named in the text, chosen in the intake or declared by staff) — or, when a side
   names none, the same category and similar wording;
3. not in different places (floor 3 / floor 5, building A / building B, room 204 / room 305).

The score (0..1) ranks the matches of one report: a shared service, a shared place, "many affected" on
both sides and the wording's similarity (stems and character n-grams, so typos still count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from helpdesk.outages.profile import ReportProfile

#: The smallest score that is "the same outage" when one side names no service: wording must carry it.
WORDING_THRESHOLD = 0.5
_SERVICE, _SAME_SERVICES, _PLACE, _MANY, _WORDING = 0.5, 0.1, 0.15, 0.1, 0.15


@dataclass(frozen=True)
class Comparison:
    same: bool
    score: float
    reason: Callable[[], str] = field(repr=False, compare=False)

    @property
    def explanation(self) -> str:
        """ "same outage: internet ('инет' / 'internet') + failed (...)" or "not the same: ..."; written
        only when asked for: most comparisons are never explained."""
        return self.reason()


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Dot product of two unit vectors kept as {feature: weight}."""
    return sum(a[f] * b[f] for f in a.keys() & b.keys())


def _pair(x: str, y: str) -> str:
    return f"'{x}'" if x.casefold() == y.casefold() else f"'{x}' / '{y}'"


def _refusal(why: str) -> str:
    return f"not the same: {why}"


def _not_an_outage(p: ReportProfile) -> str | None:
    """Why a report cannot be part of an outage, or None when it can."""
    if p.outage_like:
        return None
    if p.personal is not None:
        return f"'{p.personal}' is one person's own problem"
    if p.request is not None:
        return f"'{p.request}' asks for something"
    return f"nothing failed in '{_short(p.text)}'"


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _place_conflict(a: ReportProfile, b: ReportProfile) -> str | None:
    for what, x, y in (("floors", a.floors, b.floors), ("buildings", a.buildings, b.buildings)):
        if x and y and not x & y:
            return f"different {what} ({', '.join(map(str, sorted(x)))} / {', '.join(map(str, sorted(y)))})"
    if a.rooms and b.rooms and not a.rooms & b.rooms:
        return f"different rooms ({', '.join(sorted(a.rooms))} / {', '.join(sorted(b.rooms))})"
    return None


def _shared_place(a: ReportProfile, b: ReportProfile) -> str | None:
    if a.floors & b.floors:
        return f"floor {min(a.floors & b.floors)}"
    if a.buildings & b.buildings:
        return f"building {min(a.buildings & b.buildings).upper()}"
    if a.rooms & b.rooms:
        return f"room {min(a.rooms & b.rooms)}"
    if a.meeting_room and b.meeting_room:
        return f"meeting room ({_pair(a.meeting_room, b.meeting_room)})"
    return None


def _service_verdict(a: ReportProfile, b: ReportProfile) -> tuple[str | None, str | None]:
    """(the service both are about, None) or (None, why they differ); (None, None) when one names none.

    Only what each report is about counts, not every service it mentions: "warehouse has no internet,
    scanners can't sync" must not bridge an internet outage and a broken printer."""
    if not a.main or not b.main:
        return None, None
    shared = a.main & b.main
    if not shared:
        return None, f"different services ({', '.join(sorted(a.main))} / {', '.join(sorted(b.main))})"
    if a.system and b.system and a.system != b.system:
        return None, f"different systems ({a.system} / {b.system})"
    common = a.services & b.services
    return (min(common) if common else min(shared)), None


def compare(a: ReportProfile, b: ReportProfile) -> Comparison:
    """Is report `b` the same outage as report `a`? Symmetric."""
    for p in (a, b):
        why = _not_an_outage(p)
        if why:
            return Comparison(False, 0.0, partial(_refusal, why))
    service, differ = _service_verdict(a, b)
    if differ:
        return Comparison(False, 0.0, partial(_refusal, differ))
    conflict = _place_conflict(a, b)
    if conflict:
        return Comparison(False, 0.0, partial(_refusal, conflict))
    place = _shared_place(a, b)
    many = a.collective or b.collective
    score = _PLACE * bool(place) + _MANY * bool(a.collective and b.collective)
    if service is None:  # the wording must carry it: stems and character n-grams, typos included
        wording = cosine(a.vector, b.vector)
        score += _WORDING * wording
        if a.category and b.category and a.category != b.category:
            return Comparison(False, 0.0, partial(_refusal, f"different categories ({a.category} / {b.category})"))
        subject = sorted(a.subjects & b.subjects)
        if not subject or (wording < WORDING_THRESHOLD and not many):
            return Comparison(
                False, round(score, 3), partial(_refusal, f"too little in common (wording {wording:.2f})")
            )
        return Comparison(True, round(score, 3), partial(_because, a, b, None, place, wording))
    # a report naming two services matches through either, but ranks below one naming exactly the same
    overlap = len(a.catalogue & b.catalogue) / len(a.catalogue | b.catalogue)
    wording = cosine(a.stems, b.stems)  # only ranks: shared stems are enough, and four times cheaper
    score += _SERVICE + _SAME_SERVICES * overlap + _WORDING * wording
    return Comparison(True, round(score, 3), partial(_because, a, b, service, place, wording))


def _because(a: ReportProfile, b: ReportProfile, service: str | None, place: str | None, wording: float) -> str:
    parts = []
    if service is not None:
        wa = a.service_words.get(service) or next(iter(a.service_words.values()), service)
        wb = b.service_words.get(service) or next(iter(b.service_words.values()), service)
        parts.append(f"{service.replace('_', ' ')} ({_pair(wa, wb)})")
    else:
        parts.append(f"similar wording ({wording:.2f})")
    failures = [f for f in (a.failure, b.failure) if f]
    if len(failures) == 2:
        parts.append(f"failed ({_pair(*failures)})")
    elif failures:
        parts.append(f"failed ('{failures[0]}')")
    many = [m for m in (a.collective, b.collective) if m]
    if len(many) == 2:
        parts.append(f"many affected ({_pair(*many)})")
    elif many:
        parts.append(f"many affected ('{many[0]}')")
    if place:
        parts.append(place)
    return "same outage: " + " + ".join(parts)
