"""Self-help: knowledge-base articles from KB_DIR, and which of them to offer for a first description.

See docs/self-help.md. Domain code: no Telegram, no database.
"""

from helpdesk.knowledge.articles import Article, KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from helpdesk.knowledge.matcher import ArticleMatcher, Offer, self_help_fits

__all__ = [
    "Article",
    "ArticleMatcher",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Offer",
    "load_knowledge_base",
    "self_help_fits",
]
