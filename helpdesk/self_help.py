"""Self-help, counted: what customers do with the articles offered before the form, and the articles
agents send.

The intake's offer of articles (dialogs/article_offers.py) records here what customers do with it:
offered, opened, "This solved it" (a deflection: nothing was registered) and "I still need help"; an
article sent with `/kb N NAME` (helpdesk/agent_articles.py) is counted too. /stats and
`python -m bot report` count them (storage/reports.py). The rows name no person.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.clock import now_utc
from storage.models import SelfHelpEvent

OFFERED = "offered"  # articles were offered before the form
OPENED = "opened"  # the customer opened one
SOLVED = "solved"  # "This solved it": the intake ended with nothing registered
STILL_NEEDED = "still_needed"  # "I still need help": the form went on
SENT = "sent"  # an agent sent one to a ticket's customer (/kb N NAME)
KINDS = (OFFERED, OPENED, SOLVED, STILL_NEEDED, SENT)


def record(session: AsyncSession, kind: str, *, article: str | None = None, lang: str | None = None) -> None:
    """Count one self-help event, in the caller's transaction."""
    session.add(SelfHelpEvent(at=now_utc(), kind=kind, article=article, language=lang))
