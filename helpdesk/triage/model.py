"""The trained linear model: corpus loading, training, and a version-keyed cache of plain arrays.

Training from the corpus takes about a second, so a cache makes start-up fast; it holds only numpy
arrays and strings (no pickle), is keyed by the corpus, the feature code and the library versions,
and anything wrong with it (missing, stale, unreadable, read-only disk) falls back to training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from helpdesk.triage.augment import augment
from helpdesk.triage.features import Analysis, Vectorizer, analyze
from helpdesk.vocabulary import INCIDENT_CATEGORIES, Category, TicketType

log = logging.getLogger(__name__)

CORPUS_DIR = Path(__file__).with_name("corpus")
HELDOUT_PREFIX = "heldout"  # corpus files never trained on: our own generalisation check
CATEGORIES: tuple[Category, ...] = tuple(Category)
_IS_INCIDENT = np.array([c in INCIDENT_CATEGORIES for c in CATEGORIES])
_SOURCES = ("normalize.py", "lexicons.py", "features.py", "augment.py", "model.py")
FORMAT_VERSION = 1
C_CATEGORY = 50.0
C_TYPE = 20.0
SOLVER = "saga"  # fastest to train on our sparse, small corpus; same accuracy as lbfgs
TOL = 1e-3
AUGMENT = True  # train also on transliterated and misspelled variants (augment.py)
AUGMENT_WEIGHT = 0.5


@dataclass(frozen=True)
class Example:
    text: str
    category: Category

    @property
    def ticket_type(self) -> TicketType:
        return self.category.ticket_type


def text_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSONL file of {"text": ...} objects; ValueError
    names the file and line of the first malformed one (OSError when the file cannot be opened)."""
    with path.open(encoding="utf-8") as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                    raise ValueError(f'{path}:{lineno}: expected a JSON object with a string "text"')
                yield lineno, row
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text") from None


def read_jsonl(path: Path) -> list[Example]:
    """Labelled examples from a JSONL file ({"text", "category"[, "type"]}); ValueError names the line."""
    out: list[Example] = []
    for lineno, row in text_rows(path):
        try:
            category = Category(row.get("category"))
        except ValueError:
            raise ValueError(f"{path}:{lineno}: unknown category {row.get('category')!r}") from None
        if "type" in row and row["type"] != category.ticket_type.value:
            raise ValueError(f"{path}:{lineno}: type {row['type']!r} does not match category {category.value!r}")
        out.append(Example(row["text"], category))
    return out


def corpus_files(directory: Path = CORPUS_DIR) -> list[Path]:
    return sorted(p for p in directory.glob("*.jsonl") if not p.name.startswith(HELDOUT_PREFIX))


def load_corpus(directory: Path = CORPUS_DIR) -> list[Example]:
    return [ex for path in corpus_files(directory) for ex in read_jsonl(path)]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


class LinearModel:
    """Category softmax (12 classes) plus an incident-vs-request logistic model on the same features."""

    def __init__(
        self,
        vectorizer: Vectorizer,
        cat_coef: np.ndarray,
        cat_intercept: np.ndarray,
        type_coef: np.ndarray,
        type_intercept: float,
    ) -> None:
        self.vectorizer = vectorizer
        self.cat_coef = np.ascontiguousarray(cat_coef.T)  # features × classes: fast row gathering
        self.cat_intercept = cat_intercept
        self.type_coef = type_coef
        self.type_intercept = float(type_intercept)

    @classmethod
    def train(cls, examples: Sequence[Example]) -> LinearModel:
        from sklearn.linear_model import LogisticRegression

        texts = [ex.text for ex in examples]
        labels = [CATEGORIES.index(ex.category) for ex in examples]
        weights = [1.0] * len(texts)
        if AUGMENT:
            for i, variant in augment(texts):
                texts.append(variant)
                labels.append(labels[i])
                weights.append(AUGMENT_WEIGHT)
        analyses = [analyze(t) for t in texts]
        vectorizer = Vectorizer.fit(analyses[: len(examples)])  # vocabulary from real lines only
        x = vectorizer.transform(analyses)
        y_cat = np.array(labels)
        y_inc = _IS_INCIDENT[y_cat].astype(int)
        w = np.array(weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cat = LogisticRegression(C=C_CATEGORY, max_iter=500, tol=TOL, solver=SOLVER, random_state=0)
            cat.fit(x, y_cat, sample_weight=w)
            typ = LogisticRegression(C=C_TYPE, max_iter=500, tol=TOL, solver=SOLVER, random_state=0)
            typ.fit(x, y_inc, sample_weight=w)
        coef = np.zeros((len(CATEGORIES), x.shape[1]))
        intercept = np.full(len(CATEGORIES), -1e3)
        coef[cat.classes_] = cat.coef_
        intercept[cat.classes_] = cat.intercept_
        return cls(vectorizer, coef, intercept, typ.coef_[0], typ.intercept_[0])

    def predict(self, a: Analysis) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """(category probabilities in CATEGORIES order, P(incident) from the type model, cols, vals)."""
        cols, vals = self.vectorizer.transform_one(a)
        z_cat = vals @ self.cat_coef.take(cols, axis=0) + self.cat_intercept  # take: fancy indexing's rows, sooner
        z_type = float(vals @ self.type_coef.take(cols)) + self.type_intercept
        return _softmax(z_cat), 1.0 / (1.0 + np.exp(-z_type)), cols, vals

    # cache ---------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.fchmod(fd, 0o644)  # mkstemp makes it 0600: trained as root at build, it must load as the bot's user
        os.close(fd)
        try:
            np.savez(
                tmp,
                names=np.array(self.vectorizer.names, dtype=str),
                idf=self.vectorizer.idf,
                cat_coef=self.cat_coef.T,
                cat_intercept=self.cat_intercept,
                type_coef=self.type_coef,
                type_intercept=np.array([self.type_intercept]),
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as z:
            vectorizer = Vectorizer(z["names"].tolist(), z["idf"])
            return cls(vectorizer, z["cat_coef"], z["cat_intercept"], z["type_coef"], z["type_intercept"][0])


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def cache_key(directory: Path = CORPUS_DIR) -> str:
    """Corpus + feature code + library versions: any change retrains instead of loading stale arrays."""
    h = hashlib.sha256(f"v{FORMAT_VERSION}|{np.__version__}".encode())
    for dist in ("scikit-learn", "snowballstemmer", "scipy"):
        h.update(f"|{dist}={_version(dist)}".encode())
    here = Path(__file__).parent
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    for path in corpus_files(directory):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def cache_dir() -> Path:
    return Path(os.environ.get("TRIAGE_CACHE_DIR") or Path("data") / "cache")


def load_model(use_cache: bool = True, directory: Path | None = None) -> LinearModel:
    """The cached model (in `directory`, default `cache_dir()`) if it matches the corpus and code, else a
    freshly trained one (then cached)."""
    if not use_cache:
        return LinearModel.train(load_corpus())
    path = (directory or cache_dir()) / f"triage-{cache_key()}.npz"
    if path.exists():
        try:
            return LinearModel.load(path)
        except Exception as exc:  # a damaged cache must never stop the bot
            log.warning("triage cache %s unreadable (%s); retraining", path, exc)
    model = LinearModel.train(load_corpus())
    try:
        model.save(path)
    except OSError as exc:
        log.info("triage cache not written to %s (%s)", path, exc)
    return model
