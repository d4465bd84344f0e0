"""Triage: type, category, impact, urgency, priority and SLA inputs from a customer's own words.

Offline and fast: a linear model over stemmed words, character n-grams and hand-written cue lexicons,
trained on the corpus in ``corpus/`` and cached as plain arrays. See docs/triage.md.
"""

from helpdesk.triage.engine import DOUBT_THRESHOLD, Triage, TriageResult, get_triage

__all__ = ["DOUBT_THRESHOLD", "Triage", "TriageResult", "get_triage"]
