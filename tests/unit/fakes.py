"""Small deterministic stand-ins for unit tests of the dialog (the real triage is tested on its own)."""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.priority import explain_priority, priority_for
from helpdesk.vocabulary import Category, Impact, Priority, TicketType, Urgency


@dataclass(frozen=True)
class FakeResult:
    ticket_type: TicketType
    category: Category
    priority: Priority
    impact: Impact
    urgency: Urgency
    confidence: float
    type_confidence: float
    explanation: str
    ranked_categories: tuple[tuple[Category, float], ...]


class KeywordTriage:
    """printer → hardware, how → consultation, install → provisioning; 'help' alone is doubtful."""

    def classify(self, text, *, impact=None, urgency=None, ticket_type=None, category=None):
        lowered = text.lower()
        if category is None:
            if "how" in lowered or "как" in lowered:
                category = Category.CONSULTATION
            elif "install" in lowered or "установ" in lowered:
                category = Category.PROVISIONING
            elif "internet" in lowered or "инет" in lowered:
                category = Category.NETWORK
            else:
                category = Category.HARDWARE
            if ticket_type is not None and category.ticket_type != ticket_type:
                category = Category.PROVISIONING if ticket_type == TicketType.SERVICE_REQUEST else Category.SOFTWARE
        impact = impact or Impact.INDIVIDUAL
        urgency = urgency or Urgency.DEGRADED
        ranked = (category, *(c for c in Category if c != category))
        return FakeResult(
            category.ticket_type,
            category,
            priority_for(impact, urgency, category),
            impact,
            urgency,
            0.3 if "help" in lowered else 0.9,
            0.3 if "help" in lowered else 0.95,
            f"{category.value}; " + explain_priority(impact, urgency, category),
            tuple((c, 1.0 / (i + 1)) for i, c in enumerate(ranked)),
        )

    def is_doubtful(self, result) -> bool:
        return result.type_confidence < 0.5
