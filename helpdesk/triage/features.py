"""Features of a ticket text: stemmed word n-grams, character n-grams and lexicon cue groups.

Three blocks, each L2-normalised on its own and weighted, so that the many character n-grams of a
long text do not drown the few words that matter:

* ``w:`` stemmed words and word bigrams (Snowball Russian/English) — the meaning;
* ``c:`` character 3–5-grams inside word boundaries — typos, odd inflections, transliteration leftovers;
* ``x:`` lexicon cue groups (lexicons.py) — one hand-written cue word in an unseen sentence still counts.

The vectoriser is plain Python + numpy so that a trained model can be cached as arrays and JSON,
never as a pickle tied to a library version.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, pairwise
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import snowballstemmer

from helpdesk.triage.lexicons import matches
from helpdesk.triage.normalize import normalize_aligned, words

if TYPE_CHECKING:
    from scipy import sparse
_RU = snowballstemmer.stemmer("russian")
_EN = snowballstemmer.stemmer("english")
_CYR = re.compile(r"[а-я]")
_STOP = words(
    """
    и в во на с со к ко по о об от до из у за для а но же ли бы то это этот эта эти мы вы он она они я
    мне меня мой моя мои наш наша наши нас вас ваш у при так там тут уже еще the a an of to in on at for
    and or is are was were be been it this that my our we i you your me us with from by as
    """
)
BLOCKS: tuple[str, ...] = ("w", "c", "x")
BLOCK_WEIGHTS: dict[str, float] = {"w": 1.0, "c": 1.0, "x": 0.3}
MAX_CHARS = 4000  # beyond this a ticket only repeats itself; keeps a 10,000-char paste fast
ANALYSES_KEPT = 64  # the latest texts analysed (a batch's first descriptions are read one after another)
CHAR_CACHE_TOKENS = 50_000  # distinct words whose n-gram columns are kept (a few MB); emptied when full


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """Snowball stem in the token's own script (Russian for Cyrillic, English otherwise)."""
    if _CYR.search(token):
        return _RU.stemWord(token)
    if token.isdigit():
        return token
    return _EN.stemWord(token)


_SUBLINEAR = [0.0] + [1.0 + math.log(count) for count in range(1, 64)]


def _sublinear(count: int) -> float:
    """1 + log(count), the tf of a feature seen `count` times (looked up for the usual small counts)."""
    return _SUBLINEAR[count] if count < 64 else 1.0 + math.log(count)


@dataclass(frozen=True)
class Analysis:
    """Everything later steps need from one text, computed once. Read-only throughout: `analyze` hands the
    same instance to every caller of a recent text, so the cue groups are a read-only mapping of tuples."""

    normalized: str
    tokens: tuple[str, ...]
    stems: tuple[str, ...]
    cues: Mapping[str, tuple[str, ...]] = field(hash=False)  # group -> its cue words found, in order
    source: tuple[str, ...] = ()  # the customer's own word behind each token

    def own_words(self, phrase: str) -> str:
        """The customer's words for a normalised phrase ("тормозит" → "тупит"), to quote them back."""
        words = phrase.split()
        n = len(words)
        if n and len(self.source) == len(self.tokens):
            for i in range(len(self.tokens) - n + 1):
                if list(self.tokens[i : i + n]) == words:
                    own = self.source[i : i + n]
                    return " ".join(w for j, w in enumerate(own) if j == 0 or w != own[j - 1])
        return phrase


@lru_cache(maxsize=ANALYSES_KEPT)
def analyze(text: str) -> Analysis:
    """The text's analysis; the latest few are kept, since one first description is read by the triage, the
    self-help matcher and the outage grouping, each asking for the same analysis (read it, never change it)."""
    normalized, source = normalize_aligned(text[:MAX_CHARS] if text else "")
    tokens = tuple(normalized.split())
    stems = tuple(stem(t) for t in tokens)
    cues = MappingProxyType({group: tuple(found) for group, found in matches(normalized).items()})
    return Analysis(normalized, tokens, stems, cues, source)


