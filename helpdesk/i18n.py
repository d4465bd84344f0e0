"""Bot texts in Russian and English, kept in TOML catalogs (helpdesk/texts/<lang>/*.toml).

Templates are Telegram HTML (`to_plain` turns them back into plain text). Every value substituted into
a template is escaped here, so user text can never be read as markup; a value that is already safe
HTML is passed wrapped in `Safe`.

A text with a number in it has one template per plural form, chosen by the value `count` with CLDR's
cardinal rules (`plural_form`): `files = { one = "{count} файл", few = "{count} файла", many = "{count}
файлов" }` in Russian, `{ one = "…", other = "…" }` in English.
"""

from __future__ import annotations

import html
import operator
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from storage.outbox_rows import plain_text

TEXTS_DIR = Path(__file__).parent / "texts"
LANGUAGES: tuple[str, ...] = ("en", "ru")
FALLBACK = "en"
#: CLDR's plural categories: a catalog table with only these keys is one text's plural forms
PLURAL_FORMS = frozenset({"zero", "one", "two", "few", "many", "other"})
#: the forms each language's plural texts must have (CLDR's categories for whole numbers)
NEEDED_FORMS: dict[str, frozenset[str]] = {"en": frozenset({"one", "other"}), "ru": frozenset({"one", "few", "many"})}

#: Telegram HTML back to the text a reader sees (the console chat, short alerts); one implementation,
#: shared with delivery's plain-text fallbacks
to_plain = plain_text


class Safe(str):
    """A string that is already valid Telegram HTML and must not be escaped again."""

    __slots__ = ()


class Term(str):
    """A code of the domain's vocabulary (a ticket state…) that `t` names in the reader's language, from the
    catalog section `section`; it equals its code, so it can travel in values rendered later."""

    section: str

    def __new__(cls, section: str, code: str) -> Term:
        term = super().__new__(cls, code)
        term.section = section
        return term


def escape(value: object) -> str:
    return value if isinstance(value, Safe) else html.escape(str(value), quote=False)


def plural_form(lang: str, count: int) -> str:
    """CLDR's cardinal plural category of a whole number: Russian 1, 21 → one; 2–4, 22 → few; 5–20, 25,
    11–14 → many; English 1 → one, else other."""
    n = abs(count)
    if lang == "ru":
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return "many"
    return "one" if n == 1 else "other"


def _flatten(prefix: str, node: dict[str, Any], out: dict[str, Any]) -> None:
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and set(value) <= PLURAL_FORMS:
            out[full] = dict(value)  # one text's plural forms
        elif isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = value


@cache
def catalog(lang: str) -> dict[str, Any]:
    """All texts of a language: every TOML file in helpdesk/texts/<lang>/, one per area of the product."""
    flat: dict[str, Any] = {}
    for path in sorted((TEXTS_DIR / lang).glob("*.toml")):
        with path.open("rb") as handle:
            part: dict[str, Any] = {}
            _flatten("", tomllib.load(handle), part)
        clash = set(part) & set(flat)
        if clash:
            raise ValueError(f"{path}: keys defined twice: {sorted(clash)[:5]}")
        flat.update(part)
    return flat


def pick_language(*candidates: str | None, default: str = FALLBACK) -> str:
    """The first supported language among the candidates (`ru-RU` counts as `ru`)."""
    for candidate in candidates:
        if candidate:
            code = candidate.split("-")[0].split("_")[0].lower()
            if code in LANGUAGES:
                return code
    return default if default in LANGUAGES else FALLBACK


def t(lang: str, key: str, /, **values: object) -> str:
    """The text `key` in `lang` with `values` escaped and substituted (a text with plural forms: the
    form for `count`)."""
    served = lang if lang in LANGUAGES else FALLBACK
    template = catalog(served).get(key)
    if template is None:
        served, template = FALLBACK, catalog(FALLBACK).get(key)
    if template is None:
        raise KeyError(f"no text {key!r}")
    if isinstance(template, list):
        raise TypeError(f"text {key!r} is a list; use t_list")
    if isinstance(template, dict):
        try:
            count = operator.index(values.get("count"))  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"text {key!r} has plural forms: pass a whole number as count=") from None
        template = template.get(plural_form(served, count)) or template.get("other") or template["many"]
    if not values:
        return Safe(template)
    named = {k: t(lang, f"{v.section}.{v}") if isinstance(v, Term) else v for k, v in values.items()}
    return Safe(template.format_map({k: escape(v) for k, v in named.items()}))


def t_list(lang: str, key: str) -> list[str]:
    value = catalog(lang if lang in LANGUAGES else FALLBACK).get(key) or catalog(FALLBACK)[key]
    return list(value)


def has(lang: str, key: str) -> bool:
    return key in catalog(lang if lang in LANGUAGES else FALLBACK)


def name_or_code(lang: str, section: str, code: str) -> str:
    """The catalog's name of a domain code (`section.code`) in `lang`; a code the catalog does not know
    (written by another version of the bot, say) as it is, rather than failing the whole text."""
    key = f"{section}.{code}"
    return t(lang, key) if has(lang, key) else code
