"""One report read once for grouping: its services, failure, scope, personal or request cues, place and words.

A profile is computed once per report (a few hundred microseconds) and compared many times (a few
microseconds each, similarity.py), so a new report is checked against hundreds of open incidents cheaply.
The text goes through the triage's normalisation and features (folding, slang, transliteration, stems),
so "инет лёг", "ne rabotaet internet" and "Internet is DOWN" are read alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA

from helpdesk.outages import cues
from helpdesk.outages.services import SERVICES
from helpdesk.triage.features import Analysis, analyze, raw_features
from helpdesk.triage.impact import infer_impact, infer_urgency
from helpdesk.triage.lexicons import VAGUE_WORDS
from helpdesk.triage.normalize import normalize, translit_word
from helpdesk.vocabulary import Category, Impact, Urgency

_SERVICES = {s.key: s for s in SERVICES}
#: catalogue key → the systems behind it ("business_app" → erp, crm)
CATALOGUE: dict[str, frozenset[str]] = {}
for _s in SERVICES:
    CATALOGUE[_s.parent] = CATALOGUE.get(_s.parent, frozenset()) | {_s.key}
_SPELLINGS: dict[str, str] = {word: s.key for s in SERVICES for word in s.spellings}
_STOPWORDS = VAGUE_WORDS
_FUZZY_FROM = 6  # letters: shorter words are too close to other words ("почти" / "почта")
_FUZZY_TO = 20  # no service's name is longer; a 4,000-letter "word" is not measured
_WORD_WEIGHT, _CHAR_WEIGHT = 0.8, 0.6


@dataclass(frozen=True, eq=False)
class ReportProfile:
    """What grouping needs from one report; the strings are the customer's own words, for explanations."""

    text: str
    services: frozenset[str]  # systems named or chosen: "internet", "erp", "crm", ...
    catalogue: frozenset[str]  # their catalogue keys, plus the service chosen in the intake
    service_words: dict[str, str] = field(repr=False)
    #: what the report is about: the catalogue key chosen in the intake and that of the first service
    #: named ("warehouse has no internet, scanners can't sync" is about the internet, not the scanners)
    main: frozenset[str] = frozenset()
    system: str | None = None  # the first service named, when it is one system of several ("erp")
    subjects: frozenset[str] = frozenset()  # stems of the other telling words ("лифт", "zoom")
    failure: str | None = None  # "лёг", "is down"
    collective: str | None = None  # "у всех", "whole office"
    personal: str | None = None  # "пароль", "my laptop", "только у меня"
    request: str | None = None  # "нужен", "how do I", "когда будет время"
    floors: frozenset[int] = frozenset()
    buildings: frozenset[str] = frozenset()
    rooms: frozenset[str] = frozenset()
    meeting_room: str | None = None
    category: Category | None = None
    declared: bool = False  # an outage staff declared: failing and affecting many by definition
    vector: dict[str, float] = field(default_factory=dict, repr=False)  # stems and character n-grams
    stems: dict[str, float] = field(default_factory=dict, repr=False)  # stems only: a cheaper ranking signal

    #: says that something failed, and is not one person's own problem or a request (see _outage_like)
    outage_like: bool = False

    @property
    def place(self) -> str | None:
        """Where, in a few words ("floor 3", "building б", "meeting room"), or None."""
        parts = [f"floor {n}" for n in sorted(self.floors)] + [f"building {b}" for b in sorted(self.buildings)]
        parts += [f"room {r}" for r in sorted(self.rooms)]
        if self.meeting_room:
            parts.append("meeting room")
        return ", ".join(parts) or None


def _outage_like(failure: str | None, collective: str | None, personal: str | None, request: str | None) -> bool:
    """Something failed, and it affects many or is neither one person's own problem nor a request."""
    return failure is not None and (collective is not None or (personal is None and request is None))


def _first(pattern, a: Analysis) -> str | None:
    m = pattern.search(a.normalized)
    return a.own_words(m.group(0)) if m else None


def _detect_services(a: Analysis) -> dict[str, str]:
    """Service key → the customer's words for it, in the order named; the longer phrase wins
    ("интернет магазин" is a website, not the internet)."""
    spans: list[tuple[int, int, str]] = []
    for service in SERVICES:
        spans.extend((m.start(), m.end(), service.key) for m in service.pattern.finditer(a.normalized))
    spans.sort(key=lambda s: (s[0] - s[1], s[0]))
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str, str]] = []
    for start, end, key in spans:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
        found.append((start, key, a.own_words(a.normalized[start:end])))
    covered = {w for start, end in taken for w in a.normalized[start:end].split()}
    position = 0
    for token, own in zip(a.tokens, a.source or a.tokens, strict=False):
        position = a.normalized.find(token, position)
        if token in covered or not _FUZZY_FROM <= len(token) <= _FUZZY_TO:
            continue
        key = _misspelt_service(token)
        if key is not None:
            found.append((position, key, own))
    out: dict[str, str] = {}
    for _, key, own in sorted(found):
        out.setdefault(key, own)
    return out


@lru_cache(maxsize=16384)
def _misspelt_service(token: str) -> str | None:
    """The service a misspelt word names ("интрнет", "printr"), by edit distance to known spellings."""
    limit = 1 if len(token) < 9 else 2
    best = process.extractOne(token, _SPELLINGS.keys(), scorer=OSA.distance, score_cutoff=limit)
    return _SPELLINGS[best[0]] if best else None


