"""A strict, in-process stand-in for the Telegram Bot API, for tests that drive the real bot over HTTP.

``FakeBotAPI`` serves ``{base_url}/bot{token}/{method}`` exactly as api.telegram.org does: the same
request encodings (query string, urlencoded, multipart with ``attach://`` files, JSON), the same
``{"ok": ..., "result"/"error_code"/"description"/"parameters"}`` envelopes, the same error texts
for the mistakes a bot makes (bad HTML, too long text, stale callback queries, "message is not
modified", unknown chats, blocked users), long polling with offset confirmation, and fault injection
(429 with retry_after, 5xx, lost responses, delays). Every call is recorded for assertions.

Telegram's rules hold in every test, by default: the flood limits (overall, per private chat, per group;
edits counted; ``retry_after`` growing with the overshoot; see tests/support/flood.py for what is
modelled and why), and every length limit counted in UTF-16 code units, as Telegram counts them.
``unexpected_refusals()`` lists what the stand-in refused that the test did not provoke; the test
fixtures fail a test that leaves any (tests/support/refusals.py).

It is deliberately *stricter* than Telegram in three places, each documented at the spot: an ``&``
that does not start an HTML entity is rejected (Telegram keeps it, but it means the bot forgot to
escape user text); an explicit entity outside its text is rejected (Telegram trims it, but it means
the bot counted offsets in the wrong unit); and MarkdownV2/Markdown parse modes are refused (the bot
must use HTML or plain).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import mimetypes
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import ClientSession, ClientTimeout, web

from tests.support import refusals
from tests.support.flood import FloodControl, FloodLimits

if TYPE_CHECKING:
    from tests.support.users import SimChannel, SimGroup, SimUser

__all__ = [
    "GROUP_ANONYMOUS_BOT",
    "ApiError",
    "Call",
    "Chat",
    "FakeBotAPI",
    "Faults",
    "FloodLimits",
    "HtmlParseError",
    "Msg",
    "parse_html",
    "utf16_len",
]

GROUP_ANONYMOUS_BOT = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CONFLICT_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200

HEARTBEAT = 0.05  # seconds between the stand-in's heartbeats (flood.py: the stand-in's own stalls)
STALL = 0.2  # no heartbeat for this long: the loop was held up, and what it handles now waited in the socket

# Methods that put a new message into a chat (what Telegram's flood limits count).
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendVideoNote",
        "sendLocation",
        "sendContact",
        "sendPoll",
        "sendDice",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "copyMessages",
        "forwardMessages",
    }
)
EDIT_METHODS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
CONTENT_KEYS = (
    "text",
    "entities",
    "photo",
    "document",
    "video",
    "audio",
    "voice",
    "video_note",
    "sticker",
    "animation",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "caption",
    "caption_entities",
    "has_media_spoiler",
)
MEDIA_KEYS = ("photo", "document", "video", "audio", "voice", "video_note", "sticker", "animation")
SERVICE_KEYS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "pinned_message",
    "forum_topic_created",
    "forum_topic_closed",
    "forum_topic_reopened",
    "forum_topic_edited",
    "migrate_to_chat_id",
)
_FILE_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "video": "BAACAgIAAxkBAAI",
    "audio": "CQACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "video_note": "DQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "animation": "CgACAgIAAxkBAAI",
}

_INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "cache_time",
        "icon_color",
        "max_connections",
        "duration",
        "width",
        "height",
        "length",
        "live_period",
        "direct_messages_topic_id",
    }
)
_FLOAT_PARAMS = frozenset({"latitude", "longitude", "horizontal_accuracy"})
_BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "is_anonymous",
        "allows_multiple_answers",
        "allow_paid_broadcast",
        "show_caption_above_media",
        "remove_caption",
        "only_if_banned",
        "for_channels",
        "supports_streaming",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "media",
        "reply_parameters",
        "link_preview_options",
        "commands",
        "scope",
        "menu_button",
        "message_ids",
        "reaction",
        "options",
        "rights",
        "question_entities",
        "explanation_entities",
    }
)


class ApiError(Exception):
    """A Bot API error response: HTTP status, description and optional ``parameters``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        out: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def bad_request(text: str) -> ApiError:
    """A 400 error with Telegram's ``Bad Request:`` prefix."""
    return ApiError(400, f"Bad Request: {text}")


# --------------------------------------------------------------------------------------------------
# Telegram's HTML subset
# --------------------------------------------------------------------------------------------------

