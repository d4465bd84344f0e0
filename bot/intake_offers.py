"""What the intake offers before the form, in one place for the chat and the console: a known outage
first (people already hit by it should not read articles about it), then self-help articles when
KB_DIR has any (dialogs/offers.py runs them; docs/self-help.md)."""

from __future__ import annotations

import logging
from typing import Any

from bot.startup import StartupError
from dialogs.article_offers import ArticleOffers
from dialogs.known_outage_offer import KnownOutageOffers
from dialogs.offers import OfferProvider
from helpdesk.knowledge import ArticleMatcher, KnowledgeBase, KnowledgeBaseError
from helpdesk.policy import DeskPolicy

log = logging.getLogger(__name__)

#: the matchers built so far: (knowledge base, triage, matcher); indexing takes ~0.1 s, so once per process
_matchers: list[tuple[KnowledgeBase, Any, ArticleMatcher]] = []


def article_matcher(knowledge: KnowledgeBase, triage: Any) -> ArticleMatcher:
    """The matcher over `knowledge` with `triage`'s vocabulary, built on first use and kept."""
    for known, known_triage, matcher in _matchers:
        if known is knowledge and known_triage is triage:
            return matcher
    matcher = ArticleMatcher(knowledge, triage)
    _matchers.append((knowledge, triage, matcher))
    del _matchers[:-4]  # tests build a few desks; a process has one
    return matcher


def offer_providers(policy: DeskPolicy, triage: Any) -> list[OfferProvider]:
    """The offer providers, in the order the customer sees their offers."""
    providers: list[OfferProvider] = [KnownOutageOffers(triage, policy)]
    if policy.knowledge:
        providers.append(ArticleOffers(article_matcher(policy.knowledge, triage)))
    return providers


def load_self_help(policy: DeskPolicy) -> KnowledgeBase:
    """At start: read KB_DIR, so a malformed article stops the start with one line naming it (exit 2).
    An empty folder is logged: the desk runs without self-help, and /kb says there are no articles."""
    try:
        knowledge = policy.knowledge
    except KnowledgeBaseError as exc:
        raise StartupError(f"KB_DIR: {exc}") from None
    if knowledge:
        log.info("self-help: %d articles from %s", len(knowledge), knowledge.directory)
    elif policy.kb_dir:
        log.warning("KB_DIR %s has no articles (NAME.en.md and NAME.ru.md): no self-help is offered", policy.kb_dir)
    return knowledge
