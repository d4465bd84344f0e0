"""Building the Bot API calls for an outbox row: splitting what is too long, plain fallbacks, answers.

Pure functions of the row's parameters (no database, no network), so every rule Telegram imposes on a
call's shape is in one place and tested alone.

- Texts over 4096 and captions over 1024 characters (UTF-16 code units, as Telegram counts) are split;
  split parts are plain text, the keyboard goes with the last part and only the first replies to anything.
- A refused call may go again without what was refused: HTML → plain text, a vanished forum topic → the
  general topic, a refused keyboard → none. "Message is not modified" is success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scheduler.delivery.transport import Transient
from storage.outbox_rows import plain_text

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CAPTIONED = frozenset(
    {"sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendVoice", "sendAnimation", "copyMessage"}
)
THREADED = frozenset({*CAPTIONED, "sendMessage", "sendVideoNote"})

Call = tuple[str, dict[str, Any]]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: what Telegram's 4096/1024 limits count."""
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """The longest prefix (in code points) whose UTF-16 length is at most `limit`."""
    if len(text) * 2 <= limit or utf16_len(text) <= limit:
        return len(text)
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_plain(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut text into pieces of at most `limit` UTF-16 units, preferring line, then word boundaries."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        hard = _fit(rest, limit)
        cut = rest.rfind("\n", 0, hard + 1)
        if cut < hard // 2:
            cut = rest.rfind(" ", 0, hard + 1)
        if cut < hard // 2:
            cut = hard
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip("\n ")
    if rest.strip():
        pieces.append(rest)
    return pieces or [text[: _fit(text, limit)]]


def _visible(payload: dict[str, Any], key: str) -> str:
    value = payload[key]
    return plain_text(value) if payload.get("parse_mode") else value


def _text_parts(base: dict[str, Any], text: str, markup: Any) -> list[Call]:
    chunks = split_plain(text, TEXT_LIMIT)
    calls = []
    for index, chunk in enumerate(chunks):
        part = {**base, "text": chunk}
        if index == len(chunks) - 1 and markup is not None:
            part["reply_markup"] = markup
        calls.append(("sendMessage", part))
    return calls


def calls_for(method: str, payload: dict[str, Any]) -> list[Call]:
    """One row may need several calls: texts over 4096 and captions over 1024 UTF-16 units are split.

    Split parts are sent as plain text (the visible text of the HTML), the keyboard goes with the last
    part and only the first part replies to anything.
    """
    if method == "sendMessage":
        visible = _visible(payload, "text")
        if utf16_len(visible) <= TEXT_LIMIT:
            return [(method, payload)]
        base = {k: v for k, v in payload.items() if k not in ("text", "parse_mode", "reply_markup")}
        calls = _text_parts(base, visible, payload.get("reply_markup"))
        for _, part in calls[1:]:
            part.pop("reply_parameters", None)
        return calls
    if method in CAPTIONED and payload.get("caption"):
        visible = _visible(payload, "caption")
        if utf16_len(visible) > CAPTION_LIMIT:
            head_caption, *_ = split_plain(visible, CAPTION_LIMIT)
            rest_text = visible[len(head_caption) :].lstrip("\n ")
            head = {k: v for k, v in payload.items() if k not in ("caption", "parse_mode", "reply_markup")}
            head["caption"] = head_caption
            base = {"chat_id": payload["chat_id"]}
            if payload.get("message_thread_id"):
                base["message_thread_id"] = payload["message_thread_id"]
            if not rest_text:
                if "reply_markup" in payload:
                    head["reply_markup"] = payload["reply_markup"]
                return [(method, head)]
            return [(method, head), *_text_parts(base, rest_text, payload.get("reply_markup"))]
    return [(method, payload)]


def public(payload: dict[str, Any]) -> dict[str, Any]:
    """The Bot API parameters of a row: our bookkeeping keys (`_…`) removed."""
    return {k: v for k, v in payload.items() if not k.startswith("_")}


# -- refusals and fallbacks ------------------------------------------------------------------------------


def not_modified(description: str) -> bool:
    """An edit that changes nothing: Telegram refuses it, but what we wanted is there."""
    return "message is not modified" in description.lower()


@dataclass(frozen=True)
class Fallback:
    """The same call without what Telegram refused."""

    kind: str  # plain | general_topic | no_keyboard
    payload: dict[str, Any]


def plain_version(payload: dict[str, Any]) -> dict[str, Any]:
    plain = dict(payload)
    plain.pop("parse_mode", None)
    for key in ("text", "caption"):
        if key in plain and isinstance(plain[key], str):
            plain[key] = plain_text(plain[key])
    return plain


def fallback(payload: dict[str, Any], description: str) -> Fallback | None:
    """What to send instead of a refused call, or None when nothing can be left out."""
    text = description.lower()
    # "not modified" also says "reply markup": it must be recognised before the keyboard is blamed
    if "message is not modified" in text:
        return None
    if "can't parse entities" in text or "can't find end" in text or "unsupported start tag" in text:
        return Fallback("plain", plain_version(payload))
    # the ticket's forum topic was deleted, or an admin closed it: the staff still get the message, in General
    # (not as a reply to the card: a reply goes to the card's topic)
    if ("message thread not found" in text or "topic_closed" in text) and "message_thread_id" in payload:
        general = {k: v for k, v in payload.items() if k not in ("message_thread_id", "reply_parameters")}
        return Fallback("general_topic", general)
    if "reply_markup" in payload and ("button" in text or "reply markup" in text or "keyboard" in text):
        return Fallback("no_keyboard", {k: v for k, v in payload.items() if k != "reply_markup"})
    return None


def harmless_refusal(description: str) -> bool:
    """An edit of a message that is gone or too old: nothing to deliver any more, nothing to report."""
    lowered = description.lower()
    return "message to edit not found" in lowered or "message can't be edited" in lowered


def maybe_sent(exc: Transient) -> bool:
    """A network error or timeout may hide a call that went through; a 5xx answer means it did not."""
    text = str(exc).lower()
    return text.startswith(("network", "timeout")) or "timeout" in text


# -- answers ---------------------------------------------------------------------------------------------


def message_id_of(result: Any) -> int | None:
    if isinstance(result, dict):
        value = result.get("message_id")
        return int(value) if value is not None else None
    return None


def thread_id_of(result: Any) -> int | None:
    """The topic createForumTopic made."""
    if isinstance(result, dict) and "message_id" not in result and result.get("message_thread_id") is not None:
        return int(result["message_thread_id"])
    return None