_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME_RE = re.compile(r"[a-zA-Z0-9-]*")
_ATTR_RE = re.compile(r"""\s*([a-zA-Z0-9_-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


class HtmlParseError(ValueError):
    """Markup that Telegram would refuse with ``can't parse entities``."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _decode_entities_lenient(value: str) -> str:
    def repl(m: re.Match[str]) -> str:
        return _entity_char(m) or m.group(0)

    return _ENTITY_RE.sub(repl, value)


def _entity_char(m: re.Match[str]) -> str | None:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def parse_html(source: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram's HTML subset into (visible text, entities); ``HtmlParseError`` where Telegram refuses.

    Supported: b strong i em u ins s strike del span class="tg-spoiler" tg-spoiler a href code pre
    blockquote tg-emoji emoji-id; entities &lt; &gt; &amp; &quot; and numeric ones. Any other tag, an
    unescaped ``<``, or wrongly nested tags are errors. With ``strict_ampersand`` (the default) an ``&``
    that does not form an entity is an error too (Telegram itself keeps it literally).
    """
    out: list[str] = []
    u16 = 0  # UTF-16 length of the text produced so far
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)

    def byte_offset(pos: int) -> int:
        return len(source[:pos].encode())

    while i < n:
        ch = source[i]
        if ch == "&":
            m = _ENTITY_RE.match(source, i)
            char = _entity_char(m) if m else None
            if m and char is not None:
                out.append(char)
                u16 += utf16_len(char)
                i = m.end()
                continue
            if strict_ampersand:
                raise HtmlParseError(f'Unescaped "&" at byte offset {byte_offset(i)} (use &amp;; strict stand-in rule)')
            out.append(ch)
            u16 += 1
            i += 1
            continue
        if ch != "<":
            out.append(ch)
            u16 += utf16_len(ch)
            i += 1
            continue
        # a tag
        tag_start = i
        if source.startswith("</", i):
            m = _TAG_NAME_RE.match(source, i + 2)
            assert m is not None
            name = m.group(0).lower()
            j = m.end()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise HtmlParseError(f"Unclosed end tag at byte offset {byte_offset(tag_start)}")
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {byte_offset(tag_start)}")
            open_name, start_u16, attrs = stack[-1]
            if name != open_name:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {byte_offset(tag_start)}, expected "</{open_name}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            length = u16 - start_u16
            entity = _make_entity(open_name, start_u16, length, attrs, stack)
            if entity is not None and length > 0:
                entities.append(entity)
            i = j + 1
            continue
        m = _TAG_NAME_RE.match(source, i + 1)
        assert m is not None
        raw_name = m.group(0)
        name = raw_name.lower()
        if name not in _TAG_ENTITY:
            raise HtmlParseError(f'Unsupported start tag "{raw_name}" at byte offset {byte_offset(tag_start)}')
        j = m.end()
        attrs: dict[str, str] = {}
        while True:
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise HtmlParseError(f"Unclosed start tag at byte offset {byte_offset(tag_start)}")
            if source[j] == ">":
                j += 1
                break
            am = _ATTR_RE.match(source, j)
            if am is None or am.end() == j:
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {byte_offset(j)}"
                )
            value = next((g for g in am.groups()[1:] if g is not None), "")
            attrs[am.group(1).lower()] = _decode_entities_lenient(value)
            j = am.end()
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(tag_start)}')
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise HtmlParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {byte_offset(tag_start)}'
            )
        stack.append((name, u16, attrs))
        i = j
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _make_entity(
    name: str, offset: int, length: int, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, str]]]
) -> dict[str, Any] | None:
    kind = _TAG_ENTITY[name]
    entity: dict[str, Any] = {"offset": offset, "length": length, "type": kind}
    if kind == "text_link":
        href = attrs.get("href")
        if not href:
            return None
        m = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if m:
            return {
                **entity,
                "type": "text_mention",
                "user": {"id": int(m.group(1)), "is_bot": False, "first_name": ""},
            }
        entity["url"] = href
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = attrs["emoji-id"]
    elif kind == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "").startswith("language-"):
        stack[-1][2]["\0language"] = attrs["class"][len("language-") :]
        return None  # becomes the language of the enclosing <pre>
    elif kind == "pre" and attrs.get("\0language"):
        entity["language"] = attrs["\0language"]
    elif kind == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    return entity


#: MessageEntity types of the Bot API (https://core.telegram.org/bots/api#messageentity) and the field each needs
ENTITY_TYPES: dict[str, str | None] = {
    "mention": None, "hashtag": None, "cashtag": None, "bot_command": None, "url": None, "email": None,
    "phone_number": None, "bold": None, "italic": None, "underline": None, "strikethrough": None,
    "spoiler": None, "blockquote": None, "expandable_blockquote": None, "code": None, "pre": None,
    "text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id",
}  # fmt: skip


def _check_entities(text: str, entities: list[Any]) -> None:
    """Explicit ``entities``: known types with their fields, offsets and lengths in UTF-16 code units inside the
    text. Telegram itself silently trims or drops an entity that overruns the text; the stand-in refuses it
    (a strict rule, like the ampersand one): an entity past the end means the bot counted in code points or
    bytes where Telegram counts UTF-16 units, and the formatting lands on the wrong characters."""
    total = utf16_len(text)
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict):
            raise bad_request(f"can't parse entities: entity {index} must be an Object")
        kind, offset, length = entity.get("type"), entity.get("offset"), entity.get("length")
        if kind not in ENTITY_TYPES:
            raise bad_request(f"can't parse entities: unsupported entity type {kind!r} in entity {index}")
        if not isinstance(offset, int) or not isinstance(length, int) or isinstance(offset, bool):
            raise bad_request(f"can't parse entities: entity {index} needs integer offset and length")
        if offset < 0 or length <= 0 or offset + length > total:
            raise bad_request(
                f"can't parse entities: entity {index} ({kind}) at {offset}+{length} is outside the text of "
                f"{total} UTF-16 code units (strict stand-in rule: Telegram would trim it)"
            )
        needed = ENTITY_TYPES[kind]
        if needed is not None and not entity.get(needed):
            raise bad_request(f"can't parse entities: entity {index} of type {kind} needs {needed}")


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace as Telegram does, keeping entity offsets consistent."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    out = []
    for ent in entities:
        start = max(ent["offset"] - lead, 0)
        end = min(ent["offset"] + ent["length"] - lead, total)
        if end > start:
            out.append({**ent, "offset": start, "length": end - start})
    return stripped, out


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One HTTP call the bot made: method, decoded params, arrival time (monotonic) and the reply sent."""

    method: str
    params: dict[str, Any]
    at: float
    response: dict[str, Any] | None = None
    status: int | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    finished_at: float | None = None
    injected: str | None = None  # "429" / "5xx" / "lost" / "queued" when a fault answered it
    via_webhook_reply: bool = False
    content_type: str | None = None  # how the client encoded the request
    user_agent: str | None = None  # the client library that made the call (aiogram's, python-telegram-bot's)

    @property
    def ok(self) -> bool:
        """Whether Telegram answered ``ok: true``."""
        return bool(self.response and self.response.get("ok"))

    @property
    def chat_id(self) -> Any:
        """The ``chat_id`` parameter, if any."""
        return self.params.get("chat_id")

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call."""
        return (self.response or {}).get("result")

    @property
    def description(self) -> str | None:
        """The error description of a failed call."""
        return (self.response or {}).get("description")

    def __repr__(self) -> str:
        status = "pending" if self.response is None else ("ok" if self.ok else f"{self.status} {self.description}")
        shown = {k: v for k, v in self.params.items() if k not in {"reply_markup", "entities"}}
        return f"<Call {self.method} {shown} -> {status}>"


class Msg:
    """A message in a chat as the stand-in keeps it: its current Telegram JSON plus test-only metadata.

    The object is live: edits made by the bot later are visible through it.
    """

    def __init__(self, chat: Chat, data: dict[str, Any], *, from_bot: bool, method: str | None = None) -> None:
        self.chat = chat
        self.data = data
        self.from_bot = from_bot
        self.method = method
        self.source: str | None = None  # the markup the bot sent (HTML source), for debugging
        self.reply_keyboard: dict[str, Any] | None = None  # ReplyKeyboardMarkup/Remove/ForceReply sent with it
        self.deleted = False
        self.history: list[dict[str, Any]] = []  # previous versions (before each edit)
        self.created_at = time.monotonic()

    @property
    def id(self) -> int:
        """The message_id."""
        return int(self.data["message_id"])

    message_id = id

    @property
    def chat_id(self) -> int:
        """The chat's id."""
        return self.chat.id

    @property
    def text(self) -> str | None:
        """Current visible text (no markup), or None for media."""
        return self.data.get("text")

    @property
    def caption(self) -> str | None:
        """Current visible caption."""
        return self.data.get("caption")

    @property
    def content(self) -> str:
        """Text or caption, whichever the message has, else ``""``."""
        return self.data.get("text") or self.data.get("caption") or ""

    @property
    def kind(self) -> str:
        """``text``, ``photo``, ``document``… or the service key."""
        for key in ("text", *MEDIA_KEYS, "location", "venue", "contact", "poll", "dice", *SERVICE_KEYS):
            if key in self.data:
                return key
        return "unknown"

    @property
    def is_service(self) -> bool:
        """Whether it is a service message (new members, topic created, …)."""
        return any(key in self.data for key in SERVICE_KEYS)

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        """The current inline keyboard, as Telegram returns it."""
        return self.data.get("reply_markup")

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of inline buttons (empty when none)."""
        return (self.data.get("reply_markup") or {}).get("inline_keyboard") or []

    @property
    def buttons(self) -> list[str]:
        """Texts of the inline buttons, row by row."""
        return [b.get("text", "") for row in self.inline_keyboard for b in row]

    @property
    def keyboard_buttons(self) -> list[str]:
        """Texts of the reply-keyboard buttons sent with this message."""
        rows = (self.reply_keyboard or {}).get("keyboard") or []
        return [b if isinstance(b, str) else b.get("text", "") for row in rows for b in row]

    def button(self, text: str) -> dict[str, Any]:
        """The inline button labelled ``text`` (exact, then case-insensitive, then unique substring match)."""
        buttons = [b for row in self.inline_keyboard for b in row]
        for test in (
            lambda b: b.get("text") == text,
            lambda b: b.get("text", "").strip().casefold() == text.strip().casefold(),
        ):
            hits = [b for b in buttons if test(b)]
            if hits:
                return hits[0]
        hits = [b for b in buttons if text.strip().casefold() in b.get("text", "").casefold()]
        if len(hits) == 1:
            return hits[0]
        raise AssertionError(
            f"no{' unique' if hits else ''} inline button {text!r} on message #{self.id} "
            f"in chat {self.chat.id};"
            f" available: {self.buttons!r}\n{self.describe()}"
        )

    @property
    def reply_to(self) -> int | None:
        """message_id of the message this one replies to."""
        reply = self.data.get("reply_to_message")
        return reply["message_id"] if reply else None

    @property
    def thread_id(self) -> int | None:
        """message_thread_id, if any."""
        return self.data.get("message_thread_id")

    @property
    def sender_id(self) -> int | None:
        """``from.id``."""
        return (self.data.get("from") or {}).get("id")

    @property
    def edited(self) -> bool:
        """Whether it was edited since sent."""
        return bool(self.history)

    def to_api(self) -> dict[str, Any]:
        """A copy of the Message JSON as Telegram would return it now."""
        return copy.deepcopy(self.data)

    def describe(self) -> str:
        """One readable line: id, sender, content and buttons."""
        who = "bot" if self.from_bot else (self.data.get("from") or {}).get("first_name", "?")
        content = self.content if self.content else f"<{self.kind}>"
        if len(content) > 300:
            content = content[:300] + "…"
        parts = [f"#{self.id} {who}: {content!r}"]
        if self.buttons:
            parts.append(f"buttons={self.buttons}")
        if self.keyboard_buttons:
            parts.append(f"keyboard={self.keyboard_buttons}")
        if self.reply_to:
            parts.append(f"reply_to=#{self.reply_to}")
        if self.thread_id:
            parts.append(f"thread={self.thread_id}")
        if self.deleted:
            parts.append("(deleted)")
        elif self.history:
            parts.append(f"(edited {len(self.history)}x)")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"<Msg chat={self.chat.id} {self.describe()}>"


@dataclass
class Chat:
    """A chat the stand-in knows: its Telegram JSON and the messages in it as its members see them."""

    id: int
    type: str  # private | group | supergroup | channel
    data: dict[str, Any]
    is_forum: bool = False
    bot_is_admin: bool = True
    started: bool = True  # private chats: the user has written to the bot at least once
    blocked: bool = False
    next_message_id: int = 1
    all: dict[int, Msg] = field(default_factory=dict)
    topics: dict[int, dict[str, Any]] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None  # the reply keyboard the user currently sees
    actions: list[tuple[float, str]] = field(default_factory=list)
    admins: set[int] = field(default_factory=set)

    @property
    def messages(self) -> list[Msg]:
        """Messages not deleted, oldest first (bot's and users' alike)."""
        return [m for m in self.all.values() if not m.deleted]

    @property
    def bot_messages(self) -> list[Msg]:
        """Messages the bot sent (not service, not deleted), oldest first."""
        return [m for m in self.all.values() if m.from_bot and not m.deleted and not m.is_service]

    def get(self, message_id: int | None) -> Msg | None:
        """The live message by id, or None when unknown or deleted."""
        msg = self.all.get(message_id) if message_id is not None else None
        return None if msg is None or msg.deleted else msg

    def take_id(self) -> int:
        """Allocate the next message_id (shared by both sides, as in Telegram)."""
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def history_text(self, last: int = 12) -> str:
        """The last messages, one per line, for failure reports."""
        msgs = list(self.all.values())[-last:]
        if not msgs:
            return "  (no messages)"
        return "\n".join("  " + m.describe() for m in msgs)


@dataclass
class Faults:
    """Runtime fault injection for send-type methods (send*/copy*/forward*/edit*).

    ``every_nth_429 = 3`` answers every third such call with 429 ``retry_after``; ``every_nth_5xx``
    with 502 Bad Gateway; ``every_nth_lost`` performs the call and then drops the connection (the
    bot cannot know it succeeded); ``delay`` seconds before answering. ``fail_next`` queues one-shot
    errors. ``include_polling`` extends all of it to getUpdates.
    """

    every_nth_429: int = 0
    retry_after: int = 1
    every_nth_5xx: int = 0
    every_nth_lost: int = 0
    delay: float = 0.0
    include_polling: bool = False
    methods: frozenset[str] | None = None  # override which methods faults apply to
    seen: int = 0
    injected_429: int = 0
    injected_5xx: int = 0
    lost: int = 0
    _queue: list[tuple[str | None, ApiError]] = field(default_factory=list)

    def applies_to(self, method: str) -> bool:
        """Whether faults hit this method."""
        if self.methods is not None:
            return method in self.methods
        if method == "getUpdates":
            return self.include_polling
        return method.startswith(("send", "copy", "forward", "edit"))

    def fail_next(
        self,
        status: int = 500,
        description: str = "Internal Server Error",
        *,
        method: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching calls (any faultable one if ``method`` is None) with it."""
        params = {"retry_after": retry_after} if retry_after is not None else None
        for _ in range(times):
            self._queue.append((method, ApiError(status, description, params)))

    def reset(self) -> None:
        """Switch every fault off and zero the counters."""
        self.every_nth_429 = self.every_nth_5xx = self.every_nth_lost = 0
        self.delay = 0.0
        self.include_polling = False
        self.methods = None
        self.seen = self.injected_429 = self.injected_5xx = self.lost = 0
        self._queue.clear()

    def _pick(self, method: str) -> tuple[str | None, ApiError | None]:
        """Decide the fault for one call: (kind, error)."""
        for idx, (only, err) in enumerate(self._queue):
            if only is None or only == method:
                del self._queue[idx]
                return "queued", err
        self.seen += 1
        if self.every_nth_429 and self.seen % self.every_nth_429 == 0:
            self.injected_429 += 1
            return "429", ApiError(
                429, f"Too Many Requests: retry after {self.retry_after}", {"retry_after": self.retry_after}
            )
        if self.every_nth_5xx and self.seen % self.every_nth_5xx == 0:
            self.injected_5xx += 1
            return "5xx", ApiError(502, "Bad Gateway")
        if self.every_nth_lost and self.seen % self.every_nth_lost == 0:
            self.lost += 1
            return "lost", None
        return None, None


@dataclass
class _Query:
    id: str
    user_id: int
    message: Msg | None
    data: str | None
    created: float
    answered: bool = False


@dataclass
class _File:
    file_id: str
    unique_id: str
    kind: str
    content: bytes | None
    name: str | None = None
    mime_type: str | None = None
    size: int | None = None


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------

Handler = Callable[[dict[str, Any], dict[str, tuple[bytes, str | None]]], Awaitable[Any]]


class FakeBotAPI:
    """The Bot API stand-in: ``async with FakeBotAPI() as api:``, or ``await api.start()``/``api.stop()``."""

    def __init__(
        self,
        token: str = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz0123",
        *,
        bot_username: str = "intake_test_bot",
        bot_first_name: str = "Intake Test Bot",
        callback_max_age: float = 15.0,
        strict_ampersand: bool = True,
        privacy_mode: bool = True,
    ) -> None:
        self.token = token
        bot_id = int(token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.callback_max_age = callback_max_age
        self.strict_ampersand = strict_ampersand
        self.privacy_mode = privacy_mode
        self.faults = Faults()
        self.flood = FloodControl()
        self.limits = self.flood.limits
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_beat: float | None = None  # when the heartbeat last ran (flood.py: the stand-in's stalls)
        self.calls: list[Call] = []
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, SimUser] = {}
        self.offsets: list[int] = []  # every offset passed to getUpdates, in order
        self.confirmed_update_ids: list[int] = []  # update_ids dropped by offset confirmation, in order
        self.delivered_update_ids: set[int] = set()  # returned by getUpdates (or webhook) at least once
        self.updates: list[dict[str, Any]] = []  # every update ever queued
        self.filtered_updates: list[dict[str, Any]] = []  # not queued: excluded by allowed_updates/privacy
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.diagnostics: list[Callable[[], str]] = []  # extra text for timeout failures (e.g. bot log tail)
        self.expected_refusals: list[str] = []  # patterns of refusals the test provokes (tests/support/refusals.py)
        self.webhook: dict[str, Any] | None = None
        self.webhook_errors: list[str] = []
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.polls = 0
        self._pending: list[dict[str, Any]] = []
        self._update_ids = itertools.count(100_000_001)
        self._queries: dict[str, _Query] = {}
        self._views: dict[int, Any] = {}
        self._files: dict[str, _File] = {}
        self._query_ids = itertools.count(1)
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopping = False
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_inflight: set[int] = set()
        self._last_activity = time.monotonic()
        self._methods: dict[str, tuple[str, Handler]] = {}
        for name in dir(self):
            if name.startswith("m_"):
                method = name[2:]
                self._methods[method.lower()] = (method, getattr(self, name))

    # ---------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """Base URL to give the bot as TELEGRAM_API_URL."""
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def bot_id(self) -> int:
        """The bot's user id (the token's prefix)."""
        return int(self.bot_user["id"])

    async def start(self) -> FakeBotAPI:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._handle_file)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._heartbeat = asyncio.create_task(self._beat(), name="botapi-heartbeat")
        return self

    async def _beat(self) -> None:
        """Notes when this loop last ran freely, so a backlog handled after a stall is told from a burst."""
        while True:
            self._last_beat = time.monotonic()
            await asyncio.sleep(HEARTBEAT)

    def _stalled_since(self) -> float | None:
        """When the loop last ran freely, if that is well over a heartbeat ago (we are working off a backlog)."""
        if self._last_beat is None or time.monotonic() - self._last_beat < STALL:
            return None
        return self._last_beat

    async def stop(self) -> None:
        """Answer pending long polls and shut the server down."""
        self._stopping = True
        self._notify()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- chats and people

    def user(
        self,
        user_id: int,
        first_name: str = "Ann",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool = False,
        started: bool = False,
    ) -> SimUser:
        """A simulated Telegram user (cached by id). Private chat id = user id.

        ``started=True`` pretends the user has already opened the bot, so the bot may write first;
        otherwise the first thing the user sends opens the chat (until then sends get 403).
        """
        from tests.support.users import SimUser

        existing = self.users.get(user_id)
        if existing is not None:
            if started:
                self.chats[user_id].started = True
            return existing
        data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            data["last_name"] = last_name
        if username:
            data["username"] = username
        if language_code:
            data["language_code"] = language_code
        if is_premium:
            data["is_premium"] = True
        chat_data = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            chat_data["last_name"] = last_name
        if username:
            chat_data["username"] = username
        self.chats[user_id] = Chat(id=user_id, type="private", data=chat_data, started=started)
        sim = SimUser(self, data)
        self.users[user_id] = sim
        return sim

    def add_group(
        self,
        chat_id: int,
        title: str = "Staff",
        *,
        is_forum: bool = False,
        bot_is_admin: bool = True,
        username: str | None = None,
        admins: Iterable[int] = (),
    ) -> SimGroup:
        """Register a (super)group the bot is a member of. Ids starting with -100 are supergroups."""

        kind = "supergroup" if str(chat_id).startswith("-100") or is_forum else "group"
        data: dict[str, Any] = {"id": chat_id, "type": kind, "title": title}
        if is_forum:
            data["is_forum"] = True
        if username:
            data["username"] = username
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(id=chat_id, type=kind, data=data)
            self.chats[chat_id] = chat
        chat.data, chat.type, chat.is_forum, chat.bot_is_admin = data, kind, is_forum, bot_is_admin
        chat.admins.update(admins)
        return self.group(chat_id)

    def group(self, chat_id: int) -> SimGroup:
        """A helper view of an already registered group."""
        from tests.support.users import SimGroup

        if chat_id not in self.chats:
            raise KeyError(f"group {chat_id} is not registered; call api.add_group first")
        view = self._views.get(chat_id)
        if not isinstance(view, SimGroup):
            view = self._views[chat_id] = SimGroup(self, chat_id)
        return view

    def add_channel(self, chat_id: int, title: str = "News", *, username: str | None = None) -> SimChannel:
        """Register a channel where the bot is an administrator."""
        from tests.support.users import SimChannel

        data: dict[str, Any] = {"id": chat_id, "type": "channel", "title": title}
        if username:
            data["username"] = username
        self.chats[chat_id] = Chat(id=chat_id, type="channel", data=data)
        view = self._views[chat_id] = SimChannel(self, chat_id)
        return view

    def chat(self, chat_id: int) -> Chat:
        """The stand-in's record of a chat (``.messages``, ``.bot_messages``, ``.topics`` …)."""
        try:
            return self.chats[chat_id]
        except KeyError:
            raise KeyError(f"chat {chat_id} is unknown to the stand-in") from None

    def block(self, chat_id: int) -> None:
        """The user blocks the bot (or the group kicks it): sends get 403. In a private chat Telegram also
        sends a ``my_chat_member`` update (member → kicked)."""
        chat = self.chat(chat_id)
        if not chat.blocked and chat.type == "private":
            self._member_update(chat, "member", "kicked")
        chat.blocked = True

    def unblock(self, chat_id: int) -> None:
        """Undo ``block`` (in a private chat: ``my_chat_member`` kicked → member)."""
        chat = self.chat(chat_id)
        if chat.blocked and chat.type == "private":
            self._member_update(chat, "kicked", "member")
        chat.blocked = False

    def _member_update(self, chat: Chat, old: str, new: str) -> None:
        sim = self.users.get(chat.id)
        user = sim.data if sim is not None else {"id": chat.id, "is_bot": False, "first_name": "?"}
        bot = copy.deepcopy(self.bot_user)

        def member(status: str) -> dict[str, Any]:
            return {"status": status, "user": bot, **({"until_date": 0} if status == "kicked" else {})}

        self.enqueue(
            "my_chat_member",
            {
                "chat": copy.deepcopy(chat.data),
                "from": copy.deepcopy(user),
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    # ---------------------------------------------------------------- incoming updates

    def enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update of ``kind`` (message, callback_query, …). Returns it, or None if Telegram would not
        deliver it because of the bot's allowed_updates setting."""
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        if kind not in self.allowed_updates:
            self.filtered_updates.append(update)
            return None
        self.updates.append(update)
        self._pending.append(update)
        self._activity()
        self._notify()
        return update

    def post_incoming(
        self,
        chat_id: int,
        fields: dict[str, Any],
        *,
        sender: dict[str, Any] | None,
        sender_chat: dict[str, Any] | None = None,
        reply_to: Msg | int | None = None,
        thread_id: int | None = None,
        kind: str = "message",
    ) -> tuple[Msg, dict[str, Any] | None]:
        """Store a message written by a person (or channel) and queue its update; returns (msg, update)."""
        chat = self.chat(chat_id)
        if chat.type == "private":
            chat.started = True
        reply_msg = None
        if reply_to is not None:
            reply_msg = chat.get(reply_to.id if isinstance(reply_to, Msg) else int(reply_to))
            if reply_msg is None:
                raise AssertionError(f"cannot reply to {reply_to!r}: no such message in chat {chat_id}")
        data: dict[str, Any] = {"message_id": chat.take_id()}
        if sender is not None:
            data["from"] = copy.deepcopy(sender)
        if sender_chat is not None:
            data["sender_chat"] = copy.deepcopy(sender_chat)
        data["chat"] = copy.deepcopy(chat.data)
        data["date"] = int(time.time())
        if chat.is_forum:
            if thread_id is None and reply_msg is not None and reply_msg.data.get("is_topic_message"):
                thread_id = reply_msg.data.get("message_thread_id")
            if thread_id is not None:
                if thread_id not in chat.topics:
                    raise AssertionError(f"topic {thread_id} does not exist in forum {chat_id}: {list(chat.topics)}")
                data["message_thread_id"] = thread_id
                data["is_topic_message"] = True
                if reply_msg is None:
                    # Telegram marks a plain message in a topic as a reply to the topic's service message.
                    reply_msg = chat.get(thread_id)
        if reply_msg is not None:
            data["reply_to_message"] = _shallow(reply_msg)
        data.update(copy.deepcopy(fields))
        msg = Msg(chat, data, from_bot=False)
        chat.all[msg.id] = msg
        update: dict[str, Any] | None
        if kind == "message" and chat.type in {"group", "supergroup"} and not self._bot_sees(chat, msg):
            self.filtered_updates.append({"update_id": None, kind: msg.to_api(), "reason": "privacy mode"})
            update = None
        else:
            update = self.enqueue(kind, msg.to_api())
        self._activity()
        return msg, update

    def _bot_sees(self, chat: Chat, msg: Msg) -> bool:
        """Privacy mode: a non-admin bot sees commands, replies to it and service messages only."""
        if chat.bot_is_admin or not self.privacy_mode or msg.is_service:
            return True
        if any(e.get("type") == "bot_command" for e in msg.data.get("entities", [])):
            return True
        reply = msg.data.get("reply_to_message") or {}
        return (reply.get("from") or {}).get("id") == self.bot_id

    def new_callback_query(self, user: dict[str, Any], message: Msg, data: str | None) -> tuple[str, dict | None]:
        """Queue a callback_query update for a button press; returns (query id, update)."""
        qid = f"{user['id']}{next(self._query_ids):010d}"
        self._queries[qid] = _Query(qid, user["id"], message, data, time.monotonic())
        chat_instance = str(int(hashlib.sha1(str(message.chat.id).encode()).hexdigest()[:15], 16))
        payload: dict[str, Any] = {
            "id": qid,
            "from": copy.deepcopy(user),
            "message": message.to_api(),
            "chat_instance": chat_instance,
        }
        if data is not None:
            payload["data"] = data
        update = self.enqueue("callback_query", payload)
        self._activity()
        return qid, update

    def register_file(
        self,
        kind: str,
        content: bytes | None = None,
        *,
        name: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
    ) -> _File:
        """Create a file Telegram would know (sent by a user or uploaded by the bot)."""
        token = secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")
        rec = _File(
            file_id=_FILE_PREFIX.get(kind, "BQACAgIAAxkBAAI") + token,
            unique_id="AQAD" + secrets.token_urlsafe(9).replace("-", "C").replace("_", "D"),
            kind=kind,
            content=content,
            name=name,
            mime_type=mime_type,
            size=size if size is not None else (len(content) if content is not None else None),
        )
        self._files[rec.file_id] = rec
        return rec

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes behind a file id (what the bot uploaded, e.g. a chart or a CSV), None when unknown or
        when the file has no stored bytes (sent by URL, or a smaller size of a photo)."""
        rec = self._files.get(file_id)
        return rec.content if rec is not None else None

    def photo_sizes(self, rec: _File) -> list[dict[str, Any]]:
        """The PhotoSize array Telegram returns for a photo (three sizes, same picture)."""
        out = []
        size = rec.size or 65_000
        for w, h, scale in ((90, 67, 0.02), (320, 240, 0.2), (800, 600, 1.0)):
            if (w, h) == (800, 600):
                fid, uid = rec.file_id, rec.unique_id
            else:
                small = self.register_file("photo", None, size=int(size * scale))
                fid, uid = small.file_id, small.unique_id
            out.append(
                {
                    "file_id": fid,
                    "file_unique_id": uid,
                    "file_size": int(size * scale),
                    "width": w,
                    "height": h,
                }
            )
        return out

    # ---------------------------------------------------------------- waiting and reports

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _activity(self) -> None:
        self._last_activity = time.monotonic()

    async def wait_changed(self, timeout: float) -> bool:
        """Wait until anything happens (a call, an update); False on timeout."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_until(
        self,
        condition: Callable[[], Any],
        timeout: float = 10.0,
        message: str | Callable[[], str] = "condition",
    ) -> Any:
        """Wait until ``condition()`` is truthy and return it; AssertionError with diagnostics on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                text = message() if callable(message) else message
                raise AssertionError(f"timed out after {timeout}s waiting for {text}\n{self.diagnose()}")
            await self.wait_changed(min(remaining, 0.25))

    def diagnose(self, chat_id: int | None = None) -> str:
        """Failure context: recent failed calls (for a chat, if given) and registered diagnostics."""
        lines = []
        failed = [c for c in self.calls if c.response is not None and not c.ok and c.method != "getUpdates"]
        if chat_id is not None:
            failed = [c for c in failed if c.chat_id == chat_id]
        if failed:
            lines.append("Recent failed bot calls" + (f" to chat {chat_id}" if chat_id is not None else "") + ":")
            lines += [f"  {c!r}" for c in failed[-8:]]
        lines.append(f"polls={self.polls} pending_updates={[u['update_id'] for u in self._pending]}")
        for hook in self.diagnostics:
            try:
                lines.append(hook())
            except Exception as exc:  # diagnostics must never hide the real failure
                lines.append(f"(diagnostic hook failed: {exc!r})")
        return "\n".join(lines)

    async def wait_polling(self, timeout: float = 10.0, since: float | None = None) -> Call:
        """Wait for a getUpdates call that arrived at or after ``since`` (monotonic; default: now)."""
        start = time.monotonic() if since is None else since
        return await self.wait_until(
            lambda: next((c for c in self.calls if c.method == "getUpdates" and c.at >= start), None),
            timeout,
            "a getUpdates call",
        )

    async def wait_call(
        self,
        method: str | Iterable[str],
        predicate: Callable[[Call], bool] | None = None,
        *,
        since: float | None = None,
        timeout: float = 10.0,
        finished: bool = True,
    ) -> Call:
        """Wait for a call of ``method`` (made at or after ``since``) that satisfies ``predicate``."""
        names = {method} if isinstance(method, str) else set(method)
        start = 0.0 if since is None else since

        def find() -> Call | None:
            for c in self.calls:
                if (
                    c.method in names
                    and c.at >= start
                    and (not finished or c.response is not None)
                    and (predicate is None or predicate(c))
                ):
                    return c
            return None

        return await self.wait_until(find, timeout, f"a call to {sorted(names)}")

    async def wait_update_confirmed(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the bot confirmed ``update_id`` (polled with a higher offset, or webhook 2xx)."""
        await self.wait_until(lambda: self.is_confirmed(update_id), timeout, f"confirmation of update {update_id}")

    async def wait_callback_answer(self, query_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the bot answered callback query ``query_id``; returns the answer's parameters."""
        return await self.wait_until(
            lambda: self.callback_answers.get(query_id), timeout, f"answerCallbackQuery for query {query_id}"
        )

    async def wait_quiet(self, seconds: float = 1.0, timeout: float = 30.0) -> None:
        """Wait until all queued updates were fetched and no call but getUpdates came for ``seconds``."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            undelivered = [u for u in self._pending if u["update_id"] not in self.delivered_update_ids]
            inflight = [c for c in self.calls if c.response is None and c.method != "getUpdates"]
            quiet_for = now - self._last_activity
            if not undelivered and not inflight and quiet_for >= seconds:
                return
            if now >= deadline:
                raise AssertionError(
                    f"bot did not go quiet for {seconds}s within {timeout}s "
                    f"(undelivered={len(undelivered)}, in flight={inflight})\n{self.diagnose()}"
                )
            await asyncio.sleep(min(0.05, max(seconds - quiet_for, 0.01)))

    def is_confirmed(self, update_id: int) -> bool:
        """Whether the update was confirmed (dropped from the queue)."""
        return update_id in set(self.confirmed_update_ids)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed."""
        return list(self._pending)

    def calls_to(self, chat_id: int | str | None = None, methods: str | Iterable[str] | None = None) -> list[Call]:
        """Recorded calls addressed to ``chat_id`` (any chat if None), optionally of the given methods."""
        names = None if methods is None else ({methods} if isinstance(methods, str) else set(methods))
        return [
            c for c in self.calls if (chat_id is None or c.chat_id == chat_id) and (names is None or c.method in names)
        ]

    def expect_refusals(self, *patterns: str) -> None:
        """Name refusals (and delivery fallbacks) this test provokes on purpose: regular expressions searched in
        ``"METHOD STATUS description"``; anything else refused fails the test (tests/support/refusals.py)."""
        self.expected_refusals.extend(patterns)

    def unexpected_refusals(self, *patterns: str) -> list[Call]:
        """Calls refused that were neither injected (``faults``) nor named (``expect_refusals``, ``patterns``)."""
        return refusals.unexpected_refusals(self, patterns)

    def errors(self, chat_id: int | None = None) -> list[Call]:
        """Calls answered with an error (optionally to one chat), getUpdates excluded."""
        return [c for c in self.calls_to(chat_id) if c.response is not None and not c.ok and c.method != "getUpdates"]

    def _successful_sends(self, include_edits: bool = False) -> list[Call]:
        names = MESSAGE_METHODS | (EDIT_METHODS if include_edits else frozenset())
        return [c for c in self.calls if c.method in names and c.ok]

    def min_interval_per_chat(self, chat_id: int | None = None, include_edits: bool = False) -> float | None:
        """Smallest gap (s) between two successful sends to the same private chat (None if < 2 sends)."""
        by_chat: dict[Any, list[float]] = {}
        for c in self._successful_sends(include_edits):
            chat = self.chats.get(c.chat_id) if isinstance(c.chat_id, int) else None
            if chat is None or chat.type != "private" or (chat_id is not None and c.chat_id != chat_id):
                continue
            by_chat.setdefault(c.chat_id, []).append(c.at)
        gaps = [b - a for times in by_chat.values() for a, b in itertools.pairwise(sorted(times))]
        return min(gaps) if gaps else None

    def max_sends_per_second(self, include_edits: bool = False) -> int:
        """Most successful sends (all chats) inside any 1-second window."""
        return _max_in_window([c.at for c in self._successful_sends(include_edits)], 1.0)

    def max_sends_per_minute(self, group_id: int | None = None, include_edits: bool = False) -> int:
        """Most successful sends to one group (or the worst group) inside any 60-second window."""
        by_chat: dict[Any, list[float]] = {}
        for c in self._successful_sends(include_edits):
            chat = self.chats.get(c.chat_id) if isinstance(c.chat_id, int) else None
            if chat is None or chat.type not in {"group", "supergroup"}:
                continue
            if group_id is None or c.chat_id == group_id:
                by_chat.setdefault(c.chat_id, []).append(c.at)
        return max((_max_in_window(t, 60.0) for t in by_chat.values()), default=0)

    def duplicate_sends(self, chat_id: int | None = None) -> list[tuple[int, str, int]]:
        """(chat_id, content, count) for identical bot messages that were sent more than once to a chat."""
        counts: dict[tuple[int, str], int] = {}
        for chat in self.chats.values():
            if chat_id is not None and chat.id != chat_id:
                continue
            for m in chat.all.values():
                if m.from_bot and not m.is_service:
                    key = (chat.id, _content_key(m))
                    counts[key] = counts.get(key, 0) + 1
        return [(cid, content, n) for (cid, content), n in counts.items() if n > 1]

    def exact_once_report(self) -> dict[str, Any]:
        """Summary for exactly-once checks: duplicates, undelivered updates, errors by description."""
        errors: dict[str, int] = {}
        for c in self.errors():
            errors[f"{c.method}: {c.description}"] = errors.get(f"{c.method}: {c.description}", 0) + 1
        return {
            "duplicates": self.duplicate_sends(),
            "unconfirmed_updates": [u["update_id"] for u in self._pending],
            "errors": errors,
            "injected": {
                "429": self.faults.injected_429,
                "5xx": self.faults.injected_5xx,
                "lost": self.faults.lost,
            },
        }

    # ---------------------------------------------------------------- HTTP plumbing

    async def _decode(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[bytes, str | None]]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[bytes, str | None]] = {}
        ctype = request.content_type
        if request.method == "POST" and request.can_read_body:
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON encoded request body") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected as request body")
                raw.update(body)
            elif ctype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = (value.file.read(), value.filename)
                    else:
                        raw[key] = value
            else:
                await request.read()
        return _coerce(raw), files

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404
            )
        method, handler = entry
        call = Call(method=method, params={}, at=time.monotonic())
        self.calls.append(call)
        if method != "getUpdates":
            self._activity()
        self._notify()
        lost = False
        call.content_type = request.content_type if request.can_read_body else None
        call.user_agent = request.headers.get("User-Agent")
        try:
            params, files = await self._decode(request)
            call.params, call.files = params, {k: v[0] for k, v in files.items()}
            if self.faults.applies_to(method):
                if self.faults.delay:
                    await asyncio.sleep(self.faults.delay)
                kind, err = self.faults._pick(method)
                call.injected = kind
                if err is not None:
                    raise err
                lost = kind == "lost"
            if method in MESSAGE_METHODS or method in EDIT_METHODS:
                self._check_flood(params)
            result = await handler(params, files)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.body()
        except asyncio.CancelledError:
            call.status, call.response = (
                499,
                {"ok": False, "error_code": 499, "description": "client went away"},
            )
            call.finished_at = time.monotonic()
            self._notify()
            raise
        call.status, call.response, call.finished_at = status, body, time.monotonic()
        if method != "getUpdates":
            self._activity()
        self._notify()
        if lost and request.transport is not None:
            request.transport.abort()  # the call took effect, but the bot never hears back
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        rec = next((f for f in self._files.values() if _file_path(f) == path), None)
        if rec is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=rec.content or b"\x00" * min(rec.size or 16, 1024))

    def _check_flood(self, params: dict[str, Any]) -> None:
        """Telegram's flood limits (tests/support/flood.py): 429 with a retry_after that grows with the overshoot."""
        chat = self._lookup_chat(params.get("chat_id"))
        retry_after = self.flood.check(
            chat.id if chat else None, chat.type if chat else None, stalled_since=self._stalled_since()
        )
        if retry_after is not None:
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    # ---------------------------------------------------------------- shared validation

    def _lookup_chat(self, value: Any) -> Chat | None:
        if isinstance(value, int):
            return self.chats.get(value)
        if isinstance(value, str) and value.startswith("@"):
            name = value[1:].lower()
            return next((c for c in self.chats.values() if str(c.data.get("username", "")).lower() == name), None)
        return None

    def _chat(self, p: dict[str, Any], key: str = "chat_id", *, write: bool = True) -> Chat:
        value = p.get(key)
        if value is None or value == "":
            raise bad_request(f"{key} is empty")
        chat = self._lookup_chat(value)
        if chat is None:
            raise bad_request("chat not found")
        if write:
            if chat.blocked:
                if chat.type == "private":
                    raise ApiError(403, "Forbidden: bot was blocked by the user")
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            if chat.type == "private" and not chat.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _text(
        self, p: dict[str, Any], key: str, entities_key: str, limit: int, *, required: bool
    ) -> tuple[str | None, list[dict[str, Any]]]:
        raw = p.get(key)
        if raw is None or raw == "":
            if required:
                raise bad_request("message text is empty")
            return None, []
        if not isinstance(raw, str):
            raw = str(raw)
        mode = p.get("parse_mode")
        if mode:
            low = str(mode).lower()
            if low == "html":
                try:
                    text, entities = parse_html(raw, strict_ampersand=self.strict_ampersand)
                except HtmlParseError as exc:
                    raise bad_request(f"can't parse entities: {exc}") from None
            elif low in {"markdownv2", "markdown"}:
                raise bad_request(
                    f"can't parse entities: parse_mode {mode} is not accepted by the test stand-in; use HTML"
                )
            else:
                raise bad_request("unsupported parse_mode")
        else:
            text = raw
            entities = p.get(entities_key) or []
            if not isinstance(entities, list):
                raise bad_request(f"can't parse {entities_key} JSON object")
            _check_entities(text, entities)
        text, entities = _trim(text, entities)
        if not text:
            if required:
                raise bad_request("message text is empty")
            return None, []
        if utf16_len(text) > limit:
            raise bad_request("message is too long" if key == "text" else "message caption is too long")
        return text, entities

    def _markup(self, p: dict[str, Any], *, inline_only: bool = False) -> tuple[dict | None, dict | None]:
        """Validate reply_markup; returns (inline keyboard or None, other markup or None)."""
        markup = p.get("reply_markup")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            total = 0
            for row in rows:
                for button in row:
                    total += 1
                    _check_inline_button(button)
            if total > 100:
                raise bad_request("reply markup is too long")
            return ({"inline_keyboard": copy.deepcopy(rows)} if total else None), None
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
                raise bad_request("keyboard must be non-empty")
            for row in rows:
                for button in row:
                    text = button if isinstance(button, str) else (button or {}).get("text")
                    if not isinstance(text, str) or not text.strip():
                        raise bad_request("BUTTON_DATA_INVALID")
            return None, copy.deepcopy(markup)
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return None, copy.deepcopy(markup)
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, chat: Chat, p: dict[str, Any]) -> Msg | None:
        rp = p.get("reply_parameters") or {}
        if not isinstance(rp, dict):
            raise bad_request("can't parse reply parameters JSON object")
        mid = rp.get("message_id", p.get("reply_to_message_id"))
        if mid is None:
            return None
        allow = rp.get("allow_sending_without_reply", p.get("allow_sending_without_reply", False))
        target_chat = chat
        if rp.get("chat_id") not in (None, chat.id):
            target_chat = self._lookup_chat(rp.get("chat_id")) or chat
        msg = target_chat.get(int(mid))
        if msg is None and not allow:
            raise bad_request("message to be replied not found")
        return msg

    def _thread(self, chat: Chat, p: dict[str, Any], reply_to: Msg | None) -> int | None:
        tid = p.get("message_thread_id")
        if chat.type not in {"group", "supergroup"}:
            return None
        if tid is None and reply_to is not None and reply_to.data.get("is_topic_message"):
            tid = reply_to.data.get("message_thread_id")
        if tid is None:
            return None
        if chat.is_forum:
            if tid not in chat.topics:
                raise bad_request("message thread not found")
            if chat.topics[tid].get("closed"):
                raise bad_request("TOPIC_CLOSED")
            return int(tid)
        if chat.get(int(tid)) is None:
            raise bad_request("message thread not found")
        return None

    def _store_bot_message(
        self,
        chat: Chat,
        content: dict[str, Any],
        *,
        method: str,
        reply_to: Msg | None = None,
        thread_id: int | None = None,
        inline: dict[str, Any] | None = None,
        other: dict[str, Any] | None = None,
        source: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Msg:
        data: dict[str, Any] = {"message_id": chat.take_id()}
        if chat.type == "channel":
            data["sender_chat"] = copy.deepcopy(chat.data)
        else:
            data["from"] = copy.deepcopy(self.bot_user)
        data["chat"] = copy.deepcopy(chat.data)
        data["date"] = int(time.time())
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            data["is_topic_message"] = True
        if reply_to is not None:
            data["reply_to_message"] = _shallow(reply_to)
        if extra:
            data.update(extra)
        data.update(content)
        if inline:
            data["reply_markup"] = inline
        msg = Msg(chat, data, from_bot=True, method=method)
        msg.source = source
        msg.reply_keyboard = other
        if other is not None:
            chat.reply_keyboard = (
                None if other.get("remove_keyboard") else (other if "keyboard" in other else chat.reply_keyboard)
            )
        chat.all[msg.id] = msg
        return msg

    def _file(self, p: dict[str, Any], files: dict[str, tuple[bytes, str | None]], key: str, kind: str) -> _File:
        value = p.get(key)
        if value is None and key in files:
            content, filename = files[key]
            return self.register_file(kind, content, name=filename, mime_type=_guess_mime(filename))
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {key} in the request")
        if value.startswith("attach://"):
            name = value[len("attach://") :]
            if name not in files:
                raise bad_request(f"{key} must be attached as multipart file {name!r}")
            content, filename = files[name]
            if not content:
                raise bad_request("file must be non-empty")
            return self.register_file(kind, content, name=filename, mime_type=_guess_mime(filename))
        if value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1] or None
            return self.register_file(kind, None, name=name, mime_type=_guess_mime(name), size=12_345)
        rec = self._files.get(value)
        if rec is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        compatible = {kind} | ({"video", "audio", "animation", "voice"} if kind == "document" else set())
        if rec.kind not in compatible:
            raise bad_request(f"can't use file of type {rec.kind.title().replace('_', '')} as {kind.title()}")
        return rec

    def _media_content(self, kind: str, rec: _File, p: dict[str, Any]) -> dict[str, Any]:
        if kind == "photo":
            return {"photo": self.photo_sizes(rec)}
        obj: dict[str, Any] = {"file_id": rec.file_id, "file_unique_id": rec.unique_id}
        if kind in {"document", "audio", "video", "animation"} and rec.name:
            obj["file_name"] = rec.name
        if rec.mime_type and kind != "sticker":
            obj["mime_type"] = rec.mime_type
        if rec.size is not None:
            obj["file_size"] = rec.size
        if kind in {"voice", "audio", "video", "video_note", "animation"}:
            obj["duration"] = int(p.get("duration") or 3)
        if kind in {"video", "animation"}:
            obj.update(width=int(p.get("width") or 640), height=int(p.get("height") or 360))
        if kind == "video_note":
            obj["length"] = int(p.get("length") or 240)
        if kind == "sticker":
            obj.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
        return {kind: obj}

    def _caption(self, p: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        caption, entities = self._text(p, "caption", "caption_entities", CAPTION_LIMIT, required=False)
        out: dict[str, Any] = {}
        if caption is not None:
            out["caption"] = caption
            if entities:
                out["caption_entities"] = entities
        return out, p.get("caption")

    def _edit_target(self, p: dict[str, Any]) -> Msg:
        if p.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(p)
        mid = p.get("message_id")
        if mid is None:
            raise bad_request("message identifier is not specified")
        msg = chat.get(mid)
        if msg is None:
            raise bad_request("message to edit not found")
        if not msg.from_bot or msg.is_service:
            raise bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: Msg, changes: dict[str, Any], remove: Iterable[str]) -> dict[str, Any]:
        msg.history.append(copy.deepcopy(msg.data))
        for key in remove:
            msg.data.pop(key, None)
        msg.data.update(changes)
        msg.data["edit_date"] = int(time.time())
        return msg.to_api()

    # ---------------------------------------------------------------- methods: updates and bot

    async def m_getUpdates(self, p: dict[str, Any], files: dict) -> list[dict[str, Any]]:
        """Long polling with Telegram's offset confirmation semantics and 409 on concurrent polls."""
        self.polls += 1
        if self.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # wakes an older poll so that it answers 409
        offset = p.get("offset")
        limit = p.get("limit") or 100
        if not 1 <= int(limit) <= 100:
            limit = 100
        timeout = max(0.0, float(p.get("timeout") or 0))
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if offset is not None:
            self.offsets.append(int(offset))
            self._confirm(int(offset))
        deadline = time.monotonic() + timeout
        while True:
            if self._stopping:
                return []
            if generation != self._poll_generation:
                if self.webhook:
                    raise ApiError(409, "Conflict: terminated by setWebhook request")
                raise ApiError(409, CONFLICT_POLL)
            batch = [u for u in self._pending if u["update_id"] not in self._webhook_inflight][: int(limit)]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                for u in batch:
                    self.delivered_update_ids.add(u["update_id"])
                return copy.deepcopy(batch)
            await self.wait_changed(remaining)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            keep = self._pending[offset:] if -offset < len(self._pending) else self._pending
            dropped = [u for u in self._pending if u not in keep]
        else:
            keep = [u for u in self._pending if u["update_id"] >= offset]
            dropped = [u for u in self._pending if u["update_id"] < offset]
        self.confirmed_update_ids.extend(u["update_id"] for u in dropped)
        self._pending = list(keep)

    async def m_getMe(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """The bot user."""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def m_logOut(self, p: dict[str, Any], files: dict) -> bool:
        """Accepted and ignored."""
        return True

    async def m_close(self, p: dict[str, Any], files: dict) -> bool:
        """Accepted and ignored."""
        return True

    async def m_setWebhook(self, p: dict[str, Any], files: dict) -> bool:
        """Switch to webhook delivery (plain http to 127.0.0.1 allowed, unlike Telegram)."""
        url = p.get("url") or ""
        if not url:
            return await self.m_deleteWebhook(p, files)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: HTTPS url must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self._drop_pending()
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": int(p.get("max_connections") or 40),
            "allowed_updates": sorted(self.allowed_updates),
        }
        self._poll_generation += 1  # a pending long poll ends
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._webhook_loop())
        self._notify()
        return True

    async def m_deleteWebhook(self, p: dict[str, Any], files: dict) -> bool:
        """Back to getUpdates; ``drop_pending_updates`` forgets the queue, exactly as Telegram does."""
        if p.get("drop_pending_updates"):
            self._drop_pending()
        self.webhook = None
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        self._notify()
        return True

    def _drop_pending(self) -> None:
        self.confirmed_update_ids.extend(u["update_id"] for u in self._pending)
        self._pending = []

    async def m_getWebhookInfo(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """WebhookInfo; url is empty in polling mode."""
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            info.update(
                url=self.webhook["url"],
                max_connections=self.webhook["max_connections"],
                allowed_updates=self.webhook["allowed_updates"],
            )
            if self.webhook_errors:
                info.update(last_error_date=int(time.time()), last_error_message=self.webhook_errors[-1])
        return info

    async def _webhook_loop(self) -> None:
        """Deliver queued updates to the webhook, up to max_connections at once; 2xx confirms."""
        async with ClientSession(timeout=ClientTimeout(total=60)) as session:
            tasks: set[asyncio.Task[None]] = set()
            while self.webhook and not self._stopping:
                hook = self.webhook
                for update in list(self._pending):
                    if len(self._webhook_inflight) >= hook["max_connections"]:
                        break
                    if update["update_id"] in self._webhook_inflight:
                        continue
                    self._webhook_inflight.add(update["update_id"])
                    task = asyncio.create_task(self._deliver(session, hook, update))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await self.wait_changed(0.5)
            for task in tasks:
                task.cancel()

    async def _deliver(self, session: ClientSession, hook: dict[str, Any], update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook["secret_token"]} if hook.get("secret_token") else {}
        uid = update["update_id"]
        try:
            self.delivered_update_ids.add(uid)
            async with session.post(hook["url"], json=update, headers=headers) as resp:
                body = await resp.read()
                if 200 <= resp.status < 300:
                    if update in self._pending:
                        self._pending.remove(update)
                        self.confirmed_update_ids.append(uid)
                    await self._webhook_reply(body)
                    return
                self.webhook_errors.append(f"Wrong response from the webhook: {resp.status} {resp.reason}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # network errors are reported in getWebhookInfo, as Telegram does
            self.webhook_errors.append(f"Connection failed: {exc!r}")
        finally:
            self._webhook_inflight.discard(uid)
            self._notify()
        await asyncio.sleep(0.3)
        self._notify()

    async def _webhook_reply(self, body: bytes) -> None:
        """A webhook response may carry one method call (``{"method": ..., ...}``); Telegram executes it."""
        if not body.strip():
            return
        try:
            payload = json.loads(body)
        except ValueError:
            return
        if not isinstance(payload, dict) or "method" not in payload:
            return
        entry = self._methods.get(str(payload.pop("method")).lower())
        if entry is None:
            return
        method, handler = entry
        call = Call(method=method, params=_coerce(payload), at=time.monotonic(), via_webhook_reply=True)
        self.calls.append(call)
        try:
            call.response, call.status = {"ok": True, "result": await handler(call.params, {})}, 200
        except ApiError as exc:
            call.response, call.status = exc.body(), exc.code
        call.finished_at = time.monotonic()
        self._activity()

    async def m_setMyCommands(self, p: dict[str, Any], files: dict) -> bool:
        """Validate and store commands per (scope, language)."""
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        for cmd in commands:
            name = (cmd or {}).get("command", "")
            desc = (cmd or {}).get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= utf16_len(str(desc).strip()) <= 256:
                raise bad_request("command description must be non-empty")
        self.commands[_scope_key(p)] = copy.deepcopy(commands)
        return True

    async def m_getMyCommands(self, p: dict[str, Any], files: dict) -> list[dict[str, Any]]:
        """Stored commands for (scope, language)."""
        return copy.deepcopy(self.commands.get(_scope_key(p), []))

    async def m_deleteMyCommands(self, p: dict[str, Any], files: dict) -> bool:
        """Forget commands for (scope, language)."""
        self.commands.pop(_scope_key(p), None)
        return True

    async def m_setMyDescription(self, p: dict[str, Any], files: dict) -> bool:
        """Accepted."""
        return True

    async def m_setMyShortDescription(self, p: dict[str, Any], files: dict) -> bool:
        """Accepted."""
        return True

    async def m_setMyName(self, p: dict[str, Any], files: dict) -> bool:
        """Accepted."""
        return True

    async def m_setChatMenuButton(self, p: dict[str, Any], files: dict) -> bool:
        """Accepted."""
        return True

    async def m_getChat(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """ChatFullInfo for a known chat."""
        chat = self._chat(p, write=False)
        return {
            **copy.deepcopy(chat.data),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def m_getChatMember(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Member or administrator (admins listed in add_group); the bot itself is an administrator if set."""
        chat = self._chat(p, write=False)
        uid = p.get("user_id")
        if uid == self.bot_id:
            user, admin = self.bot_user, chat.bot_is_admin
        else:
            sim = self.users.get(uid) if isinstance(uid, int) else None
            if sim is None:
                raise bad_request("user not found")
            user, admin = sim.data, uid in chat.admins
        if admin:
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_promote_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_send_welcome_messages",
                    "can_pin_messages",
                    "can_manage_topics",
                ),
                True,
            )
            return {
                "status": "administrator",
                "user": copy.deepcopy(user),
                "can_be_edited": False,
                "is_anonymous": False,
                **rights,
            }
        return {"status": "member", "user": copy.deepcopy(user)}

    async def m_getFile(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """File info with a file_path downloadable from ``{base}/file/bot{token}/{file_path}``."""
        rec = self._files.get(p.get("file_id") or "")
        if rec is None:
            raise bad_request("invalid file_id")
        out: dict[str, Any] = {
            "file_id": rec.file_id,
            "file_unique_id": rec.unique_id,
            "file_path": _file_path(rec),
        }
        if rec.size is not None:
            out["file_size"] = rec.size
        return out

    # ---------------------------------------------------------------- methods: sending

    async def m_sendMessage(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Text message; HTML checked like Telegram."""
        chat = self._chat(p)
        reply_to = self._reply_target(chat, p)
        thread = self._thread(chat, p, reply_to)
        text, entities = self._text(p, "text", "entities", TEXT_LIMIT, required=True)
        inline, other = self._markup(p)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        if isinstance(p.get("link_preview_options"), dict):
            content["link_preview_options"] = p["link_preview_options"]
        msg = self._store_bot_message(
            chat,
            content,
            method="sendMessage",
            reply_to=reply_to,
            thread_id=thread,
            inline=inline,
            other=other,
            source=p.get("text"),
        )
        return msg.to_api()

    async def _send_media(self, kind: str, method: str, p: dict[str, Any], files: dict) -> dict[str, Any]:
        chat = self._chat(p)
        reply_to = self._reply_target(chat, p)
        thread = self._thread(chat, p, reply_to)
        rec = self._file(p, files, kind, kind)
        caption, source = self._caption(p) if kind not in {"sticker", "video_note"} else ({}, None)
        inline, other = self._markup(p)
        content = {**self._media_content(kind, rec, p), **caption}
        msg = self._store_bot_message(
            chat,
            content,
            method=method,
            reply_to=reply_to,
            thread_id=thread,
            inline=inline,
            other=other,
            source=source,
        )
        return msg.to_api()

    async def m_sendPhoto(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Photo by upload, file_id or URL."""
        return await self._send_media("photo", "sendPhoto", p, files)

    async def m_sendDocument(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Document by upload, file_id or URL."""
        return await self._send_media("document", "sendDocument", p, files)

    async def m_sendVideo(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Video."""
        return await self._send_media("video", "sendVideo", p, files)

    async def m_sendAudio(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Audio."""
        return await self._send_media("audio", "sendAudio", p, files)

    async def m_sendVoice(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Voice note."""
        return await self._send_media("voice", "sendVoice", p, files)

    async def m_sendAnimation(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """GIF/animation."""
        return await self._send_media("animation", "sendAnimation", p, files)

    async def m_sendSticker(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Sticker."""
        return await self._send_media("sticker", "sendSticker", p, files)

    async def m_sendVideoNote(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Round video."""
        return await self._send_media("video_note", "sendVideoNote", p, files)

    async def m_sendLocation(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Location."""
        chat = self._chat(p)
        reply_to = self._reply_target(chat, p)
        thread = self._thread(chat, p, reply_to)
        lat, lon = p.get("latitude"), p.get("longitude")
        if lat is None or lon is None:
            raise bad_request("latitude and longitude must be specified")
        inline, other = self._markup(p)
        msg = self._store_bot_message(
            chat,
            {"location": {"latitude": lat, "longitude": lon}},
            method="sendLocation",
            reply_to=reply_to,
            thread_id=thread,
            inline=inline,
            other=other,
        )
        return msg.to_api()

    async def m_sendContact(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Contact card."""
        chat = self._chat(p)
        reply_to = self._reply_target(chat, p)
        if not p.get("phone_number") or not p.get("first_name"):
            raise bad_request("phone_number and first_name must be non-empty")
        inline, other = self._markup(p)
        contact = {"phone_number": str(p["phone_number"]), "first_name": str(p["first_name"])}
        msg = self._store_bot_message(
            chat,
            {"contact": contact},
            method="sendContact",
            reply_to=reply_to,
            thread_id=self._thread(chat, p, reply_to),
            inline=inline,
            other=other,
        )
        return msg.to_api()

    async def m_sendMediaGroup(self, p: dict[str, Any], files: dict) -> list[dict[str, Any]]:
        """Album of 2–10 photos/videos (or documents, or audios, not mixed with others)."""
        chat = self._chat(p)
        reply_to = self._reply_target(chat, p)
        thread = self._thread(chat, p, reply_to)
        media = p.get("media")
        if not isinstance(media, list):
            raise bad_request("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise bad_request("wrong number of messages in the media group: must include 2-10 items")
        kinds = [str((m or {}).get("type")) for m in media]
        if any(k not in {"photo", "video", "document", "audio"} for k in kinds):
            raise bad_request("invalid InputMedia type")
        for special in ("document", "audio"):
            if special in kinds and set(kinds) != {special}:
                raise bad_request(f"{special} can't be mixed with other media types")
        prepared = []
        for item in media:
            rec = self._file({item["type"]: item.get("media")}, files, item["type"], item["type"])
            caption, _ = self._caption(item)
            prepared.append((item["type"], rec, caption))
        group_id = str(secrets.randbelow(10**18))
        out = []
        for kind, rec, caption in prepared:
            msg = self._store_bot_message(
                chat,
                {**self._media_content(kind, rec, {}), **caption},
                method="sendMediaGroup",
                reply_to=reply_to,
                thread_id=thread,
                extra={"media_group_id": group_id},
            )
            out.append(msg.to_api())
        return out

    async def m_copyMessage(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Copy content (caption overridable) into a chat; returns {"message_id": N}."""
        chat = self._chat(p)
        source_chat = self._chat(p, "from_chat_id", write=False)
        src = source_chat.get(p.get("message_id"))
        if src is None:
            raise bad_request("message to copy not found")
        if src.is_service or ("poll" in src.data and src.data["poll"].get("type") == "quiz"):
            raise bad_request("message can't be copied")
        reply_to = self._reply_target(chat, p)
        thread = self._thread(chat, p, reply_to)
        content = {k: copy.deepcopy(v) for k, v in src.data.items() if k in CONTENT_KEYS}
        source = None
        if "caption" in p and "text" not in content:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            caption, source = self._caption(p)
            content.update(caption)
        inline, other = self._markup(p)
        msg = self._store_bot_message(
            chat,
            content,
            method="copyMessage",
            reply_to=reply_to,
            thread_id=thread,
            inline=inline,
            other=other,
            source=source,
        )
        return {"message_id": msg.id}

    async def m_forwardMessage(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """Forward with forward_origin; returns the new Message."""
        chat = self._chat(p)
        source_chat = self._chat(p, "from_chat_id", write=False)
        src = source_chat.get(p.get("message_id"))
        if src is None:
            raise bad_request("message to forward not found")
        if src.is_service:
            raise bad_request("message can't be forwarded")
        thread = self._thread(chat, p, None)
        content = {k: copy.deepcopy(v) for k, v in src.data.items() if k in CONTENT_KEYS}
        origin: dict[str, Any]
        if "forward_origin" in src.data:
            origin = copy.deepcopy(src.data["forward_origin"])
        elif source_chat.type == "channel":
            origin = {
                "type": "channel",
                "chat": copy.deepcopy(source_chat.data),
                "message_id": src.id,
                "date": src.data["date"],
            }
        elif "sender_chat" in src.data:
            origin = {
                "type": "chat",
                "sender_chat": copy.deepcopy(src.data["sender_chat"]),
                "date": src.data["date"],
            }
        else:
            origin = {
                "type": "user",
                "sender_user": copy.deepcopy(src.data.get("from")),
                "date": src.data["date"],
            }
        msg = self._store_bot_message(
            chat, content, method="forwardMessage", thread_id=thread, extra={"forward_origin": origin}
        )
        return msg.to_api()

    async def m_sendChatAction(self, p: dict[str, Any], files: dict) -> bool:
        """Typing indicators and the like."""
        chat = self._chat(p)
        action = p.get("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append((time.monotonic(), str(action)))
        return True

    # ---------------------------------------------------------------- methods: editing and deleting

    async def m_editMessageText(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """New text; omitting reply_markup removes the inline keyboard (as Telegram does)."""
        msg = self._edit_target(p)
        if "text" not in msg.data:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._text(p, "text", "entities", TEXT_LIMIT, required=True)
        inline, _ = self._markup(p, inline_only=True)
        if (
            text == msg.data.get("text")
            and _norm_entities(entities) == _norm_entities(msg.data.get("entities"))
            and inline == msg.data.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
        changes: dict[str, Any] = {"text": text}
        if entities:
            changes["entities"] = entities
        if inline:
            changes["reply_markup"] = inline
        msg.source = p.get("text")
        return self._apply_edit(msg, changes, ("entities", "reply_markup"))

    async def m_editMessageCaption(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """New caption on a media message (omitted caption removes it)."""
        msg = self._edit_target(p)
        if not any(k in msg.data for k in MEDIA_KEYS):
            raise bad_request("there is no caption in the message to edit")
        caption, source = self._caption(p)
        inline, _ = self._markup(p, inline_only=True)
        if (
            caption.get("caption") == msg.data.get("caption")
            and _norm_entities(caption.get("caption_entities")) == _norm_entities(msg.data.get("caption_entities"))
            and inline == msg.data.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
        changes = dict(caption)
        if inline:
            changes["reply_markup"] = inline
        msg.source = source
        return self._apply_edit(msg, changes, ("caption", "caption_entities", "reply_markup"))

    async def m_editMessageReplyMarkup(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """New inline keyboard (omitted = removed)."""
        msg = self._edit_target(p)
        inline, _ = self._markup(p, inline_only=True)
        if inline == msg.data.get("reply_markup"):
            raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
        return self._apply_edit(msg, {"reply_markup": inline} if inline else {}, ("reply_markup",))

    async def m_deleteMessage(self, p: dict[str, Any], files: dict) -> bool:
        """Delete a message (bot's or, in private chats and groups where the bot is admin, anyone's)."""
        chat = self._chat(p)
        msg = chat.get(p.get("message_id"))
        if msg is None:
            raise bad_request("message to delete not found")
        if not msg.from_bot and chat.type != "private" and not chat.bot_is_admin:
            raise bad_request("message can't be deleted")
        msg.deleted = True
        return True

    async def m_deleteMessages(self, p: dict[str, Any], files: dict) -> bool:
        """Delete several messages; unknown ones are skipped."""
        chat = self._chat(p)
        for mid in p.get("message_ids") or []:
            msg = chat.get(mid)
            if msg is not None:
                msg.deleted = True
        return True

    async def m_pinChatMessage(self, p: dict[str, Any], files: dict) -> bool:
        """Pin (validated, not shown)."""
        chat = self._chat(p)
        if chat.get(p.get("message_id")) is None:
            raise bad_request("message to pin not found")
        return True

    async def m_unpinChatMessage(self, p: dict[str, Any], files: dict) -> bool:
        """Unpin."""
        self._chat(p)
        return True

    async def m_setMessageReaction(self, p: dict[str, Any], files: dict) -> bool:
        """Reaction (validated message, not shown)."""
        chat = self._chat(p)
        if chat.get(p.get("message_id")) is None:
            raise bad_request("message to react not found")
        return True

    # ---------------------------------------------------------------- methods: callbacks and forums

    async def m_answerCallbackQuery(self, p: dict[str, Any], files: dict) -> bool:
        """Answer a button press once, within ``callback_max_age`` seconds."""
        qid = str(p.get("callback_query_id") or "")
        query = self._queries.get(qid)
        if query is None or query.answered or time.monotonic() - query.created > self.callback_max_age:
            raise bad_request(QUERY_TOO_OLD[len("Bad Request: ") :])
        text = p.get("text")
        if text is not None and utf16_len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        self.callback_answers[qid] = {
            "text": text,
            "show_alert": bool(p.get("show_alert", False)),
            "url": p.get("url"),
            "cache_time": p.get("cache_time"),
            "at": time.monotonic(),
        }
        return True

    async def m_createForumTopic(self, p: dict[str, Any], files: dict) -> dict[str, Any]:
        """New topic in a forum; its service message id is the thread id."""
        chat = self._chat(p)
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        name = str(p.get("name") or "")
        if not 1 <= utf16_len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        color = int(p.get("icon_color") or 7322096)
        topic = {"message_thread_id": 0, "name": name, "icon_color": color}
        if p.get("icon_custom_emoji_id"):
            topic["icon_custom_emoji_id"] = p["icon_custom_emoji_id"]
        service = self._store_bot_message(
            chat, {"forum_topic_created": {"name": name, "icon_color": color}}, method="createForumTopic"
        )
        thread_id = service.id
        service.data["message_thread_id"] = thread_id
        service.data["is_topic_message"] = True
        topic["message_thread_id"] = thread_id
        chat.topics[thread_id] = dict(topic)
        return topic

    async def m_editForumTopic(self, p: dict[str, Any], files: dict) -> bool:
        """Rename a topic."""
        chat = self._chat(p)
        topic = chat.topics.get(p.get("message_thread_id"))
        if topic is None:
            raise bad_request("message thread not found")
        if p.get("name"):
            topic["name"] = p["name"]
        return True

    async def m_closeForumTopic(self, p: dict[str, Any], files: dict) -> bool:
        """Close a topic (sends then fail with TOPIC_CLOSED)."""
        return self._topic_flag(p, True)

    async def m_reopenForumTopic(self, p: dict[str, Any], files: dict) -> bool:
        """Reopen a topic."""
        return self._topic_flag(p, False)

    async def m_deleteForumTopic(self, p: dict[str, Any], files: dict) -> bool:
        """Delete a topic and its messages."""
        chat = self._chat(p)
        tid = p.get("message_thread_id")
        if chat.topics.pop(tid, None) is None:
            raise bad_request("message thread not found")
        for m in chat.all.values():
            if m.thread_id == tid:
                m.deleted = True
        return True

    def _topic_flag(self, p: dict[str, Any], closed: bool) -> bool:
        chat = self._chat(p)
        topic = chat.topics.get(p.get("message_thread_id"))
        if topic is None:
            raise bad_request("message thread not found")
        if bool(topic.get("closed")) == closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic["closed"] = closed
        return True

    async def m_leaveChat(self, p: dict[str, Any], files: dict) -> bool:
        """Leave a group (later sends get 403)."""
        chat = self._chat(p, write=False)
        chat.blocked = True
        return True


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _coerce(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn form strings into the types Telegram would parse them as (JSON bodies pass through)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _JSON_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key
                    raise bad_request(f"can't parse {what} JSON object") from None
            elif key in _INT_PARAMS:
                if re.fullmatch(r"-?\d+", value.strip()):
                    value = int(value)
                elif key not in {"chat_id", "from_chat_id"}:
                    raise bad_request(f"invalid {key} specified")
            elif key in _FLOAT_PARAMS:
                try:
                    value = float(value)
                except ValueError:
                    raise bad_request(f"invalid {key} specified") from None
            elif key in _BOOL_PARAMS:
                low = value.strip().lower()
                if low not in {"true", "false", "1", "0"}:
                    raise bad_request(f"invalid {key} specified")
                value = low in {"true", "1"}
        out[key] = value
    return out


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("BUTTON_DATA_INVALID")
    actions = [
        k
        for k in (
            "callback_data",
            "url",
            "switch_inline_query",
            "switch_inline_query_current_chat",
            "switch_inline_query_chosen_chat",
            "web_app",
            "login_url",
            "pay",
            "callback_game",
            "copy_text",
        )
        if k in button
    ]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request("can't parse inline keyboard button: exactly one optional field must be used")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not re.match(r"(https?|tg)://\S+$", str(button["url"])):
        raise bad_request("BUTTON_URL_INVALID")


def _shallow(msg: Msg) -> dict[str, Any]:
    """The replied-to message as embedded in reply_to_message (without its own reply)."""
    data = msg.to_api()
    data.pop("reply_to_message", None)
    return data


def _norm_entities(entities: list[dict[str, Any]] | None) -> list[tuple]:
    return sorted(tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in e.items())) for e in entities or [])


def _content_key(msg: Msg) -> str:
    for key in MEDIA_KEYS:
        if key in msg.data:
            media = msg.data[key]
            fid = media[-1]["file_unique_id"] if isinstance(media, list) else media.get("file_unique_id")
            return f"<{key} {fid}> {msg.data.get('caption', '')}"
    return msg.content or f"<{msg.kind}>"


def _scope_key(p: dict[str, Any]) -> tuple[str, str]:
    scope = p.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")


def _guess_mime(name: str | None) -> str | None:
    return mimetypes.guess_type(name)[0] if name else None


def _file_path(rec: _File) -> str:
    ext = f".{rec.name.rsplit('.', 1)[-1]}" if rec.name and "." in rec.name else ""
    return f"{rec.kind}s/file_{rec.unique_id}{ext}"


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
