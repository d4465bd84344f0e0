"""Canned replies: answers agents send often, kept by the operator in CANNED_REPLIES_FILE (TOML).

One table per template, with the text in every language; placeholders {customer}, {number} and
{agent} are filled when it is sent:

    [restart]
    en = "Hello {customer}! Please restart the computer and tell us whether {number} is solved."
    ru = "Здравствуйте, {customer}! Перезагрузите компьютер и напишите, решена ли заявка {number}."

Texts are markdown like the knowledge-base articles (bold, links, lists), rendered to Telegram HTML
once at load; placeholder values are escaped, so a customer called "<Ann & Co>" reads as such. The
file is checked as a whole at start: a bad name, a missing or empty language, an unknown or malformed
placeholder refuses it with one line naming the template, so an agent never sends "{custmer}".
"""

from __future__ import annotations

import html
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

from helpdesk.i18n import FALLBACK, LANGUAGES
from helpdesk.markdown_html import MESSAGE_LIMIT, to_html, utf16_length

PLACEHOLDERS: tuple[str, ...] = ("customer", "number", "agent")
#: A template's name: what agents type after `#` in `/reply N #name`.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
#: Room left in a message for the values (a customer's and an agent's name, a ticket number).
VALUE_ROOM = 400


class CannedRepliesError(ValueError):
    """The file cannot be used; one line naming the file and the template (the caller says which setting)."""


@dataclass(frozen=True)
class CannedReply:
    """One template: Telegram HTML per language with {placeholders} still in it."""

    name: str
    texts: dict[str, str]

    def render(self, lang: str, *, customer: str, number: str, agent: str) -> str:
        """The reply in `lang` (English if the language is not supported), values escaped."""
        template = self.texts.get(lang) or self.texts[FALLBACK]
        values = {"customer": customer, "number": number, "agent": agent}
        return template.format_map({k: html.escape(str(v), quote=False) for k, v in values.items()})


@dataclass(frozen=True)
class CannedReplies:
    """All templates by name, in the file's order; empty when the desk has none."""

    replies: tuple[CannedReply, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.replies)

    def __len__(self) -> int:
        return len(self.replies)

    def get(self, name: str) -> CannedReply | None:
        """The template called `name` (a leading `#`, case and spaces forgiven), or None."""
        wanted = name.strip().lstrip("#").lower()
        return next((r for r in self.replies if r.name == wanted), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.replies)


def _check_placeholders(where: str, template: str) -> None:
    """Only {customer}, {number} and {agent}, plain; literal braces are written {{ and }}."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise CannedRepliesError(f"{where}: {exc} (write a literal brace as {{{{ or }}}})") from None
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            raise CannedRepliesError(f"{where}: unknown placeholder {{{field}}}; use {allowed}")
        if spec or conversion:
            raise CannedRepliesError(f"{where}: write the placeholder as {{{field}}}, without ':' or '!'")


def _template(path: Path, name: str, table: object) -> CannedReply:
    if not NAME_PATTERN.match(name):
        raise CannedRepliesError(f"{path}: template [{name}]: name must be 1-32 lowercase letters, digits, '-' or '_'")
    if not isinstance(table, dict):
        raise CannedRepliesError(f"{path}: template [{name}] must be a table with en and ru texts")
    texts: dict[str, str] = {}
    for key in table:
        if key not in LANGUAGES:
            raise CannedRepliesError(f"{path}: template [{name}]: unknown language {key!r}; use en and ru")
    for lang in LANGUAGES:
        where = f"{path}: template [{name}] ({lang})"
        text = table.get(lang)
        if text is None:
            raise CannedRepliesError(f"{path}: template [{name}]: no {lang!r} text")
        if not isinstance(text, str):
            raise CannedRepliesError(f"{where}: the text must be a string")
        rendered = to_html(text.strip())
        if not rendered.strip():
            raise CannedRepliesError(f"{where}: empty text")
        _check_placeholders(where, rendered)
        if utf16_length(rendered) > MESSAGE_LIMIT - VALUE_ROOM:
            raise CannedRepliesError(f"{where}: longer than {MESSAGE_LIMIT - VALUE_ROOM} characters")
        texts[lang] = rendered
    return CannedReply(name, texts)


def load_canned_replies(path: Path | str | None) -> CannedReplies:
    """The templates in `path`; None (not configured) gives none. CannedRepliesError (one line) otherwise."""
    if path is None or str(path).strip() == "":
        return CannedReplies()
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise CannedRepliesError(f"{file}: no such file") from None
    except OSError as exc:
        raise CannedRepliesError(f"{file}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CannedRepliesError(f"{file}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise CannedRepliesError(f"{file}: not valid TOML ({exc})") from None
    if not data:
        raise CannedRepliesError(f"{file}: no templates (one [name] table per template, with en and ru texts)")
    return CannedReplies(tuple(_template(file, name, table) for name, table in data.items()))
