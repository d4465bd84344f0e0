"""Simulated Telegram people and chats that talk to the bot through ``FakeBotAPI``.

``user = api.user(1001, "Ann", username="ann", language_code="en")`` gives a ``SimUser``: its methods
queue the updates Telegram would send (``send``, ``send_photo``, ``press``, ``edit``, ``reply``…), and its
waiting helpers read what the bot sent to the private chat (``next_message``, ``wait_for``, ``last``).
``api.add_group(...)`` returns a ``SimGroup`` with the same waiting helpers for a group chat.
Every timeout raises ``AssertionError`` carrying the chat's recent history and the bot's failed calls.
"""

from __future__ import annotations

import asyncio
import copy
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.support.botapi import GROUP_ANONYMOUS_BOT, Msg, utf16_len

if TYPE_CHECKING:
    from tests.support.botapi import Chat, FakeBotAPI

__all__ = ["ChatView", "Press", "SimChannel", "SimGroup", "SimUser", "auto_entities", "resolve"]

_COMMAND_RE = re.compile(r"(?<![\w/@])/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?(?![\w/])")
_MENTION_RE = re.compile(r"(?<![\w@])@[a-zA-Z0-9_]{5,32}\b")
_URL_RE = re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)]")

MessageRef = Msg | int

#: what an album may hold, with the file each part is (`SimUser.send_album`)
ALBUM_KINDS: dict[str, dict[str, Any]] = {
    "photo": {"size": 65_000},
    "video": {"name": "clip.mp4", "mime": "video/mp4", "size": 900_000},
    "document": {"name": "report.pdf", "mime": "application/pdf", "size": 34_567},
    "audio": {"name": "recording.mp3", "mime": "audio/mpeg", "size": 400_000},
}
Predicate = Callable[[Msg], bool]


