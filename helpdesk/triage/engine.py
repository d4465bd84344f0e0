"""Triage of one ticket text: type, category, impact, urgency, priority and a sentence explaining them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpdesk.priority import IMPACT_WORDS, URGENCY_WORDS, explain_priority, priority_for
from helpdesk.triage.features import Analysis, analyze
from helpdesk.triage.impact import infer_impact, infer_urgency
from helpdesk.triage.lexicons import VAGUE_WORDS
from helpdesk.triage.model import _IS_INCIDENT, CATEGORIES, LinearModel, load_model
from helpdesk.vocabulary import Category, Impact, Priority, TicketType, Urgency, categories_of

#: Below this confidence in incident-vs-request the intake asks the customer (DESIGN.md, Triage).
DOUBT_THRESHOLD = 0.70
#: Weight of the dedicated type model against the type implied by the category model.
TYPE_MODEL_WEIGHT = 0.5
_VAGUE_TYPE_CONFIDENCE = 0.5


@dataclass(frozen=True)
class TriageResult:
    ticket_type: TicketType
    category: Category
    priority: Priority
    impact: Impact
    urgency: Urgency
    confidence: float
    type_confidence: float
    explanation: str
    ranked_categories: tuple[tuple[Category, float], ...]
    impact_inferred: bool
    urgency_inferred: bool

    def as_json(self) -> dict[str, object]:
        """Plain JSON-able values, for the CLI, logs and the ticket record."""
        return {
            "type": self.ticket_type.value,
            "category": self.category.value,
            "priority": self.priority.value,
            "impact": self.impact.value,
            "urgency": self.urgency.value,
            "confidence": round(self.confidence, 3),
            "type_confidence": round(self.type_confidence, 3),
            "explanation": self.explanation,
            "impact_inferred": self.impact_inferred,
            "urgency_inferred": self.urgency_inferred,
            "ranked_categories": [[c.value, round(p, 3)] for c, p in self.ranked_categories],
        }


def _quote(words: list[str], limit: int = 2) -> str:
    return " + ".join(f"'{w}'" for w in words[:limit])


class Triage:
    """The classifier plus the rules around it; one per process (see get_triage)."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model

    @classmethod
    def load(cls, *, use_cache: bool = True, cache_dir: Path | None = None) -> Triage:
        """Trained model from the cache (or the corpus, then cached)."""
        return cls(load_model(use_cache=use_cache, directory=cache_dir))

    # ------------------------------------------------------------------------------------------
    def _informative(self, a: Analysis) -> bool:
        """Does the text hold any word that could be evidence (not just "help", "hello", "вопрос")?"""
        index = self.model.vectorizer.index
        for token, stem in zip(a.tokens, a.stems, strict=True):
            if token in VAGUE_WORDS or len(token) < 2:
                continue
            if f"w:{stem}" in index:
                return True
        return any(group not in ("incident", "service_request") for group in a.cues)

    def _scores(self, a: Analysis) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """Joint category scores and P(incident), blending the category and type models."""
        p_cat, p_inc_type_model, cols, vals = self.model.predict(a)
        p_inc_cat = float(p_cat[_IS_INCIDENT].sum())
        p_inc = TYPE_MODEL_WEIGHT * p_inc_type_model + (1 - TYPE_MODEL_WEIGHT) * p_inc_cat
        inc_mass = max(p_inc_cat, 1e-12)
        req_mass = max(1.0 - p_inc_cat, 1e-12)
        joint = np.where(_IS_INCIDENT, p_cat / inc_mass * p_inc, p_cat / req_mass * (1.0 - p_inc))
        return joint / joint.sum(), p_inc, cols, vals

    def _evidence_words(self, a: Analysis, category: Category, cols: np.ndarray, vals: np.ndarray) -> list[str]:
        """Words that pushed the model towards `category`: lexicon cues first, else strongest features."""
        if a.cues.get(category.value):
            return list(a.cues[category.value])
        k = CATEGORIES.index(category)
        names = self.model.vectorizer.names
        contrib = vals * self.model.cat_coef[cols, k]
        best: list[str] = []
        for j in np.argsort(-contrib):
            name = names[cols[j]]
            if contrib[j] <= 0 or len(best) >= 2:
                break
            if name.startswith("w:") and " " not in name:
                stem = name[2:]
                word = next((t for t, s in zip(a.tokens, a.stems, strict=True) if s == stem), stem)
                if word not in best:
                    best.append(word)
        return best

    def classify(
        self,
        text: str,
        *,
        impact: Impact | None = None,
        urgency: Urgency | None = None,
        ticket_type: TicketType | None = None,
        category: Category | None = None,
    ) -> TriageResult:
        """Classify a ticket; answers the customer or an agent gave take precedence over the text."""
        a = analyze(text or "")
        joint, p_inc, cols, vals = self._scores(a)
        informative = self._informative(a)
        probabilities = joint.tolist()  # the floats float(joint[i]) gives, without a numpy scalar for each
        ranked = [(CATEGORIES[i], probabilities[i]) for i in np.argsort(-joint).tolist()]

        if category is not None:
            category = Category(category)
            chosen, confidence, type_confidence, how = category, 1.0, 1.0, "chosen by a person"
            ranked = [(category, dict(ranked)[category])] + [(c, p) for c, p in ranked if c != category]
        elif ticket_type is not None:
            allowed = categories_of(TicketType(ticket_type))
            within = [(c, p) for c, p in ranked if c in allowed]
            total = sum(p for _, p in within) or 1.0
            chosen, confidence = within[0][0], within[0][1] / total
            type_confidence, how = 1.0, "type given by the customer"
        else:
            chosen, confidence = ranked[0]
            type_confidence = p_inc if chosen.ticket_type == TicketType.INCIDENT else 1.0 - p_inc
            how = ""
            if not informative:  # nothing to go on: say so, so the intake asks
                type_confidence = min(type_confidence, _VAGUE_TYPE_CONFIDENCE)
                confidence = min(confidence, _VAGUE_TYPE_CONFIDENCE)

        impact_inferred, urgency_inferred = impact is None, urgency is None
        impact_cue = urgency_cue = None
        if impact is None:
            impact, impact_cue = infer_impact(a.normalized)
        if urgency is None:
            urgency, urgency_cue = infer_urgency(a.normalized, chosen)
        impact, urgency = Impact(impact), Urgency(urgency)
        priority = priority_for(impact, urgency, chosen)

        ttype = chosen.ticket_type
        cat_words = [a.own_words(w) for w in self._evidence_words(a, chosen, cols, vals)]
        type_words = [w for w in (a.own_words(w) for w in a.cues.get(ttype.value, ())) if w not in cat_words]
        impact_cue = a.own_words(impact_cue) if impact_cue else None
        urgency_cue = a.own_words(urgency_cue) if urgency_cue else None
        if how:
            reason = f"{ttype.value} ({how})" + (f": {_quote(cat_words)}" if cat_words else "")
        elif not informative:
            reason = f"{ttype.value}: no clear cue words, best guess"
        else:
            cues = " + ".join(x for x in (_quote(type_words, 1), _quote(cat_words)) if x)
            reason = f"{ttype.value}: {cues}" if cues else f"{ttype.value}: overall wording"
        prio = explain_priority(impact, urgency, chosen)
        if impact_cue:
            prio = prio.replace(f"impact {IMPACT_WORDS[impact]}", f"impact {IMPACT_WORDS[impact]} ('{impact_cue}')", 1)
        if urgency_cue:
            prio = prio.replace(
                f"urgency {URGENCY_WORDS[urgency]}", f"urgency {URGENCY_WORDS[urgency]} ('{urgency_cue}')", 1
            )
        explanation = f"{reason} → {chosen.value}; {prio}"
        return TriageResult(
            ticket_type=ttype,
            category=chosen,
            priority=priority,
            impact=impact,
            urgency=urgency,
            confidence=float(confidence),
            type_confidence=float(type_confidence),
            explanation=explanation,
            ranked_categories=tuple(ranked),
            impact_inferred=impact_inferred,
            urgency_inferred=urgency_inferred,
        )

    def is_doubtful(self, result: TriageResult) -> bool:
        """Low confidence in incident vs request: the intake should ask the customer."""
        return result.type_confidence < DOUBT_THRESHOLD


_instance: Triage | None = None
_lock = threading.Lock()


def get_triage(cache_dir: Path | None = None) -> Triage:
    """The process-wide Triage, loaded on first use (the model cached in `cache_dir`: TRIAGE_CACHE_DIR)."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = Triage.load(cache_dir=cache_dir)
    return _instance