def _places(normalized: str) -> tuple[frozenset[int], frozenset[str], frozenset[str]]:
    floors = set()
    for pattern in cues.FLOOR_PATTERNS:
        for m in pattern.finditer(normalized):
            number = cues.ordinal(m.group(1))
            if number is not None:
                floors.add(number)
    buildings = {translit_word(m.group(1)) for p in cues.BUILDING_PATTERNS for m in p.finditer(normalized)}
    rooms = {m.group(1) for m in cues.ROOM_PATTERN.finditer(normalized)}
    return frozenset(floors), frozenset(buildings), frozenset(rooms)


def _unit(values: dict[str, float], weight: float = 1.0) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in values.values()))
    return {f: weight * v / norm for f, v in values.items()} if norm else {}


def _vectors(a: Analysis) -> tuple[dict[str, float], dict[str, float]]:
    """(stems and character n-grams, each block L2-normalised and weighted so typos still overlap;
    stems alone), both unit length, sublinear counts."""
    blocks = raw_features(a)
    words = {f: 1.0 + math.log(n) for f, n in blocks["w"].items()}
    chars = {f: 1.0 + math.log(n) for f, n in blocks["c"].items()}
    both = {**_unit(words, _WORD_WEIGHT), **_unit(chars, _CHAR_WEIGHT)}
    return _unit(both), _unit(words)


def _personal(a: Analysis, services: Iterable[str]) -> str | None:
    """The first personal cue; for the VPN, working from home is the normal case, not a personal one.
    A device on a desk ("монитор") is personal only when the report names no shared service."""
    services = set(services)
    for m in cues.PERSONAL.finditer(a.normalized):
        if "vpn" in services and cues.HOME.fullmatch(m.group(0)):
            continue
        return a.own_words(m.group(0))
    for m in cues.POSSESSIVE.finditer(a.normalized):
        word = m.group(1)
        if word not in cues.NOT_PERSONAL_AFTER_MY and not any(s.pattern.match(word) for s in SERVICES):
            return a.own_words(m.group(0))
    return None if services else _first(cues.PERSONAL_DEVICE, a)


def _subjects(a: Analysis) -> frozenset[str]:
    """Stems of the words that say what failed, not how or for whom ("лифт" in "лифт опять не работает")."""
    found = (m.group(0) for p in (cues.FAILURE, cues.COLLECTIVE) for m in p.finditer(a.normalized))
    cue_words = {w for phrase in found for w in phrase.split()}
    cue_words.update(w for phrase in a.cues.get("incident", ()) for w in phrase.split())
    return frozenset(
        stem
        for token, stem in zip(a.tokens, a.stems, strict=True)
        if len(token) >= 3
        and not token.isdigit()
        and token not in cues.GENERIC_WORDS
        and token not in cue_words
        and token not in _STOPWORDS
    )


def profile_report(
    text: str,
    *,
    service: str | None = None,
    category: Category | str | None = None,
    declared: bool = False,
) -> ReportProfile:
    """Read one report; `service` is what the customer chose in the intake (a catalogue key), if anything."""
    a = analyze(text or "")
    named = _detect_services(a)
    chosen = resolve_service(service) if service else frozenset()
    services = frozenset(named) | {s for s in chosen if s in _SERVICES}
    catalogue = frozenset(_SERVICES[s].parent for s in services) | {_parent(s) for s in chosen}
    first = next(iter(named), None)
    main = frozenset({_parent(s) for s in chosen} | ({_SERVICES[first].parent} if first else set()))
    system = first if first and len(CATALOGUE.get(_SERVICES[first].parent, ())) > 1 else None
    words = dict(named)
    for s in chosen:  # staff's word for a declared outage is the one to quote
        if declared or s not in words:
            words[s] = service or s
    failure = _first(cues.FAILURE, a) or next(iter(a.cues.get("incident", ())), None)
    impact, impact_cue = infer_impact(a.normalized)
    collective = _first(cues.COLLECTIVE, a)
    if collective is None and impact == Impact.ORGANIZATION and impact_cue:
        collective = a.own_words(impact_cue)
    request = _first(cues.REQUEST, a)
    urgency, urgency_cue = infer_urgency(a.normalized, Category.NETWORK)
    if request is None and urgency == Urgency.LOW and urgency_cue:
        request = a.own_words(urgency_cue)
    floors, buildings, rooms = _places(a.normalized)
    vector, stems = _vectors(a)
    personal = _personal(a, services)
    return ReportProfile(
        text=text,
        services=services,
        catalogue=catalogue,
        service_words=words,
        main=main,
        system=system,
        subjects=_subjects(a),
        failure=failure,
        collective=collective,
        personal=personal,
        request=request,
        floors=floors,
        buildings=buildings,
        rooms=rooms,
        meeting_room=_first(cues.MEETING_ROOM, a),
        category=Category(category) if category else None,
        declared=declared,
        outage_like=declared or _outage_like(failure, collective, personal, request),
        vector=vector,
        stems=stems,
    )


@lru_cache(maxsize=4096)
def cached_profile(text: str, service: str | None = None, category: Category | str | None = None) -> ReportProfile:
    """profile_report() remembered: an open incident's profile is built once, not at every new report."""
    return profile_report(text, service=service, category=category)


def _parent(key: str) -> str:
    return _SERVICES[key].parent if key in _SERVICES else key


def resolve_service(word: str) -> frozenset[str]:
    """Service keys a word names: a catalogue key as it is ("business_app"), else what the word says
    ("1C" → erp, "почта" → email, "Интернет" → internet); empty when it names no known service."""
    key = word.strip().casefold()
    if key in CATALOGUE or key in _SERVICES:
        return frozenset({key})
    return frozenset(_detect_services(analyze(normalize(word))))