def raw_features(a: Analysis) -> dict[str, Counter[str]]:
    """Feature name counts per block."""
    words: Counter[str] = Counter()
    content = [s for t, s in zip(a.tokens, a.stems, strict=True) if t not in _STOP]
    for s in content:
        words["w:" + s] += 1
    for s1, s2 in pairwise(content):
        words["w:" + s1 + " " + s2] += 1
    chars: Counter[str] = Counter()
    for t in a.tokens:
        padded = f" {t} "
        for n in (3, 4, 5):
            for i in range(len(padded) - n + 1):
                chars["c:" + padded[i : i + n]] += 1
    lex: Counter[str] = Counter({"x:" + g: len(ws) for g, ws in a.cues.items()})
    return {"w": words, "c": chars, "x": lex}


class Vectorizer:
    """Sublinear tf-idf per block, block-wise L2 normalisation and weights; fitted on the corpus."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray) -> None:
        self.names: list[str] = list(vocabulary)
        self.index: dict[str, int] = {name: i for i, name in enumerate(self.names)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self._idf: list[float] = self.idf.tolist()  # the same values; a list item is cheaper than a numpy scalar
        self._char_columns: dict[str, tuple[int, ...]] = {}

    def char_columns(self, token: str) -> tuple[int, ...]:
        """The vocabulary's columns of a token's character n-grams, in raw_features' order (out-of-vocabulary
        n-grams left out). Cached per token: words recur from text to text, and slicing and looking up
        their dozens of n-grams was most of a call's cost."""
        columns = self._char_columns.get(token)
        if columns is None:
            index, padded = self.index, f" {token} "
            columns = tuple(
                j
                for n in (3, 4, 5)
                for i in range(len(padded) - n + 1)
                if (j := index.get("c:" + padded[i : i + n])) is not None
            )
            if len(self._char_columns) >= CHAR_CACHE_TOKENS:
                self._char_columns.clear()
            self._char_columns[token] = columns
        return columns

    def _counts(self, a: Analysis) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
        """raw_features() as column counts per block, without the out-of-vocabulary names, in the order
        raw_features() first meets them (so the sums below add in the same order, to the same floats).
        Counted by Counter, whose C loop keeps first-insertion order like the loop it replaces."""
        get = self.index.get
        content = [s for t, s in zip(a.tokens, a.stems, strict=True) if t not in _STOP]
        names = ["w:" + s for s in content]
        names.extend(["w:" + s1 + " " + s2 for s1, s2 in pairwise(content)])
        words = Counter([j for j in map(get, names) if j is not None])
        chars = Counter(chain.from_iterable(map(self.char_columns, a.tokens)))
        lex: dict[int, int] = {}
        for g, ws in a.cues.items():
            j = get("x:" + g)
            if j is not None:
                lex[j] = len(ws)
        return words, chars, lex

    @classmethod
    def fit(cls, analyses: Sequence[Analysis], min_df: dict[str, int] | None = None) -> Vectorizer:
        min_df = min_df or {"w": 1, "c": 2, "x": 1}
        df: Counter[str] = Counter()
        for a in analyses:
            for counts in raw_features(a).values():
                df.update(counts.keys())
        names = sorted(f for f, n in df.items() if n >= min_df[f[0]])
        n_docs = len(analyses)
        idf = np.array(
            [1.0 if f[0] == "x" else math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in names],
            dtype=np.float64,
        )
        return cls(names, idf)

    def _row(self, a: Analysis) -> tuple[list[int], list[float]]:
        cols: list[int] = []
        vals: list[float] = []
        idf, tf, top = self._idf, _SUBLINEAR, len(_SUBLINEAR)
        for block, counts in zip(BLOCKS, self._counts(a), strict=True):
            # the tf table inline (a call per column was a third of the row's cost); same products
            bvals = [(tf[n] if n < top else _sublinear(n)) * idf[j] for j, n in counts.items()]
            norm = math.sqrt(sum([v * v for v in bvals]))
            if norm > 0:
                w = BLOCK_WEIGHTS[block] / norm
                cols.extend(counts)
                vals.extend([v * w for v in bvals])
        return cols, vals

    def transform_one(self, a: Analysis) -> tuple[np.ndarray, np.ndarray]:
        cols, vals = self._row(a)
        return np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=np.float64)

    def transform(self, analyses: Iterable[Analysis]) -> sparse.csr_matrix:
        from scipy import sparse  # training only: keeps the bot's import light

        indptr, indices, data = [0], [], []
        for a in analyses:
            cols, vals = self._row(a)
            indices.extend(cols)
            data.extend(vals)
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(indptr) - 1, len(self.names)),
        )
