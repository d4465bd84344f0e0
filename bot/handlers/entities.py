"""A message's formatting (Telegram's `entities`) as Telegram HTML, the user's text escaped.

So an agent's bold, links and code reach the customer as formatting. Offsets and lengths count UTF-16
code units (https://core.telegram.org/api/entities#entity-length), hence the work on UTF-16 bytes.
Entities may nest; ones that only mark up what Telegram finds by itself (mentions, URLs, hashtags…)
are left as plain text. The same rendering as aiogram's `html_decoration.unparse` (tested against it).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from typing import Any

_TAGS = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strikethrough": "s",
    "spoiler": "tg-spoiler",
    "code": "code",
    "blockquote": "blockquote",
}


def entities_html(text: str, entities: Sequence[dict[str, Any]]) -> str:
    """`text` with its entities as HTML tags; everything else escaped."""
    units = text.encode("utf-16-le")
    ordered = sorted((e for e in entities if _valid(e)), key=lambda e: e["offset"])
    return "".join(_render(units, ordered, 0, len(units)))


def _valid(entity: dict[str, Any]) -> bool:
    offset, length = entity.get("offset"), entity.get("length")
    return isinstance(offset, int) and isinstance(length, int) and offset >= 0 and length >= 0


def _plain(units: bytes) -> str:
    return html.escape(units.decode("utf-16-le", errors="replace"), quote=False)


def _render(units: bytes, entities: list[dict[str, Any]], start: int, end: int) -> Iterator[str]:
    position = start
    for index, entity in enumerate(entities):
        begin = entity["offset"] * 2
        if begin < position:
            continue  # inside an entity already rendered
        if begin > position:
            yield _plain(units[position:begin])
        position = begin + entity["length"] * 2
        inner = [e for e in entities[index + 1 :] if e["offset"] * 2 < position]
        yield _wrap(entity, "".join(_render(units, inner, begin, position)))
    if position < end:
        yield _plain(units[position:end])


def _wrap(entity: dict[str, Any], inner: str) -> str:
    kind = entity.get("type")
    if kind in _TAGS:
        tag = _TAGS[kind]
        return f"<{tag}>{inner}</{tag}>"
    if kind == "expandable_blockquote":
        return f"<blockquote expandable>{inner}</blockquote>"
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{html.escape(str(language))}">{inner}</code></pre>'
        return f"<pre>{inner}</pre>"
    if kind == "text_link" and entity.get("url"):
        return f'<a href="{html.escape(str(entity["url"]))}">{inner}</a>'
    if kind == "text_mention" and isinstance(entity.get("user"), dict) and entity["user"].get("id"):
        return f'<a href="tg://user?id={int(entity["user"]["id"])}">{inner}</a>'
    if kind == "custom_emoji" and entity.get("custom_emoji_id"):
        return f'<tg-emoji emoji-id="{html.escape(str(entity["custom_emoji_id"]))}">{inner}</tg-emoji>'
    return inner  # mentions, URLs, hashtags, commands…: Telegram finds them again by itself
