"""`python -m bot eval-kb FILE.jsonl --kb DIR`: how well self-help articles are offered, for operators.

Prints first-offer precision, recall and the offer rate on unrelated texts for a labelled file
({"text", "article"}, null where no article answers); with --jsonl, one {"text", "offered"} per line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.cli_triage import _reader_gone
from helpdesk.knowledge.articles import KnowledgeBaseError, load_knowledge_base
from helpdesk.knowledge.evaluation import Evaluation, QuestionsError, evaluate, read_questions
from helpdesk.knowledge.matcher import READY_THRESHOLD, THRESHOLD, ArticleMatcher
from helpdesk.triage import get_triage


def _report(result: Evaluation) -> None:
    answerable, unrelated = len(result.answerable), len(result.unrelated)
    print(f"questions: {answerable + unrelated} ({answerable} answered by an article, {unrelated} unrelated)")
    print(
        f"first offered article right: {result.precision:.3f} "
        f"({result.right_first}/{result.answerable_offered} answerable questions that got an offer)"
    )
    print(f"recall (right article offered first): {result.recall:.3f} ({result.right_first}/{answerable})")
    print(
        f"unrelated texts offered an article: {result.unrelated_offer_rate:.3f} "
        f"({result.unrelated_offered}/{unrelated})"
    )
    print(f"threshold: {THRESHOLD:.2f} (consultation and information requests: {READY_THRESHOLD:.2f})")


def eval_kb_main(path: Path, kb_dir: Path, as_jsonl: bool = False) -> int:
    """0 after printing; 2 with one `error:` line for a bad file or knowledge base."""
    try:
        knowledge = load_knowledge_base(kb_dir)
        if not knowledge:
            raise KnowledgeBaseError(f"{kb_dir}: no articles (NAME.en.md and NAME.ru.md files)")
        questions = read_questions(path, knowledge)
    except KnowledgeBaseError as exc:
        print(f"error: --kb {exc}", file=sys.stderr)
        return 2
    except QuestionsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluate(ArticleMatcher(knowledge, get_triage()), questions)
    try:
        if as_jsonl:
            for outcome in result.outcomes:
                print(json.dumps({"text": outcome.question.text, "offered": list(outcome.offered)}, ensure_ascii=False))
        else:
            _report(result)
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return 0
