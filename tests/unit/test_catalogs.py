"""Texts: both languages have the same keys and placeholders, and every template is valid Telegram HTML."""

from __future__ import annotations

import html
import re
import string

import pytest

from helpdesk.i18n import LANGUAGES, NEEDED_FORMS, Safe, catalog, t, to_plain
from tests.support.botapi import parse_html

FIELDS = string.Formatter()


def placeholders(template: str | dict[str, str]) -> set[str]:
    """A text's placeholders (a text with plural forms: all of its forms')."""
    forms = template.values() if isinstance(template, dict) else [template]
    return {name for form in forms for _, name, _, _ in FIELDS.parse(form) if name}


def texts(lang: str) -> list[tuple[str, str]]:
    """Every template of a language with its key; each plural form on its own (`key[form]`)."""
    out: list[tuple[str, str]] = []
    for key, template in catalog(lang).items():
        if isinstance(template, str):
            out.append((key, template))
        elif isinstance(template, dict):
            out.extend((f"{key}[{form}]", text) for form, text in template.items())
    return out


def test_languages_have_the_same_keys() -> None:
    en, ru = catalog("en"), catalog("ru")
    assert set(en) == set(ru), sorted(set(en) ^ set(ru))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match_across_languages(lang: str) -> None:
    other = catalog("en")
    for key, template in catalog(lang).items():
        if isinstance(template, (str, dict)):
            assert placeholders(template) == placeholders(other[key]), key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_texts_have_every_form_of_their_language_and_each_says_the_count(lang: str) -> None:
    plurals = {key: forms for key, forms in catalog(lang).items() if isinstance(forms, dict)}
    assert plurals, "no text with plural forms"
    for key, forms in plurals.items():
        assert set(forms) >= NEEDED_FORMS[lang], key
        for form, text in forms.items():
            assert "count" in placeholders(text), f"{key}[{form}]"
        other = catalog("en")[key]
        if isinstance(other, dict):  # the same placeholders in every form of it
            assert {frozenset(placeholders(text)) for text in forms.values()} == {frozenset(placeholders(other))}, key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_renders_as_telegram_html(lang: str) -> None:
    for key, template in texts(lang):
        values = {name: "<x & y>" for name in placeholders(template)}
        if "[" in key:  # one plural form: rendered as `t` renders it, with a number for its count
            rendered = Safe(
                template.format_map({k: html.escape(v, quote=False) for k, v in values.items()} | {"count": 7})
            )
            values.pop("count")
        else:
            rendered = t(lang, key, **values)
        parse_html(rendered)  # raises on markup Telegram would refuse
        if values:
            assert "&lt;x &amp; y&gt;" in rendered, key


def test_safe_values_are_not_escaped_twice() -> None:
    inner = t("en", "status.unassigned")
    assert isinstance(inner, Safe)
    assert to_plain(t("en", "status.history_line", at="now", what=Safe("<b>x</b>"))) == "• now — x"


def test_no_russian_in_english_texts() -> None:
    cyrillic = re.compile("[а-яё]", re.IGNORECASE)
    offenders = [
        k for k, v in catalog("en").items() if isinstance(v, str) and cyrillic.search(v) and k != "button.lang_ru"
    ]
    assert offenders == [] or all(k.startswith("lang.") for k in offenders)
