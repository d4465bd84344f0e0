"""`python -m bot classify` and `python -m bot eval`: triage from the command line, for operators.

classify prints one JSON object per text; eval measures the classifier on a labelled JSONL file
(like tests/data/classify_dev.jsonl or the agents' corrections export) so an operator can check it on
their own tickets before trusting it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from helpdesk.triage import get_triage
from helpdesk.triage.model import text_rows
from helpdesk.vocabulary import Category, Impact, TicketType, Urgency

_SHORT = {c: c.value[:4] for c in Category}
_PROGRESS_FROM = 200  # lines; smaller files finish before a progress bar is worth drawing


class InputError(ValueError):
    """A malformed input file; the message is one line naming the file and line."""


@dataclass(frozen=True)
class Labelled:
    text: str
    ticket_type: TicketType
    category: Category | None


def _rows(path: pathlib.Path) -> Iterator[tuple[int, dict[str, object]]]:
    try:
        yield from text_rows(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _enum(path: pathlib.Path, lineno: int, row: dict[str, object], key: str, kind: type) -> object | None:
    value = row.get(key)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InputError(f"{path}:{lineno}: {key} {value!r} is not one of: {allowed}") from None


def read_labelled(path: pathlib.Path) -> list[Labelled]:
    """Rows with "text" and "category" and/or "type"; a type contradicting the category is an error."""
    out: list[Labelled] = []
    for lineno, row in _rows(path):
        category = _enum(path, lineno, row, "category", Category)
        ticket_type = _enum(path, lineno, row, "type", TicketType)
        if category is None and ticket_type is None:
            raise InputError(f'{path}:{lineno}: needs a "category" or a "type" label')
        if category is not None and ticket_type is not None and category.ticket_type != ticket_type:
            raise InputError(f"{path}:{lineno}: type {ticket_type.value!r} contradicts category {category.value!r}")
        out.append(Labelled(row["text"], ticket_type or category.ticket_type, category))  # type: ignore[union-attr, arg-type]
    if not out:
        raise InputError(f"{path}: no labelled rows")
    return out


def _progress(items: list, desc: str) -> Iterable:
    from tqdm import tqdm

    return tqdm(items, desc=desc, file=sys.stderr, disable=len(items) < _PROGRESS_FROM, unit="text")


def _reader_gone() -> int:
    """stdout was closed by the reader (`| head`): stop quietly, as Unix tools do."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def classify_main(texts: list[str], jsonl: pathlib.Path | None) -> int:
    """Print one JSON object per text (command-line texts first, then the file's lines)."""
    try:
        return _classify(texts, jsonl)
    except BrokenPipeError:
        return _reader_gone()


def _classify(texts: list[str], jsonl: pathlib.Path | None) -> int:
    triage = get_triage()
    jobs: list[tuple[str, dict[str, object]]] = [(t, {}) for t in texts]
    if jsonl is not None:
        try:
            for lineno, row in _rows(jsonl):
                answers = {
                    "impact": _enum(jsonl, lineno, row, "impact", Impact),
                    "urgency": _enum(jsonl, lineno, row, "urgency", Urgency),
                }
                jobs.append((row["text"], {k: v for k, v in answers.items() if v is not None}))  # type: ignore[misc]
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for text, answers in _progress(jobs, "classify"):
        result = triage.classify(text, **answers)  # type: ignore[arg-type]
        print(json.dumps({"text": text, **result.as_json()}, ensure_ascii=False), flush=False)
    sys.stdout.flush()
    return 0


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    )


def per_class(pairs: list[tuple[Category, Category]]) -> dict[Category, tuple[float, float, float, int]]:
    """Category → (precision, recall, F1, support) from (expected, predicted) pairs."""
    out = {}
    for c in Category:
        tp = sum(1 for e, p in pairs if e == c and p == c)
        predicted = sum(1 for _, p in pairs if p == c)
        support = sum(1 for e, _ in pairs if e == c)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = (precision, recall, f1, support)
    return out


def eval_main(path: pathlib.Path) -> int:
    """Print type and category accuracy, a per-class table and a confusion matrix; 2 on a bad file."""
    try:
        return _eval(path)
    except BrokenPipeError:
        return _reader_gone()


def _eval(path: pathlib.Path) -> int:
    try:
        rows = read_labelled(path)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    triage = get_triage()
    type_ok = 0
    pairs: list[tuple[Category, Category]] = []
    for row in _progress(rows, "eval"):
        result = triage.classify(row.text)
        type_ok += result.ticket_type == row.ticket_type
        if row.category is not None:
            pairs.append((row.category, result.category))
    n = len(rows)
    print(f"examples: {n}")
    print(f"type accuracy: {type_ok / n:.3f} ({type_ok}/{n})")
    if not pairs:
        print("category accuracy: n/a (no category labels)")
        return 0
    cat_ok = sum(1 for e, p in pairs if e == p)
    print(f"category accuracy: {cat_ok / len(pairs):.3f} ({cat_ok}/{len(pairs)})")
    print()
    stats = per_class(pairs)
    table = [["category", "precision", "recall", "f1", "support"]]
    for c, (p, r, f, s) in stats.items():
        table.append([c.value, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(s)])
    present = [v for v in stats.values() if v[3]]
    macro = [sum(v[i] for v in present) / len(present) for i in range(3)]
    table.append(["macro avg", *(f"{x:.3f}" for x in macro), str(len(pairs))])
    print(_table(table))
    print()
    print("confusion matrix (rows: expected, columns: predicted)")
    matrix = [["", *(_SHORT[c] for c in Category)]]
    for e in Category:
        matrix.append([e.value, *(str(sum(1 for x, p in pairs if x == e and p == c) or ".") for c in Category)])
    print(_table(matrix))
    return 0
