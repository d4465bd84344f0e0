"""Self-help before the form: up to three knowledge-base articles for a first description.

An offer provider (dialogs/offers.py). The list screen has a button per article, titled in the reader's
language, and "I still need help"; opening an article shows it (split into messages when long) with
"This solved it" (the intake ends, nothing registered: a deflection), "I still need help" (the form goes
on with the description already typed) and, when more than one was offered, "Other articles". Which
articles, and whether to offer any, is the matcher's decision (helpdesk/knowledge/matcher.py).
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs.form_data import Choice
from dialogs.offers import SHOWN, Decision, OfferEvent, OfferRequest, OfferView, Settlement, Verdict
from helpdesk import self_help
from helpdesk.i18n import t
from helpdesk.knowledge import Article, ArticleMatcher
from storage.models import Customer

OPEN = "open."  # + the article's name: show it
SOLVED = "solved"
STILL_NEED_HELP = "help"
LIST = "list"


class ArticleOffers:
    """The knowledge base as an offer before the form."""

    name = "articles"

    def __init__(self, matcher: ArticleMatcher) -> None:
        self.matcher = matcher
        self.knowledge = matcher.knowledge

    async def prepare(self, session: AsyncSession) -> Any:
        return None  # the articles are read at start

    def propose(self, request: OfferRequest) -> dict[str, Any] | None:
        offers = self.matcher.offers(request.description, request.triage)
        if not offers:
            return None
        return {"articles": [offer.name for offer in offers], "open": None}

    def _articles(self, state: dict[str, Any]) -> list[Article]:
        """The offered articles still in the knowledge base, best first."""
        return [a for name in state.get("articles", []) if (a := self.knowledge.get(str(name))) is not None]

    def view(self, state: dict[str, Any], lang: str) -> OfferView | None:
        articles = self._articles(state)
        if not articles:
            return None
        still = (Choice(STILL_NEED_HELP, t(lang, "self_help.still_need_help")),)
        opened = self.knowledge.get(str(state["open"])) if state.get("open") else None
        if opened is None:
            titles = tuple((Choice(OPEN + a.name, "📄 " + a.title(lang)),) for a in articles)
            return OfferView(t(lang, "self_help.offer", count=len(articles)), (*titles, still))
        rows: tuple[tuple[Choice, ...], ...] = ((Choice(SOLVED, t(lang, "self_help.solved_button")),), still)
        if len(articles) > 1:
            rows = (*rows, (Choice(LIST, t(lang, "self_help.other_articles")),))
        return OfferView(t(lang, "self_help.did_it_help"), rows, tuple(opened.messages(lang)), back=False)

    def choose(self, state: dict[str, Any], value: str, lang: str) -> Decision:
        offered = {a.name for a in self._articles(state)}
        opened = state.get("open")
        if value.startswith(OPEN) and value.removeprefix(OPEN) in offered:
            name = value.removeprefix(OPEN)
            return Decision(Verdict.SHOW, {**state, "open": name}, event=self_help.OPENED)
        if value == STILL_NEED_HELP:
            return Decision(Verdict.DECLINED, event=self_help.STILL_NEEDED, note=t(lang, "self_help.go_on"))
        if value == SOLVED and opened in offered:
            return Decision(Verdict.ACCEPTED, event=self_help.SOLVED, note=t(lang, "self_help.solved"))
        if value == LIST and opened is not None:
            return Decision(Verdict.SHOW, {**state, "open": None})
        return Decision(Verdict.INVALID)

    async def record(self, session: AsyncSession, customer: Customer, event: OfferEvent) -> Settlement | None:
        if event.kind == SHOWN:
            self_help.record(session, self_help.OFFERED, lang=event.lang)
        else:
            self_help.record(session, event.kind, article=event.state.get("open"), lang=event.lang)
        return None  # "This solved it" ends with the decision's note: nothing is registered
