"""The causes an incident's closing report names (the practice's fixed list, helpdesk.vocabulary.Cause):
how agents write them and how they are shown.

An agent gives the cause first in the report, by its code word or its name in either language
(`/resolve N supplier …`, `/resolve N supplier failure …`, `/resolve N сбой поставщика …`), or presses
one of the buttons listed when the report names none.
"""

from __future__ import annotations

import re
from functools import cache

from helpdesk import callbacks
from helpdesk.i18n import LANGUAGES, t
from helpdesk.outbox import Buttons
from helpdesk.vocabulary import Cause

#: what may follow the cause before the actions: "supplier: …", "supplier — …", "supplier, …"
_SEPARATORS = re.compile(r"^[\s:;,.\-–—]+")
#: where a cause's name may end: the end, a space, punctuation, a dash with a space ("power-supply" is no cause)
_END = r"(?=$|[\s:;,.–—]|-\s)"


def _fold(text: str) -> str:
    return text.replace("ё", "е").replace("Ё", "Е")


@cache
def _patterns() -> list[tuple[re.Pattern[str], Cause]]:
    """Every way a cause may be written (code word, name in each language), longest first."""
    spellings = {cause.value: cause for cause in Cause}
    for cause in Cause:
        for lang in LANGUAGES:
            spellings.setdefault(_fold(t(lang, f"causes.name.{cause.value}")).casefold(), cause)
    ordered = sorted(spellings.items(), key=lambda item: -len(item[0]))
    return [
        (re.compile(r"^\s*" + r"\s+".join(map(re.escape, spelling.split())) + _END, re.IGNORECASE), cause)
        for spelling, cause in ordered
    ]


def split_cause(report: str) -> tuple[Cause | None, str]:
    """(the cause the report starts with, the rest: the actions taken), or (None, the report)."""
    probe = _fold(report)  # the same length as the report: positions carry over
    for pattern, cause in _patterns():
        found = pattern.match(probe)
        if found:
            return cause, _SEPARATORS.sub("", report[found.end() :]).strip()
    return None, report.strip()


def parse_cause(word: str) -> Cause | None:
    """A cause by its code word or its name, nothing else after it."""
    cause, rest = split_cause(word)
    return cause if cause is not None and not rest else None


def name(cause: Cause | str | None, lang: str) -> str:
    """The cause as people read it ("supplier failure"); '—' when there is none."""
    if not cause:
        return "—"
    return t(lang, f"causes.name.{Cause(cause).value}")


def listing(lang: str) -> str:
    """Every cause: its code word and its name, one per line."""
    return "\n".join(t(lang, "causes.line", code=cause.value, name=name(cause, lang)) for cause in Cause)


def buttons(ticket_id: int, draft_id: int, lang: str) -> Buttons:
    """One button per cause, two a row: each resolves the ticket with the kept report and that cause."""
    items = [(name(cause, lang), callbacks.make(callbacks.CAUSE, ticket_id, draft_id, cause.value)) for cause in Cause]
    return [items[i : i + 2] for i in range(0, len(items), 2)]
