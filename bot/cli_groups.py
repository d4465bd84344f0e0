"""`python -m bot eval-groups`: how well incident reports are grouped into outages, on a labelled file.

For operators checking the grouping on their own tickets (lines {"text", "group"[, "service"]}, "none"
for a report that belongs to no outage) before trusting the major-incident proposals; see
docs/major-incidents.md.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from bot.cli_triage import _reader_gone
from helpdesk.outages.evaluation import LabelledReport, group_in_arrival_order, pairwise_quality, read_labelled_reports
from helpdesk.triage import get_triage


def eval_groups_main(path: Path, *, jsonl: bool = False) -> int:
    """Print the pairwise quality (or, with `jsonl`, each report's group); 2 on a missing or bad file."""
    try:
        rows = read_labelled_reports(path)
    except OSError as exc:
        print(f"error: {path}: cannot read ({exc.strerror or exc})", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    triage = get_triage()
    clusters = group_in_arrival_order(rows, lambda text: triage.classify(text).category)
    try:
        if jsonl:
            for row, cluster in zip(rows, clusters, strict=True):
                print(json.dumps({"text": row.text, "cluster": cluster}, ensure_ascii=False))
        else:
            _summary(rows, clusters)
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return 0


def _summary(rows: list[LabelledReport], clusters: list[int | None]) -> None:
    quality = pairwise_quality([r.group for r in rows], clusters)
    labels = Counter(r.group for r in rows if r.group is not None)
    unrelated = sum(1 for r in rows if r.group is None)
    stray = sum(1 for r, c in zip(rows, clusters, strict=True) if r.group is None and c is not None)
    print(f"reports: {len(rows)} ({len(rows) - unrelated} in {len(labels)} labelled outages, {unrelated} unrelated)")
    print(f"groups formed: {len(set(c for c in clusters if c is not None))}")
    print(
        f"pairwise precision: {quality.precision:.3f} "
        f"({quality.correct_pairs}/{quality.predicted_pairs} pairs grouped together share a label)"
    )
    print(
        f"pairwise recall:    {quality.recall:.3f} "
        f"({quality.correct_pairs}/{quality.true_pairs} pairs sharing a label were grouped together)"
    )
    print(f"pairwise F1:        {quality.f1:.3f}")
    print(f"unrelated reports put in a group: {stray}/{unrelated}")
    if not labels:
        return
    print()
    width = max(len("label"), *(len(g) for g in labels))
    print(f"{'label':<{width}}  reports  in its main group  groups")
    for label in sorted(labels):
        own = [c for r, c in zip(rows, clusters, strict=True) if r.group == label]
        placed = Counter(c for c in own if c is not None)
        main = placed.most_common(1)[0][1] if placed else 0
        print(f"{label:<{width}}  {len(own):>7}  {main:>17}  {len(placed):>6}")
