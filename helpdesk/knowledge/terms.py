"""Words of a customer's description and of an article, as the matcher compares them.

Built on the triage's own normalisation and stemming (helpdesk/triage): slang, typos of the keyboard
layout and Russian typed in Latin letters are handled once, in one place. What this module adds is what
matching needs and classification does not: function words dropped (scikit-learn's English list, see
function_words.py, the `stop-words` Russian list, and the greetings people open a chat with), every
Latin word read both as English and as transliterated Russian (the triage decides per text, and a short
"paper jam" or "zamyalas bumaga" can go the wrong way), and a misspelt word looked up by its letter
triples among the words the articles use.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from stop_words import get_stop_words

from helpdesk.knowledge.function_words import ENGLISH_FUNCTION_WORDS
from helpdesk.triage.features import analyze, stem
from helpdesk.triage.normalize import translit_word, words

_LATIN_WORD = re.compile(r"^[a-z]+$")
#: What customers write around a question in a chat: carries no subject.
_CHAT_WORDS = words(
    """
    help hello hi hey please pls thanks thank urgent urgently asap question problem issue issues whats
    anybody somebody someone guys colleagues
    пожалуйста помогите помоги подскажите привет здравствуйте добрый день утро вечер спасибо срочно
    вопрос проблема коллеги ребята кто-нибудь
    """
)
STOP_WORDS: frozenset[str] = frozenset(
    {w.replace("ё", "е") for w in get_stop_words("ru")} | ENGLISH_FUNCTION_WORDS | _CHAT_WORDS
)
MIN_FUZZY_LENGTH = 4  # shorter words have too few letter triples to be recognised when misspelt
#: A known stem that starts with the customer's stem and is at most this much longer stands for it
#: ("офис" → "офисн", "print" → "printer", "auto" → "automat"), with PREFIX_SURENESS.
PREFIX_EXTRA = 3
PREFIX_SURENESS = 0.8


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning (an article's title or one of its paragraphs)."""
    a = analyze(text)
    return {s for t, s in zip(a.tokens, a.stems, strict=True) if t not in STOP_WORDS and len(t) > 1}


@dataclass(frozen=True)
class Slot:
    """One word of the customer's: the stems it may stand for, and the word as normalised."""

    stems: frozenset[str]
    word: str


def query_slots(text: str) -> list[Slot]:
    """The meaningful words of a description, each once, with its alternative readings."""
    a = analyze(text)
    sources = a.source if len(a.source) == len(a.tokens) else a.tokens
    out: list[Slot] = []
    seen: set[tuple[str, str]] = set()
    for token, token_stem, source in zip(a.tokens, a.stems, sources, strict=True):
        if token in STOP_WORDS or len(token) < 2 or (source, token) in seen:
            continue
        seen.add((source, token))
        stems = {token_stem}
        if _LATIN_WORD.match(source) and source not in STOP_WORDS:
            stems.add(stem(source))
            stems.add(stem(translit_word(source)))
        out.append(Slot(frozenset(stems), token))
    return out


def _triples(word: str) -> set[str]:
    padded = f" {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


class Vocabulary:
    """The stems the articles use, with a letter-triple index to recognise a misspelt one."""

    def __init__(self, stems: Iterable[str]) -> None:
        self.stems = frozenset(stems)
        self._triples: dict[str, set[str]] = {}
        self._by_triple: dict[str, list[str]] = defaultdict(list)
        self._by_prefix: dict[str, list[str]] = defaultdict(list)
        for s in self.stems:
            for n in range(MIN_FUZZY_LENGTH, len(s)):
                if len(s) - n <= PREFIX_EXTRA:
                    self._by_prefix[s[:n]].append(s)
            if len(s) >= MIN_FUZZY_LENGTH:
                grams = _triples(s)
                self._triples[s] = grams
                for g in grams:
                    self._by_triple[g].append(s)

    def closest(self, word: str, minimum: float) -> tuple[str, float] | None:
        """The known stem most like `word` (Jaccard similarity of letter triples ≥ minimum), if any."""
        if len(word) < MIN_FUZZY_LENGTH:
            return None
        grams = _triples(word)
        shared: dict[str, int] = defaultdict(int)
        for g in grams:
            for s in self._by_triple.get(g, ()):
                shared[s] += 1
        candidates = sorted((-n / (len(grams) + len(self._triples[s]) - n), s) for s, n in shared.items())
        if not candidates or -candidates[0][0] < minimum:
            return None
        return candidates[0][1], -candidates[0][0]

    def resolve(self, slot: Slot, minimum: float) -> dict[str, float]:
        """Known stems the slot stands for, with how sure (1.0 exact, less for a spelling guess)."""
        exact = {s: 1.0 for s in slot.stems if s in self.stems}
        if exact:
            return exact
        out: dict[str, float] = {}
        for s in sorted(slot.stems):
            for longer in self._by_prefix.get(s, ()):
                out[longer] = max(out.get(longer, 0.0), PREFIX_SURENESS)
            found = self.closest(s, minimum)
            if found and found[1] > out.get(found[0], 0.0):
                out[found[0]] = found[1]
        return out
