"""Grouping quality on a labelled file: reports placed one by one in file order, then pairwise precision
and recall against the labels.

A line is ``{"text", "group"[, "service"][, "category"]}``; "none" (or null) is a report that belongs to
no outage. Two reports form a predicted pair when they end up in one group, a true pair when they
carry the same label other than "none". Reports arrive in file order, all within one detection window,
and are placed exactly as the live detector places them (placement.place_report): a report joins the
group of its best-matching grouped report, or forms a group with the ungrouped reports it matches.
Without a "category", the triage's category is used, as it is for a live ticket.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

from helpdesk.outages.placement import OpenIncident, place_report
from helpdesk.outages.profile import profile_report
from helpdesk.triage.model import text_rows
from helpdesk.vocabulary import Category

NO_GROUP = "none"


@dataclass(frozen=True)
class LabelledReport:
    text: str
    group: str | None  # None: belongs to no outage
    service: str | None = None
    category: Category | None = None


@dataclass(frozen=True)
class PairwiseQuality:
    precision: float
    recall: float
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _optional_str(path: Path, lineno: int, row: dict, key: str) -> str | None:
    value = row.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise ValueError(f'{path}:{lineno}: "{key}" must be a string')


def read_labelled_reports(path: Path) -> list[LabelledReport]:
    """The file's reports in order; ValueError names the file and line of the first bad one (OSError when
    the file cannot be read)."""
    out: list[LabelledReport] = []
    for lineno, row in text_rows(path):
        if "group" not in row:
            raise ValueError(f'{path}:{lineno}: needs a "group" label ("none" for no outage)')
        group = _optional_str(path, lineno, row, "group")
        category = _optional_str(path, lineno, row, "category")
        try:
            category_value = Category(category) if category else None
        except ValueError:
            allowed = ", ".join(c.value for c in Category)
            raise ValueError(f"{path}:{lineno}: category {category!r} is not one of: {allowed}") from None
        service = _optional_str(path, lineno, row, "service")
        out.append(LabelledReport(row["text"], None if group in (None, NO_GROUP) else group, service, category_value))
    if not out:
        raise ValueError(f"{path}: no labelled rows")
    return out


def group_in_arrival_order(
    reports: Sequence[LabelledReport], categorize: Callable[[str], Category | None] | None = None
) -> list[int | None]:
    """The group number (1, 2, … in order of forming) each report ends up in, None for no group."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    incidents: list[OpenIncident] = []
    clusters: list[int | None] = []
    formed = 0
    for i, report in enumerate(reports):
        category = report.category or (categorize(report.text) if categorize else None)
        profile = profile_report(report.text, service=report.service, category=category)
        placement = place_report(profile, incidents)
        if placement.group is not None:
            cluster = placement.group
        elif placement.companions:
            formed += 1
            cluster = formed
            for companion in placement.companions:
                j = companion.key
                clusters[j] = cluster
                incidents[j] = OpenIncident(j, companion.profile, companion.created_at, cluster)
        else:
            cluster = None
        clusters.append(cluster)  # type: ignore[arg-type]
        incidents.append(OpenIncident(i, profile, start + timedelta(seconds=i), cluster))
    return clusters


def _pairs(labels: Sequence[object | None]) -> set[tuple[int, int]]:
    members: dict[object, list[int]] = {}
    for i, label in enumerate(labels):
        if label is not None:
            members.setdefault(label, []).append(i)
    return {pair for ids in members.values() for pair in combinations(ids, 2)}


def pairwise_quality(labels: Sequence[str | None], clusters: Sequence[int | None]) -> PairwiseQuality:
    """Precision: of the pairs put in one group, how many share a label; recall: of the pairs sharing a
    label, how many were put in one group. With no pairs on a side, that side scores 1.0."""
    truth, predicted = _pairs(labels), _pairs(clusters)
    correct = len(truth & predicted)
    precision = correct / len(predicted) if predicted else 1.0
    recall = correct / len(truth) if truth else 1.0
    return PairwiseQuality(precision, recall, len(predicted), len(truth), correct)


def group_sizes(clusters: Sequence[int | None]) -> Counter[int]:
    return Counter(c for c in clusters if c is not None)
