"""Training-time variants of corpus lines: Russian typed in Latin letters, and typos.

Customers write "ne rabotaet printer" and "принетр не печатет"; the corpus is written properly. Each
Russian line also trains as a transliteration (with a randomly chosen one of the common schemes, so
the model does not learn one spelling), and a share of all lines as a copy with a few keyboard slips.
Deterministic (fixed seed), so the trained model and its cache key stay reproducible.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

_CYR = re.compile(r"[а-яё]", re.IGNORECASE)
_BASE = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "з": "z", "и": "i", "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "ъ": "", "ь": "", "э": "e",
}  # fmt: skip
# Letters people transliterate in more than one way.
_CHOICES = {
    "ж": ("zh", "j", "g"),
    "й": ("y", "i", "j"),
    "х": ("kh", "h", "x"),
    "ц": ("ts", "c", "tc"),
    "ч": ("ch", "ch", "4"),
    "ш": ("sh", "sh", "w"),
    "щ": ("shch", "sch", "sh"),
    "ы": ("y", "i", "y"),
    "ю": ("yu", "iu", "ju"),
    "я": ("ya", "ia", "ja"),
    "ь": ("", "'", ""),
}


def to_latin(text: str, rnd: random.Random) -> str:
    """One plausible Latin spelling of a Russian text (one scheme per text, as a person would)."""
    scheme = {k: rnd.choice(v) for k, v in _CHOICES.items()}
    out = []
    for ch in text:
        low = ch.lower()
        rep = scheme.get(low, _BASE.get(low))
        out.append(ch if rep is None else rep)
    return "".join(out)


def with_typos(text: str, rnd: random.Random) -> str:
    """A few slips: a dropped, doubled or swapped letter about every 15 characters."""
    chars = list(text)
    for _ in range(max(1, len(chars) // 15)):
        if len(chars) < 4:
            break
        i = rnd.randrange(len(chars) - 1)
        if not chars[i].isalpha():
            continue
        op = rnd.random()
        if op < 0.4:
            del chars[i]
        elif op < 0.7:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


def augment(texts: Sequence[str], *, typo_share: float = 0.5, seed: int = 13) -> list[tuple[int, str]]:
    """(index of the original, variant text) pairs to add to the training set."""
    rnd = random.Random(seed)
    out: list[tuple[int, str]] = []
    for i, text in enumerate(texts):
        if _CYR.search(text):
            out.append((i, to_latin(text, rnd)))
        if rnd.random() < typo_share:
            out.append((i, with_typos(text, rnd)))
    return out
