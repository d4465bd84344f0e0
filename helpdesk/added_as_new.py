"""A message that went to an open ticket but was meant as a new request.

"✅ Added to INC-…" carries the start menu's "📝 New request" button (docs/customer-messages.md). Pressed
under the confirmation of the customer's latest added message, the new request starts with that message
as its description (or first attachment), not with an empty form asking for what they just wrote; an
older confirmation's button starts an empty form, as the start menu's does. The message stays in the
first ticket's history, where the staff already read it.
"""

from __future__ import annotations

from helpdesk import callbacks
from helpdesk.content import Content
from storage.models import Customer

#: in customer.pending: the latest message added to a ticket ({"message": its id, "content": ...})
ADDED_KEY = "added"


def remember(customer: Customer, content: Content) -> str:
    """Keep the added message for its confirmation's "New request" button; the button's data."""
    if content.message_id is None or content.album is not None or content.is_empty:
        return callbacks.make(callbacks.MENU, "new")  # an album's parts arrive apart: an empty form
    customer.pending = {
        **(customer.pending or {}),
        ADDED_KEY: {"message": content.message_id, "content": content.as_data()},
    }
    return callbacks.make(callbacks.MENU, "new", content.message_id)


def take(customer: Customer, message_id: int | None) -> Content | None:
    """The added message the pressed button was for, once (None: an older confirmation, or none)."""
    kept = (customer.pending or {}).get(ADDED_KEY)
    if message_id is None or not isinstance(kept, dict) or kept.get("message") != message_id:
        return None
    customer.pending = {k: v for k, v in (customer.pending or {}).items() if k != ADDED_KEY}
    content = kept.get("content")
    return Content.of_data(content) if isinstance(content, dict) else None
