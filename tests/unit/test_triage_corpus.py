"""The training corpus: well-formed, balanced, and free of the evaluation sample (no leakage)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from helpdesk.triage.model import CORPUS_DIR, HELDOUT_PREFIX, corpus_files, load_corpus, read_jsonl
from helpdesk.vocabulary import Category

DEV = Path(__file__).resolve().parents[1] / "data" / "classify_dev.jsonl"


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower().replace("ё", "е")).strip()


def test_corpus_is_large_and_balanced() -> None:
    examples = load_corpus()
    assert len(examples) >= 1200
    counts = Counter(e.category for e in examples)
    assert set(counts) == set(Category)
    assert min(counts.values()) >= 50, counts


def test_corpus_has_both_languages_per_category() -> None:
    examples = load_corpus()
    for category in Category:
        texts = [e.text for e in examples if e.category == category]
        cyrillic = sum(bool(re.search("[а-яА-Я]", t)) for t in texts)
        assert cyrillic >= 20 and len(texts) - cyrillic >= 20, category


def test_every_file_parses_with_consistent_labels() -> None:
    for path in CORPUS_DIR.glob("*.jsonl"):
        assert read_jsonl(path), path
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert set(row) == {"text", "type", "category"}


def test_heldout_files_are_not_trained_on() -> None:
    assert all(not p.name.startswith(HELDOUT_PREFIX) for p in corpus_files())


def test_no_dev_sample_sentence_in_corpus() -> None:
    dev = {_key(json.loads(line)["text"]) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()}
    for path in CORPUS_DIR.glob("*.jsonl"):
        for example in read_jsonl(path):
            assert _key(example.text) not in dev, (path.name, example.text)
