"""Which self-help articles to offer for a customer's first description, before the form.

Each article is indexed once, at start: the stems of its titles and of its text, both languages
together (a Russian description finds the Russian words, one in Latin letters the transliterated ones).
A description is scored against each article by how much of what the customer said the article covers:

    score = Σ weight(word) · place(word) · specificity(word) / Σ weight(word)

* weight — how informative the word is in customers' language: its inverse document frequency in the
  triage corpus (a word customers use everywhere, like "work", weighs little; an unknown word, a lot);
* place — 1 when the word is in a title, BODY_WEIGHT when only in the text (titles say what an article
  is for, texts also mention what it is not for), less for a misspelt word;
* specificity — the word's inverse frequency among the articles, scaled to 1 for a word only one
  article uses, so a word many articles use ("connect", "password") counts for less.

Only an article whose title shares a word with the description is a candidate: a text also mentions
what its article is not for ("a broken laptop is not a new request"), and two such words in the text
of an unrelated article must not be enough.

The triage result decides whether to offer at all: never for a security incident (people must look at
it now), never for an incident that hits a team or the whole organisation (an outage is not self-help),
more readily (READY_THRESHOLD) for consultation and information requests, otherwise from THRESHOLD.
Equal scores go to the article whose title holds more of the match.
The figures were chosen on tests/data/kb_dev.jsonl; docs/self-help.md has the measurements.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from helpdesk.knowledge.articles import Article, KnowledgeBase
from helpdesk.knowledge.terms import Slot, Vocabulary, content_stems, query_slots
from helpdesk.triage import Triage, TriageResult
from helpdesk.vocabulary import Category, Impact, TicketType

THRESHOLD = 0.40
READY_THRESHOLD = 0.35
READY_CATEGORIES: frozenset[Category] = frozenset({Category.CONSULTATION, Category.INFORMATION})
BODY_WEIGHT = 0.5
FUZZY_SIMILARITY = 0.55
MAX_OFFERS = 3


@dataclass(frozen=True)
class Offer:
    """An article worth offering, with its score (0–1: the share of the description it covers)."""

    article: Article
    score: float

    @property
    def name(self) -> str:
        return self.article.name


def self_help_fits(result: TriageResult) -> bool:
    """May self-help be offered for this kind of ticket at all (not a security incident, not an outage)?"""
    if result.category == Category.SECURITY:
        return False
    return not (result.ticket_type == TicketType.INCIDENT and result.impact != Impact.INDIVIDUAL)


class ArticleMatcher:
    """The articles of a knowledge base, indexed for matching; one per process, built at start."""

    def __init__(self, knowledge: KnowledgeBase, triage: Triage) -> None:
        self.knowledge = knowledge
        self.triage = triage
        self._in_title: dict[str, set[int]] = defaultdict(set)
        self._in_body: dict[str, set[int]] = defaultdict(set)
        for i, article in enumerate(knowledge):
            for lang in article.titles:
                title, body = article.search_text(lang)
                for s in content_stems(title):
                    self._in_title[s].add(i)
                for paragraph in body.split("\n"):
                    for s in content_stems(paragraph):
                        self._in_body[s].add(i)
        self.vocabulary = Vocabulary(set(self._in_title) | set(self._in_body))
        n = len(knowledge)
        top = math.log((1 + n) / 2) + 1
        self._specific: dict[str, float] = {}
        for stem in self.vocabulary.stems:
            idf = math.log((1 + n) / (1 + len(self._in_title.get(stem, set()) | self._in_body.get(stem, set())))) + 1
            self._specific[stem] = idf / top
        vectorizer = triage.model.vectorizer
        self._background_index = vectorizer.index
        self._background_idf = vectorizer.idf
        self._background_top = float(vectorizer.idf.max()) if len(vectorizer.idf) else 1.0

    # --------------------------------------------------------------------------------------------
    def _weight(self, slot: Slot) -> float:
        """Informativeness of a customer's word, from how often customers use it (the triage corpus)."""
        index = self._background_index
        values = [self._background_idf[index[key]] for s in slot.stems if (key := "w:" + s) in index]
        return float(min(values)) if values else self._background_top

    def scores(self, text: str) -> list[tuple[Article, float]]:
        """Every article whose title shares a word with the text, best first, with its score."""
        if not self.knowledge:
            return []
        slots = query_slots(text)
        total = sum(self._weight(slot) for slot in slots)
        if total <= 0:
            return []
        got: dict[int, float] = defaultdict(float)
        titled: dict[int, float] = defaultdict(float)  # the part of `got` that came from titles
        for slot in slots:
            weight = self._weight(slot)
            best: dict[int, tuple[float, bool]] = {}
            for stem, sure in self.vocabulary.resolve(slot, FUZZY_SIMILARITY).items():
                specific = self._specific[stem]
                for i in self._in_title.get(stem, ()):
                    best[i] = max(best.get(i, (0.0, False)), (sure * specific, True))
                for i in self._in_body.get(stem, ()):
                    best[i] = max(best.get(i, (0.0, False)), (sure * specific * BODY_WEIGHT, False))
            for i, (value, from_title) in best.items():
                got[i] += weight * value
                titled[i] += weight * value if from_title else 0.0
        articles = self.knowledge.articles
        ranked = sorted(got.items(), key=lambda item: (-round(item[1], 9), -titled[item[0]], articles[item[0]].name))
        return [(articles[i], value / total) for i, value in ranked if titled[i] > 0]

    def offers(self, text: str, result: TriageResult | None = None) -> list[Offer]:
        """Up to MAX_OFFERS articles for a first description, best first; [] when none should be offered.

        `result` is the triage of the same text if the caller has it already (the intake does).
        """
        if not self.knowledge or not text or not text.strip():
            return []
        result = result or self.triage.classify(text)
        if not self_help_fits(result):
            return []
        threshold = READY_THRESHOLD if result.category in READY_CATEGORIES else THRESHOLD
        return [Offer(article, score) for article, score in self.scores(text)[:MAX_OFFERS] if score >= threshold]