def auto_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram detects in plain text a person types: bot commands, @mentions and URLs."""
    found: list[dict[str, Any]] = []
    for regex, kind in ((_COMMAND_RE, "bot_command"), (_MENTION_RE, "mention"), (_URL_RE, "url")):
        for m in regex.finditer(text):
            if kind == "mention" and any(e["type"] == "bot_command" and _inside(e, text, m.start()) for e in found):
                continue
            found.append({"offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0)), "type": kind})
    return sorted(found, key=lambda e: e["offset"])


def _inside(entity: dict[str, Any], text: str, pos: int) -> bool:
    start = entity["offset"]
    return start <= utf16_len(text[:pos]) < start + entity["length"]


def resolve(api: FakeBotAPI, ref: MessageRef | Any, default_chat: int) -> Msg:
    """The live message for a ``Msg``, an aiogram ``Message`` or a message_id in ``default_chat``."""
    if isinstance(ref, Msg):
        chat_id, mid = ref.chat.id, ref.id
    elif hasattr(ref, "message_id") and hasattr(ref, "chat"):  # an aiogram Message
        chat_id, mid = ref.chat.id, ref.message_id
    else:
        chat_id, mid = default_chat, int(ref)
    live = api.chat(chat_id).get(mid)
    if live is None:
        raise AssertionError(f"message #{mid} does not exist (or was deleted) in chat {chat_id}")
    return live


@dataclass
class Press:
    """A button press: the callback query id and data, and a way to wait for the bot's answer."""

    api: FakeBotAPI
    id: str
    data: str | None
    message: Msg
    update: dict[str, Any] | None

    async def answer(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for answerCallbackQuery; returns {text, show_alert, url, cache_time, at}."""
        return await self.api.wait_callback_answer(self.id, timeout)

    @property
    def answered(self) -> dict[str, Any] | None:
        """The answer, if the bot already gave one."""
        return self.api.callback_answers.get(self.id)


class ChatView:
    """Reading what the bot wrote to one chat, with consume-once semantics for ``next_message``."""

    def __init__(self, api: FakeBotAPI, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id
        self._seen: set[int] = set()

    @property
    def chat(self) -> Chat:
        """The stand-in's chat record."""
        return self.api.chat(self.chat_id)

    @property
    def messages(self) -> list[Msg]:
        """Bot messages in the chat (live, current state after edits, deleted ones left out)."""
        return self.chat.bot_messages

    @property
    def history(self) -> list[Msg]:
        """Every message in the chat, both sides, deleted ones left out."""
        return self.chat.messages

    @property
    def last(self) -> Msg | None:
        """The latest bot message, in its current state."""
        msgs = self.messages
        return msgs[-1] if msgs else None

    @property
    def keyboard(self) -> list[str]:
        """Texts of the reply keyboard currently shown in the chat (empty if none)."""
        rows = (self.chat.reply_keyboard or {}).get("keyboard") or []
        return [b if isinstance(b, str) else b.get("text", "") for row in rows for b in row]

    @staticmethod
    def buttons(message: Msg) -> list[str]:
        """Inline button texts of a message."""
        return message.buttons

    def unseen(self, thread_id: int | None = None) -> list[Msg]:
        """Bot messages not yet returned by ``next_message``/``wait_for`` (optionally in one topic)."""
        return [m for m in self.messages if m.id not in self._seen and (thread_id is None or m.thread_id == thread_id)]

    def skip(self) -> None:
        """Mark everything the bot sent so far as seen."""
        self._seen.update(m.id for m in self.messages)

    def _fail(self, what: str, timeout: float) -> AssertionError:
        chat = self.chat
        title = chat.data.get("title") or chat.data.get("first_name") or ""
        return AssertionError(
            f"timed out after {timeout}s waiting for {what} in chat {self.chat_id} ({chat.type} {title!r}).\n"
            f"Recent history (oldest first):\n{chat.history_text()}\n{self.api.diagnose(self.chat_id)}"
        )

    async def _poll(self, find: Callable[[], Msg | None], timeout: float, what: str) -> Msg:
        deadline = time.monotonic() + timeout
        while True:
            found = find()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(what, timeout)
            await self.api.wait_changed(min(remaining, 0.25))

    async def next_message(self, timeout: float = 10.0, *, thread_id: int | None = None) -> Msg:
        """The oldest bot message not yet consumed here (waits for one)."""
        found = await self._poll(lambda: next(iter(self.unseen(thread_id)), None), timeout, "the next bot message")
        self._seen.add(found.id)
        return found

    async def wait_for(
        self,
        text_contains: str | None = None,
        predicate: Predicate | None = None,
        *,
        timeout: float = 10.0,
        thread_id: int | None = None,
        include_seen: bool = False,
    ) -> Msg:
        """The first unconsumed bot message whose text/caption contains ``text_contains`` (case-insensitive)
        and satisfies ``predicate``; earlier unconsumed messages are consumed too. ``include_seen`` also
        searches consumed messages in their current state (newest first), e.g. after an edit."""

        def matches(m: Msg) -> bool:
            if text_contains is not None and text_contains.casefold() not in m.content.casefold():
                return False
            return predicate is None or bool(predicate(m))

        def find() -> Msg | None:
            hit = next((m for m in self.unseen(thread_id) if matches(m)), None)
            if hit is None and include_seen:
                pool = [m for m in self.messages if thread_id is None or m.thread_id == thread_id]
                hit = next((m for m in reversed(pool) if matches(m)), None)
            return hit

        what = "a bot message" + (f" containing {text_contains!r}" if text_contains else "")
        what += " matching the predicate" if predicate else ""
        found = await self._poll(find, timeout, what)
        self._seen.update(m.id for m in self.unseen(thread_id) if m.id <= found.id)
        return found

    async def wait_edit(
        self,
        message: MessageRef,
        text_contains: str | None = None,
        predicate: Predicate | None = None,
        *,
        timeout: float = 10.0,
    ) -> Msg:
        """Wait until a given message (by its current state) contains the text / satisfies the predicate."""
        mid = message.id if isinstance(message, Msg) else message

        def find() -> Msg | None:
            m = self.chat.all.get(mid)
            if m is None:
                return None
            if text_contains is not None and text_contains.casefold() not in m.content.casefold():
                return None
            return m if predicate is None or predicate(m) else None

        return await self._poll(find, timeout, f"message #{mid} to become {text_contains or 'as predicted'!r}")

    async def expect_no_message(self, seconds: float = 1.0, *, thread_id: int | None = None) -> None:
        """Assert that the bot sends nothing new (not yet consumed) to this chat for ``seconds``."""
        await asyncio.sleep(seconds)
        fresh = self.unseen(thread_id)
        if fresh:
            raise AssertionError(
                f"expected no new bot message in chat {self.chat_id} for {seconds}s, got:\n"
                + "\n".join("  " + m.describe() for m in fresh)
            )

    async def drain(self, quiet: float = 0.5, timeout: float = 10.0) -> list[Msg]:
        """Wait until the bot is quiet, then consume and return every unconsumed message."""
        await self.api.wait_quiet(quiet, timeout)
        fresh = self.unseen()
        self._seen.update(m.id for m in fresh)
        return fresh


class SimUser(ChatView):
    """A person: writes to the bot in private (chat id = user id) and in groups."""

    def __init__(self, api: FakeBotAPI, data: dict[str, Any]) -> None:
        super().__init__(api, int(data["id"]))
        self.data = data

    @property
    def id(self) -> int:
        """The Telegram user id."""
        return int(self.data["id"])

    @property
    def name(self) -> str:
        """First name."""
        return str(self.data["first_name"])

    def __repr__(self) -> str:
        return f"<SimUser {self.id} {self.name!r}>"

    # -------------------------------------------------------------------- plumbing

    def _chat_for(self, chat_id: int | None) -> int:
        if chat_id is None:
            self.api.chat(self.id).blocked = False  # writing to a blocked bot means unblocking it first
            return self.id
        return chat_id

    def _msg(self, ref: MessageRef | Any, chat_id: int | None = None) -> Msg:
        return resolve(self.api, ref, chat_id if chat_id is not None else self.id)

    async def _post(
        self,
        fields: dict[str, Any],
        chat_id: int | None,
        reply_to: MessageRef | None,
        thread_id: int | None,
    ) -> Msg:
        target = self._chat_for(chat_id)
        ref = self._msg(reply_to, target) if reply_to is not None else None
        msg, _ = self.api.post_incoming(target, fields, sender=self.data, reply_to=ref, thread_id=thread_id)
        await asyncio.sleep(0)
        return msg

    def _file(self, kind: str, *, name: str | None = None, mime: str | None = None, size: int = 20_000) -> dict:
        rec = self.api.register_file(kind, None, name=name, mime_type=mime, size=size)
        return self.api._media_content(kind, rec, {})

    # -------------------------------------------------------------------- writing

    async def send(
        self,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: MessageRef | None = None,
        thread_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> Msg:
        """A text message (commands, mentions and URLs get their entities, as Telegram detects them)."""
        fields: dict[str, Any] = {"text": text}
        ents = auto_entities(text) if entities is None else entities
        if ents:
            fields["entities"] = ents
        return await self._post(fields, chat_id, reply_to, thread_id)

    async def send_in(
        self, chat_id: int, text: str, *, reply_to: MessageRef | None = None, thread_id: int | None = None
    ) -> Msg:
        """A text message in a group (optionally replying to a message, e.g. a ticket card)."""
        return await self.send(text, chat_id=chat_id, reply_to=reply_to, thread_id=thread_id)

    async def start(self, payload: str | None = None) -> Msg:
        """``/start`` (with a deep-link payload if given)."""
        return await self.send("/start" + (f" {payload}" if payload else ""))

    async def command(self, name: str, args: str = "", *, chat_id: int | None = None) -> Msg:
        """``/name args``."""
        return await self.send(f"/{name.lstrip('/')}" + (f" {args}" if args else ""), chat_id=chat_id)

    async def send_photo(
        self,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        reply_to: MessageRef | None = None,
        thread_id: int | None = None,
        size: int = 65_000,
    ) -> Msg:
        """A photo (three PhotoSize entries, like Telegram)."""
        fields = self._file("photo", size=size)
        if caption:
            fields["caption"] = caption
            if ents := auto_entities(caption):
                fields["caption_entities"] = ents
        return await self._post(fields, chat_id, reply_to, thread_id)

    async def send_document(
        self,
        file_name: str = "report.pdf",
        mime_type: str | None = "application/pdf",
        size: int = 34_567,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        reply_to: MessageRef | None = None,
        thread_id: int | None = None,
    ) -> Msg:
        """A file."""
        fields = self._file("document", name=file_name, mime=mime_type, size=size)
        if caption:
            fields["caption"] = caption
        return await self._post(fields, chat_id, reply_to, thread_id)

    async def send_video(self, caption: str | None = None, *, chat_id: int | None = None) -> Msg:
        """A video."""
        fields = self._file("video", name="clip.mp4", mime="video/mp4", size=900_000)
        if caption:
            fields["caption"] = caption
        return await self._post(fields, chat_id, None, None)

    async def send_audio(
        self, caption: str | None = None, *, chat_id: int | None = None, reply_to: MessageRef | None = None
    ) -> Msg:
        """An audio file (music player kind, not a voice note)."""
        fields = self._file("audio", **ALBUM_KINDS["audio"])
        if caption:
            fields["caption"] = caption
        return await self._post(fields, chat_id, reply_to, None)

    async def send_album(
        self,
        count: int = 3,
        caption: str | None = None,
        *,
        kind: str = "photo",
        chat_id: int | None = None,
        reply_to: MessageRef | None = None,
    ) -> list[Msg]:
        """An album (media group) as Telegram delivers it: each of its 2–10 photos or videos (or documents,
        or audios, not mixed) is a message and an update of its own, all with one ``media_group_id``, in
        order; the caption is on the first part (as the apps put it)."""
        if not 2 <= count <= 10:
            raise ValueError("an album has 2-10 parts")
        if kind not in ALBUM_KINDS:
            raise ValueError(f"an album holds {sorted(ALBUM_KINDS)}, not {kind!r}")
        group = str(random.randrange(10**17, 10**18))
        parts = []
        for index in range(count):
            fields = self._file(kind, **ALBUM_KINDS[kind])
            fields["media_group_id"] = group
            if index == 0 and caption:
                fields["caption"] = caption
                if ents := auto_entities(caption):
                    fields["caption_entities"] = ents
            parts.append(await self._post(fields, chat_id, reply_to, None))
        return parts

    async def send_sticker(self, emoji: str = "👍", *, chat_id: int | None = None) -> Msg:
        """A sticker."""
        fields = self._file("sticker", size=12_000)
        fields["sticker"]["emoji"] = emoji
        return await self._post(fields, chat_id, None, None)

    async def send_voice(
        self, duration: int = 3, *, chat_id: int | None = None, reply_to: MessageRef | None = None
    ) -> Msg:
        """A voice note (optionally a reply, e.g. to a ticket card in the staff group)."""
        fields = self._file("voice", mime="audio/ogg", size=8_000)
        fields["voice"]["duration"] = duration
        return await self._post(fields, chat_id, reply_to, None)

    async def send_video_note(self, *, chat_id: int | None = None, reply_to: MessageRef | None = None) -> Msg:
        """A round video message (it has no caption)."""
        return await self._post(self._file("video_note", size=150_000), chat_id, reply_to, None)

    async def send_location(
        self, latitude: float = 55.7558, longitude: float = 37.6173, *, chat_id: int | None = None
    ) -> Msg:
        """A location."""
        return await self._post({"location": {"latitude": latitude, "longitude": longitude}}, chat_id, None, None)

    async def send_contact(
        self,
        phone: str = "+15551234567",
        own: bool = True,
        first_name: str | None = None,
        *,
        chat_id: int | None = None,
    ) -> Msg:
        """A contact card; ``own`` sets contact.user_id to this user (as the request_contact button does)."""
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name or self.name}
        if own:
            contact["user_id"] = self.id
            if "last_name" in self.data:
                contact["last_name"] = self.data["last_name"]
        return await self._post({"contact": contact}, chat_id, None, None)

    async def send_poll(
        self,
        question: str = "Lunch?",
        options: tuple[str, ...] = ("Yes", "No"),
        *,
        chat_id: int | None = None,
    ) -> Msg:
        """A regular poll."""
        poll = {
            "id": str(random.randrange(10**18)),
            "question": question,
            "options": [{"persistent_id": str(i), "text": o, "voter_count": 0} for i, o in enumerate(options)],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": True,
            "members_only": False,
        }
        return await self._post({"poll": poll}, chat_id, None, None)

    async def send_dice(self, emoji: str = "🎲", value: int | None = None, *, chat_id: int | None = None) -> Msg:
        """A dice roll."""
        return await self._post({"dice": {"emoji": emoji, "value": value or random.randint(1, 6)}}, chat_id, None, None)

    async def forward(
        self,
        text: str = "forwarded text",
        *,
        origin: SimUser | dict[str, Any] | None = None,
        hidden_name: str | None = None,
        origin_chat: dict[str, Any] | None = None,
        chat_id: int | None = None,
    ) -> Msg:
        """A forwarded text message, with forward_origin of type user / hidden_user / channel."""
        date = int(time.time()) - 3600
        if origin_chat is not None:
            fo: dict[str, Any] = {"type": "channel", "chat": origin_chat, "message_id": 42, "date": date}
        elif hidden_name is not None:
            fo = {"type": "hidden_user", "sender_user_name": hidden_name, "date": date}
        else:
            who = origin.data if isinstance(origin, SimUser) else (origin or self.data)
            fo = {"type": "user", "sender_user": copy.deepcopy(who), "date": date}
        fields: dict[str, Any] = {"forward_origin": fo, "text": text}
        if ents := auto_entities(text):
            fields["entities"] = ents
        return await self._post(fields, chat_id, None, None)

    async def reply(
        self,
        to_message: MessageRef | Any,
        text: str | None = None,
        *,
        photo: bool = False,
        document: str | None = None,
        caption: str | None = None,
        thread_id: int | None = None,
    ) -> Msg:
        """Reply (reply_to_message = the full replied message) with text, a photo, or a file ``document``."""
        target = to_message.chat.id if hasattr(to_message, "chat") else None
        if photo:
            return await self.send_photo(caption, chat_id=target, reply_to=to_message, thread_id=thread_id)
        if document:
            return await self.send_document(
                document, caption=caption, chat_id=target, reply_to=to_message, thread_id=thread_id
            )
        if text is None:
            raise ValueError("reply needs text, photo=True or document=NAME")
        return await self.send(text, chat_id=target, reply_to=to_message, thread_id=thread_id)

    async def edit(self, message: MessageRef, new_text: str) -> Msg:
        """Edit one's own text message: Telegram sends an ``edited_message`` update."""
        msg = self._msg(message)
        if msg.sender_id != self.id:
            raise AssertionError(f"{self!r} cannot edit message #{msg.id}: it was sent by {msg.sender_id}")
        msg.history.append(copy.deepcopy(msg.data))
        key = "text" if "text" in msg.data else "caption"
        msg.data[key] = new_text
        ents_key = "entities" if key == "text" else "caption_entities"
        msg.data.pop(ents_key, None)
        if ents := auto_entities(new_text):
            msg.data[ents_key] = ents
        msg.data["edit_date"] = int(time.time())
        kind = "edited_channel_post" if msg.chat.type == "channel" else "edited_message"
        self.api.enqueue(kind, msg.to_api())
        await asyncio.sleep(0)
        return msg

    # -------------------------------------------------------------------- buttons

    async def press(self, message: MessageRef, button_text: str) -> Press:
        """Press the inline button labelled ``button_text`` on the message's *current* keyboard."""
        msg = self._msg(message)
        if not msg.from_bot:
            raise AssertionError(f"message #{msg.id} was not sent by the bot; it has no inline keyboard")
        button = msg.button(button_text)
        if "callback_data" not in button:
            raise AssertionError(f"button {button_text!r} on #{msg.id} is not a callback button: {button}")
        return await self.press_data(msg, button["callback_data"])

    async def press_data(self, message: MessageRef, data: str | None) -> Press:
        """Send a callback query with arbitrary (possibly forged or stale) data for a message."""
        msg = self._msg(message)
        qid, update = self.api.new_callback_query(self.data, msg, data)
        await asyncio.sleep(0)
        return Press(self.api, qid, data, msg, update)

    async def press_reply_button(self, text: str) -> Msg:
        """Tap a reply-keyboard button: sends its text, or the own contact/location for request buttons."""
        keyboard = self.chat.reply_keyboard
        rows = (keyboard or {}).get("keyboard") or []
        buttons = [b if isinstance(b, dict) else {"text": b} for row in rows for b in row]
        hit = next((b for b in buttons if b.get("text") == text), None) or next(
            (b for b in buttons if b.get("text", "").strip().casefold() == text.strip().casefold()), None
        )
        if hit is None:
            raise AssertionError(
                f"no reply-keyboard button {text!r} in chat {self.chat_id}; shown: {self.keyboard!r}\n"
                f"{self.chat.history_text()}"
            )
        if keyboard and keyboard.get("one_time_keyboard"):
            self.chat.reply_keyboard = None
        if hit.get("request_contact"):
            return await self.send_contact(own=True)
        if hit.get("request_location"):
            return await self.send_location()
        return await self.send(hit["text"])

    def block_bot(self) -> None:
        """The user blocks the bot: further sends to them get 403."""
        self.api.block(self.id)


class SimGroup(ChatView):
    """A group or supergroup (forum or not) with the bot; people write via ``user.send_in(group.id, ...)``."""

    @property
    def id(self) -> int:
        """The chat id."""
        return self.chat_id

    def __repr__(self) -> str:
        return f"<SimGroup {self.chat_id} {self.chat.data.get('title')!r}>"

    async def anonymous_admin(
        self, text: str, *, reply_to: MessageRef | None = None, thread_id: int | None = None
    ) -> Msg:
        """A message from an anonymous admin: from = GroupAnonymousBot, sender_chat = the group."""
        ref = self._ref(reply_to)
        fields: dict[str, Any] = {"text": text}
        if ents := auto_entities(text):
            fields["entities"] = ents
        msg, _ = self.api.post_incoming(
            self.chat_id,
            fields,
            sender=GROUP_ANONYMOUS_BOT,
            sender_chat=self.chat.data,
            reply_to=ref,
            thread_id=thread_id,
        )
        await asyncio.sleep(0)
        return msg

    async def add_members(self, *users: SimUser, by: SimUser | None = None) -> Msg:
        """Service message ``new_chat_members`` (from = ``by`` or the first member, as when joining)."""
        sender = (by or users[0]).data
        msg, _ = self.api.post_incoming(
            self.chat_id, {"new_chat_members": [copy.deepcopy(u.data) for u in users]}, sender=sender
        )
        await asyncio.sleep(0)
        return msg

    async def remove_member(self, user: SimUser, by: SimUser | None = None) -> Msg:
        """Service message ``left_chat_member``."""
        msg, _ = self.api.post_incoming(
            self.chat_id, {"left_chat_member": copy.deepcopy(user.data)}, sender=(by or user).data
        )
        await asyncio.sleep(0)
        return msg

    async def create_topic(self, name: str, by: SimUser) -> int:
        """A member creates a forum topic; returns its message_thread_id."""
        chat = self.chat
        if not chat.is_forum:
            raise AssertionError(f"{self!r} is not a forum")
        msg, _ = self.api.post_incoming(
            self.chat_id, {"forum_topic_created": {"name": name, "icon_color": 7322096}}, sender=by.data
        )
        msg.data["message_thread_id"] = msg.id
        msg.data["is_topic_message"] = True
        chat.topics[msg.id] = {"message_thread_id": msg.id, "name": name, "icon_color": 7322096}
        return msg.id

    async def close_topic(self, thread_id: int, by: SimUser) -> Msg:
        """An admin closes a forum topic: Telegram refuses sends to it with TOPIC_CLOSED from now on."""
        topic = self.chat.topics[thread_id]
        topic["closed"] = True
        msg, _ = self.api.post_incoming(self.chat_id, {"forum_topic_closed": {}}, sender=by.data, thread_id=thread_id)
        await asyncio.sleep(0)
        return msg

    def delete_topic(self, thread_id: int) -> None:
        """An admin deletes a forum topic with its messages (Telegram sends no update for it): sends to the
        thread fail with "message thread not found" from now on."""
        del self.chat.topics[thread_id]
        for message in self.chat.all.values():
            if message.thread_id == thread_id:
                message.deleted = True

    @property
    def topics(self) -> dict[int, dict[str, Any]]:
        """Forum topics by thread id."""
        return self.chat.topics

    def _ref(self, ref: MessageRef | Any | None) -> Msg | None:
        return None if ref is None else resolve(self.api, ref, self.chat_id)


class SimChannel(ChatView):
    """A channel where the bot is an administrator: posts arrive as ``channel_post`` updates."""

    @property
    def id(self) -> int:
        """The chat id."""
        return self.chat_id

    async def post(self, text: str) -> Msg:
        """A channel post (sender_chat = the channel, no ``from``)."""
        fields: dict[str, Any] = {"text": text}
        if ents := auto_entities(text):
            fields["entities"] = ents
        msg, _ = self.api.post_incoming(
            self.chat_id, fields, sender=None, sender_chat=self.chat.data, kind="channel_post"
        )
        await asyncio.sleep(0)
        return msg
