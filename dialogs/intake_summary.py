"""The intake's summary: everything a customer answered, shown once more before they confirm."""

from __future__ import annotations

from dialogs.form_data import DraftState
from helpdesk.i18n import t
from helpdesk.vocabulary import Category, TicketType


def summary_text(draft: DraftState, lang: str) -> str:
    """The answers so far, for the customer to check before Confirm."""
    a = draft.answers
    none = t(lang, "intake.summary_none")
    is_request = a.get("ticket_type") == TicketType.SERVICE_REQUEST
    urgency = a.get("urgency")
    return t(
        lang,
        "intake.summary",
        type=t(lang, f"type.{a.get('ticket_type', TicketType.INCIDENT)}"),
        category=t(lang, f"category.{a.get('category', Category.SOFTWARE)}"),
        description=a.get("description", ""),
        service=a.get("service") or none,
        impact=t(lang, f"impact.{a['impact']}") if a.get("impact") else none,
        urgency=t(lang, f"{'urgency_request' if is_request else 'urgency'}.{urgency}") if urgency else none,
        attachments=str(len(draft.attachments)) if draft.attachments else none,
        contact=a.get("contact") or none,
    )
