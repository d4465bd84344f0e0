"""What an update says, framework-free: parsed once from the Bot API's JSON (the payload the inbox stores).

Both runtimes hand the handler layer this model, so a command or a button means the same under aiogram
and python-telegram-bot. Only what the desk reads is kept; anything else in the payload is ignored, so an
update with a field newer than either framework still reads (an unreadable one raises `UnreadableUpdate`
and is parked alone by the inbox).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from helpdesk.people import Person
from storage.held_messages import PRESS

#: the attachments the desk keeps, in the order they are looked for (a photo comes as several sizes);
#: voice and video notes are files too: on a ticket they travel both ways like a photo does
FILE_KINDS = ("document", "video", "audio", "animation", "voice", "video_note")

#: every id the desk stores is a signed 64-bit integer in the database (Telegram's fit in 52 bits): a
#: forged larger one is refused here, at the edge, instead of failing the store or a handler's commit
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


#: what no database of the desk can store as text: U+0000 (PostgreSQL's UTF8 text refuses it; SQLite would
#: keep it, so the two would differ) and lone UTF-16 surrogates (not UTF-8 at all: neither driver can send
#: them, nor can delivery measure them). Telegram never sends either; a forged or a garbled update can.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: U+FFFD takes one UTF-16 unit like each character it replaces: the entities' offsets still fit the text
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """`text` with what no database stores replaced by U+FFFD (the same text on SQLite and PostgreSQL)."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def storable(payload: Any) -> Any:
    """A payload (the Bot API JSON of an update) whose every string, keys too, is `storable_text`.

    This is THE place text is made safe for the databases, and the inbox applies it to every update
    before storing it (polling and webhook alike, `bot.inbox.UpdateInbox.store`), so the stored payload,
    the handlers, the tickets, the cards and the messages the desk sends back all hold the same text.
    Not in the storage types: there it would have to wrap every text and JSON column, queries and the
    outbox would still carry the raw characters to Telegram, and a lone surrogate in the payload would
    already have failed the inbox's own insert. Replacing rather than dropping keeps the entities'
    UTF-16 offsets right. (The console's typed lines go through `storable_text` too.)
    """
    if isinstance(payload, str):
        return storable_text(payload)
    if isinstance(payload, dict):
        return {storable(key): storable(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [storable(item) for item in payload]
    return payload


class UnreadableUpdate(ValueError):
    """The payload is not an update the desk can read (no retry can fix it)."""


@dataclass(frozen=True, slots=True)
class Command:
    """`/name@mention args`: `name` as typed, `args` the rest of the text ("" when none)."""

    name: str
    mention: str | None
    args: str


@dataclass(frozen=True, slots=True)
class SharedContact:
    """A contact card: a phone, the name on the card, and whether it is the sender's own.

    Anyone can share anyone's card; only one whose `user_id` is the sender's is their own phone (Telegram's
    "share my phone" button sends that). Any other (another person's, or one with no user_id) is a
    call-back contact the sender gave, never to be taken for their own number.
    """

    phone: str
    name: str
    own: bool


@dataclass(frozen=True, slots=True)
class Message:
    """A message (or an edited one): where it was written, what it carries and what it answers."""

    chat_id: int
    chat_type: str
    message_id: int
    text: str | None = None
    caption: str | None = None
    #: the text's (or caption's) formatting, as Telegram sent it (`bot.handlers.entities` renders it)
    entities: tuple[dict[str, Any], ...] = ()
    #: an attachment as plain data: kind, file_id, file_unique_id, file_size, … (see `_file_of`)
    file: dict[str, Any] | None = None
    contact: SharedContact | None = None
    reply_to: int | None = None
    #: the forum topic it was written in (None outside topics)
    thread_id: int | None = None
    command: Command | None = None
    #: the album this message is one part of (Telegram sends each part as an update of its own)
    media_group_id: str | None = None

    @property
    def words(self) -> str | None:
        """The text, or the caption of an attachment."""
        return self.text if self.text is not None else self.caption

    @property
    def phone(self) -> str | None:
        """The phone of a shared contact card."""
        return self.contact.phone if self.contact is not None else None

    @property
    def starts_with_slash(self) -> bool:
        return bool(self.text and self.text.startswith("/"))


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A press on an inline button; `message_id` is None when Telegram no longer shows the message."""

    query_id: str
    data: str | None
    chat_id: int | None
    message_id: int | None


@dataclass(frozen=True, slots=True)
class MemberChange:
    """The bot's own membership changed in a chat (a customer blocked or unblocked it)."""

    chat_id: int
    status: str


@dataclass(frozen=True, slots=True)
class Update:
    """One update: its kind, who sent it, the chat it belongs to, and its content."""

    update_id: int
    kind: str  # message | edited_message | callback_query | my_chat_member | any other Bot API kind
    chat_key: int  # the chat whose updates are handled in order (0: none)
    chat_id: int | None
    chat_type: str | None
    sender: Person | None  # None: a bot, a channel, an anonymous admin (never an agent, never a customer)
    message: Message | None = None  # message and edited_message
    press: ButtonPress | None = None
    member: MemberChange | None = None
    #: the Bot API JSON it was read from (a runtime that dispatches through its framework needs it)
    payload: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def update_kind(payload: dict[str, Any]) -> str:
    return next((k for k in payload if k != "update_id"), "unknown")


#: update kinds whose body has a `chat` (its id is the ordering key); others key on the sender
_CHAT_KINDS = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "business_message",
        "edited_business_message", "my_chat_member", "chat_member", "chat_join_request", "message_reaction",
        "message_reaction_count", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip


def fits_id(value: Any) -> bool:
    """An integer the database can store as an id (a signed 64-bit integer; bools are not ids)."""
    return isinstance(value, int) and not isinstance(value, bool) and ID_MIN <= value <= ID_MAX


def _int(value: Any) -> int | None:
    """An id or a size, read leniently: None when missing, not a number, or too large to store."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if ID_MIN <= number <= ID_MAX else None


def _id(value: Any, what: str) -> int | None:
    """A required-when-present id: None when missing; `UnreadableUpdate` when present but not storable."""
    if value is None:
        return None
    number = _int(value)
    if number is None:
        raise UnreadableUpdate(f"{what} {str(value)[:30]} is not a 64-bit integer")
    return number


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def chat_key_of(payload: dict[str, Any]) -> int:
    """The chat an update belongs to (its ordering key); 0 for updates without a chat."""
    kind = update_kind(payload)
    body = payload.get(kind)
    if not isinstance(body, dict):
        return 0
    if kind == "callback_query":
        chat = _dict(_dict(body.get("message")).get("chat")).get("id")
        return _int(chat) or _int(_dict(body.get("from")).get("id")) or 0
    if kind in _CHAT_KINDS:
        return _int(_dict(body.get("chat")).get("id")) or 0
    return _int(_dict(body.get("from") or body.get("user")).get("id")) or 0


def flood_keys_of(payload: dict[str, Any], received: datetime) -> tuple[str | None, int | None]:
    """What flood control counts (helpdesk/flood.py), stored with the update: which input of its sender a
    message or an edit is (the parts of an album are one: its id; else the update id) and when Telegram
    says it was sent (an edit: edited); a button press, counted apart, and when we `received` it (Telegram
    dates no press). (None, None) for anything else (membership…)."""
    kind = update_kind(payload)
    body = payload.get(kind)
    if kind == "callback_query":
        return f"{PRESS}{_int(payload.get('update_id'))}", int(received.timestamp())
    if kind not in ("message", "edited_message") or not isinstance(body, dict):
        return None, None
    album = re.sub(r"[^\w-]", "", _str(body.get("media_group_id")) or "")[:64]  # stored safely on any database
    key = f"album:{album}" if album and kind == "message" else f"update:{_int(payload.get('update_id'))}"
    return key, _int(body.get("edit_date") if kind == "edited_message" else None) or _int(body.get("date"))


def parse_update(payload: dict[str, Any]) -> Update:
    """The update as the desk reads it; raises `UnreadableUpdate` for a payload that is not one."""
    update_id = _id(payload.get("update_id"), "update_id")
    if update_id is None:
        raise UnreadableUpdate("no update_id")
    kind = update_kind(payload)
    body = payload.get(kind)
    if not isinstance(body, dict):
        raise UnreadableUpdate(f"{kind} is not an object")
    _id(_dict(body.get("from") or body.get("user")).get("id"), "sender id")
    chat_key = chat_key_of(payload)
    if kind == "callback_query":
        return _press(update_id, body, chat_key, payload)
    chat = _dict(body.get("chat"))
    chat_id, chat_type = _id(chat.get("id"), "chat id"), _str(chat.get("type"))
    sender = _person(body, chat_id)
    if kind in ("message", "edited_message"):
        message = _message(body, chat_id, str(chat_type or ""))
        return Update(update_id, kind, chat_key, chat_id, message.chat_type, sender, message=message, payload=payload)
    if kind == "my_chat_member" and chat_id is not None:
        status = str(_dict(body.get("new_chat_member")).get("status") or "")
        member = MemberChange(chat_id, status)
        return Update(update_id, kind, chat_key, chat_id, chat_type, sender, member=member, payload=payload)
    return Update(update_id, kind, chat_key, chat_id, chat_type, sender, payload=payload)


def sender_of(payload: dict[str, Any]) -> tuple[Person | None, int | None, str | None]:
    """Who sent an update, and the chat id and type to answer in: read leniently, for any payload (an
    update being parked because it cannot be read still gets its apology where possible)."""
    kind = update_kind(payload)
    body = _dict(payload.get(kind))
    chat = _dict(_dict(body.get("message")).get("chat") if kind == "callback_query" else body.get("chat"))
    chat_id, chat_type = _int(chat.get("id")), _str(chat.get("type"))
    sender = _person(body, chat_id)
    if kind == "callback_query" and chat_id is None and sender is not None:
        chat_id, chat_type = sender.user_id, "private"
    return sender, chat_id, chat_type


def _person(body: dict[str, Any], chat_id: int | None) -> Person | None:
    """The sender, unless a bot, or someone speaking as a chat (anonymous admins, channels)."""
    user = body.get("from") or body.get("user")
    if not isinstance(user, dict) or user.get("is_bot") or body.get("sender_chat"):
        return None
    user_id = _int(user.get("id"))
    if user_id is None:
        return None
    return Person(
        user_id=user_id,
        chat_id=chat_id if chat_id is not None else user_id,
        first_name=_str(user.get("first_name")) or "",
        last_name=_str(user.get("last_name")),
        username=_str(user.get("username")),
        language_code=_str(user.get("language_code")),
    )


def _press(update_id: int, body: dict[str, Any], chat_key: int, payload: dict[str, Any]) -> Update:
    query_id = body.get("id")
    if not isinstance(query_id, str):
        raise UnreadableUpdate("callback_query without an id")
    message = _dict(body.get("message"))
    chat = _dict(message.get("chat"))
    chat_id, chat_type = _id(chat.get("id"), "chat id"), _str(chat.get("type"))
    sender = _person(body, chat_id)
    if chat_id is None and sender is not None:  # a button under a message Telegram no longer shows us:
        chat_id, chat_type = sender.user_id, "private"  # answer the presser privately
    # an inaccessible message has date 0 (Bot API 7.0): its id is no use for edits
    message_id = _int(message.get("message_id")) if message.get("date") else None
    data = body.get("data") if isinstance(body.get("data"), str) else None
    press = ButtonPress(query_id, data, chat_id, message_id)
    return Update(update_id, "callback_query", chat_key, chat_id, chat_type, sender, press=press, payload=payload)


def _contact(body: dict[str, Any]) -> SharedContact | None:
    """The contact card a message carries; its own only when the card's user_id is the sender's."""
    contact = _dict(body.get("contact"))
    phone = contact.get("phone_number")
    if not phone or not isinstance(phone, str | int):
        return None
    name = " ".join(part for part in (_str(contact.get("first_name")), _str(contact.get("last_name"))) if part)
    card_user, sender = _int(contact.get("user_id")), _int(_dict(body.get("from")).get("id"))
    return SharedContact(str(phone), name, own=card_user is not None and card_user == sender)


def _message(body: dict[str, Any], chat_id: int | None, chat_type: str) -> Message:
    message_id = _id(body.get("message_id"), "message id")
    if chat_id is None or message_id is None:
        raise UnreadableUpdate("a message without its chat or id")
    text = body.get("text") if isinstance(body.get("text"), str) else None
    caption = body.get("caption") if isinstance(body.get("caption"), str) else None
    entities = body.get("entities") if text is not None else body.get("caption_entities")
    reply = _dict(body.get("reply_to_message"))
    return Message(
        chat_id=chat_id,
        chat_type=chat_type,
        message_id=message_id,
        text=text,
        caption=caption,
        entities=tuple(e for e in entities if isinstance(e, dict)) if isinstance(entities, list) else (),
        file=_file_of(body, chat_id, message_id, caption),
        contact=_contact(body),
        reply_to=_int(reply.get("message_id")),
        thread_id=_int(body.get("message_thread_id")) if body.get("is_topic_message") else None,
        command=_command(text if text is not None else caption),
        media_group_id=_str(body.get("media_group_id")),
    )


def _file_of(body: dict[str, Any], chat_id: int, message_id: int, caption: str | None) -> dict[str, Any] | None:
    """The attachment a message carries (photo, document, video, audio, animation, voice or video note),
    as plain data."""
    base = {"chat_id": chat_id, "message_id": message_id, "caption": caption}
    photo = body.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict) and _str(photo[-1].get("file_id")):
        largest = photo[-1]  # Telegram lists the sizes smallest first
        return {
            **base,
            "kind": "photo",
            "file_id": largest["file_id"],
            "file_unique_id": _str(largest.get("file_unique_id")),
            "file_size": _int(largest.get("file_size")),
        }
    for kind in FILE_KINDS:
        media = body.get(kind)
        if isinstance(media, dict) and _str(media.get("file_id")):
            return {
                **base,
                "kind": kind,
                "file_id": media["file_id"],
                "file_unique_id": _str(media.get("file_unique_id")),
                "file_size": _int(media.get("file_size")),
                "file_name": _str(media.get("file_name")),
                "mime_type": _str(media.get("mime_type")),
            }
    return None


def _command(text: str | None) -> Command | None:
    """`/name@mention args` at the start of a text or caption (as aiogram's and ptb's command filters read it)."""
    if not text or text[0] != "/":
        return None
    head, *rest = text.split(maxsplit=1)
    name, _, mention = head[1:].partition("@")
    if not name:
        return None
    return Command(name, mention or None, rest[0] if rest else "")
