"""How well the matcher offers articles, on a labelled file of questions ({"text", "article"}).

`article` names the article that answers the question, or is null when none does (an unrelated
problem). Three figures, the ones docs/self-help.md promises:

* first-offer precision — of the answerable questions that got an offer, how often the first is right;
* recall — of the answerable questions, how often the right article came first;
* unrelated offer rate — of the questions no article answers, how often something was offered anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpdesk.knowledge.articles import KnowledgeBase
from helpdesk.knowledge.matcher import ArticleMatcher
from helpdesk.triage.model import text_rows


class QuestionsError(ValueError):
    """A malformed questions file; the message is one line naming the file and line."""


@dataclass(frozen=True)
class Question:
    text: str
    article: str | None


@dataclass(frozen=True)
class Outcome:
    question: Question
    offered: tuple[str, ...]

    @property
    def right_first(self) -> bool:
        return bool(self.offered) and self.offered[0] == self.question.article


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True)
class Evaluation:
    outcomes: tuple[Outcome, ...]

    @property
    def answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.article is not None]

    @property
    def unrelated(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.article is None]

    @property
    def right_first(self) -> int:
        return sum(o.right_first for o in self.answerable)

    @property
    def answerable_offered(self) -> int:
        return sum(bool(o.offered) for o in self.answerable)

    @property
    def unrelated_offered(self) -> int:
        return sum(bool(o.offered) for o in self.unrelated)

    @property
    def precision(self) -> float:
        return _ratio(self.right_first, self.answerable_offered)

    @property
    def recall(self) -> float:
        return _ratio(self.right_first, len(self.answerable))

    @property
    def unrelated_offer_rate(self) -> float:
        return _ratio(self.unrelated_offered, len(self.unrelated))


def read_questions(path: Path, knowledge: KnowledgeBase) -> list[Question]:
    """The labelled questions; QuestionsError names the line of a missing label or an unknown article."""
    out: list[Question] = []
    try:
        for lineno, row in text_rows(path):
            if "article" not in row:
                raise QuestionsError(f'{path}:{lineno}: needs an "article" (an article name, or null)')
            article = row["article"]
            if article is not None and not isinstance(article, str):
                raise QuestionsError(f'{path}:{lineno}: "article" must be a name or null')
            if article is not None and knowledge.get(article) is None:
                raise QuestionsError(f"{path}:{lineno}: no article {article!r} in the knowledge base")
            out.append(Question(row["text"], article.strip().lower() if article else None))
    except OSError as exc:
        raise QuestionsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except QuestionsError:
        raise
    except ValueError as exc:
        raise QuestionsError(str(exc)) from None
    if not out:
        raise QuestionsError(f"{path}: no questions")
    return out


def evaluate(matcher: ArticleMatcher, questions: list[Question]) -> Evaluation:
    """Offer articles for every question as the bot would for a first description."""
    return Evaluation(tuple(Outcome(q, tuple(offer.name for offer in matcher.offers(q.text))) for q in questions))
