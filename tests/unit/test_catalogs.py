"""Texts: both languages have the same keys and placeholders, and every template is valid Telegram HTML."""

from __future__ import annotations

import re
import string

import pytest

from helpdesk.i18n import LANGUAGES, Safe, catalog, t, to_plain
from tests.support.botapi import parse_html

FIELDS = string.Formatter()


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in FIELDS.parse(template) if name}


def test_languages_have_the_same_keys() -> None:
    en, ru = catalog("en"), catalog("ru")
    assert set(en) == set(ru), sorted(set(en) ^ set(ru))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match_across_languages(lang: str) -> None:
    other = catalog("en")
    for key, template in catalog(lang).items():
        if isinstance(template, str):
            assert placeholders(template) == placeholders(other[key]), key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_template_renders_as_telegram_html(lang: str) -> None:
    for key, template in catalog(lang).items():
        if not isinstance(template, str):
            continue
        values = {name: "<x & y>" for name in placeholders(template)}
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
